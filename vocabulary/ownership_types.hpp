// What fenced writes carry and answer when Tandem runs as a cluster (docs/cluster.md,
// Ownership).
#pragma once

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

/// The outcome of one fenced batch of chat messages: the ids of the messages inserted
/// (a resent tempMessageId is skipped, as without the fence) and the conversations whose
/// epoch had moved on, none of whose rows were stored.
struct fenced_batch {
  std::vector<std::string> inserted;
  std::vector<std::string> fenced;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fenced_batch& x) {
  return f(caf::meta::type_name("fenced_batch"), x.inserted, x.fenced);
}

/// The claim a user actor's write is fenced by: its user's key and the epoch it was
/// claimed with; epoch 0 on a single node, where nothing is fenced.
struct write_fence {
  std::string key;
  int64_t epoch = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_fence& x) {
  return f(caf::meta::type_name("write_fence"), x.key, x.epoch);
}

/// A key a node owns and the epoch of its claim, as the node's sweep pages through
/// key_owners and releases them: the same pair that fences the key's writes.
using owned_key = write_fence;

} // namespace tandem
