// The fakes' table key_owners and the leases of cluster_nodes (docs/cluster.md,
// Ownership), as persistence/ownership_repo.cpp keeps them in PostgreSQL; the contract
// tests hold both to the same scenarios.
#pragma once

#include "vocabulary/messages.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tandem_test {

struct fake_key_owners {
  struct owner {
    tandem::node_identity node; ///< id "" once released
    int64_t epoch = 0;
  };
  std::map<std::string, owner> owners;
  /// The nodes whose lease lives: cluster_nodes rows with lease_expires_at > now().
  std::map<std::string, int64_t> live;
  int claims = 0;
  /// Releases the fake database fails (db_unavailable) before it takes them again.
  int failing_releases = 0;

  caf::expected<int64_t> claim(const std::string& key, const tandem::node_identity& self) {
    ++claims;
    auto i = owners.find(key);
    if (i == owners.end())
      return (owners[key] = {self, 1}).epoch;
    auto& o = i->second;
    auto lease = live.find(o.node.id);
    bool leased = lease != live.end() && lease->second == o.node.incarnation;
    if (o.node != self && leased)
      return caf::make_error(tandem::errc::moved, "Owned by another node");
    o.node = self;
    return ++o.epoch;
  }

  /// The error of a release while `failing_releases` lasts (counting it), else none.
  caf::error failed_release() {
    if (failing_releases == 0)
      return caf::none;
    --failing_releases;
    return caf::make_error(tandem::errc::db_unavailable, "The database is down");
  }

  /// A release as the fake database answers it: failing while `failing_releases` lasts.
  caf::expected<bool> release_request(const std::string& key, const tandem::node_identity& self,
                                      int64_t epoch) {
    if (auto err = failed_release())
      return err;
    return release(key, self, epoch);
  }

  bool release(const std::string& key, const tandem::node_identity& self, int64_t epoch) {
    auto i = owners.find(key);
    if (i == owners.end() || i->second.node != self || i->second.epoch != epoch)
      return false;
    i->second.node = {};
    return true;
  }

  /// The keys `node` still owns after `after`, with their epochs, at most `limit`, by key.
  std::vector<tandem::owned_key> owned_by(const tandem::node_identity& node,
                                          const std::string& after, int32_t limit) const {
    std::vector<tandem::owned_key> out;
    for (auto i = owners.upper_bound(after);
         i != owners.end() && out.size() < static_cast<std::size_t>(limit); ++i)
      if (i->second.node == node)
        out.push_back({i->first, i->second.epoch});
    return out;
  }

  /// A release of many keys in one request, as the fake databases answer it: failing as
  /// one release does.
  caf::result<int32_t> release_all_request(const std::vector<tandem::owned_key>& keys,
                                           const tandem::node_identity& self) {
    if (auto err = failed_release())
      return err;
    int32_t released = 0;
    for (const auto& k : keys)
      released += release(k.key, self, k.epoch) ? 1 : 0;
    return released;
  }

  /// What a write fenced by `f` gets: none when it may commit (epoch 0: no fence).
  caf::error check(const tandem::write_fence& f) const {
    if (f.epoch == 0 || holds(f.key, f.epoch))
      return caf::none;
    return caf::make_error(tandem::errc::moved, "The user moved to another node");
  }

  /// Whether a write of `key` with `epoch` may commit.
  bool holds(const std::string& key, int64_t epoch) const {
    auto i = owners.find(key);
    return i != owners.end() && !i->second.node.id.empty() && i->second.epoch == epoch;
  }
};

} // namespace tandem_test
