// What nodes of a cluster say about themselves and each other (docs/cluster.md).
#pragma once

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>

namespace tandem {

/// One run of one node: its configured name, and a number new at every start, so that
/// what a previous run owned is never mistaken for this run's.
struct node_identity {
  std::string id;
  int64_t incarnation = 0;
};

inline bool operator==(const node_identity& x, const node_identity& y) {
  return x.id == y.id && x.incarnation == y.incarnation;
}

inline bool operator!=(const node_identity& x, const node_identity& y) {
  return !(x == y);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_identity& x) {
  return f(caf::meta::type_name("node_identity"), x.id, x.incarnation);
}

} // namespace tandem
