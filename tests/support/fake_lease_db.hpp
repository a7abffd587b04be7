// An in-memory fake of `persistence::lease_db` for the membership tests, on the actor
// clock (virtual time under CAF's test scheduler) as its "database clock". The contract
// tests (tests/persistence/lease_contract.hpp) run the same scenarios against it and
// against the database actor on PostgreSQL, so that it cannot drift from the SQL.
// Beyond the contract, a test can make it fail or stall every renewal.
#pragma once

#include "persistence/lease_db.hpp"

#include <caf/all.hpp>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tandem_test {

using namespace tandem;

struct fake_lease_store {
  struct row {
    int64_t incarnation = 0;
    std::string address;
    caf::actor_clock::time_point expires;
  };

  std::map<std::string, row> rows; ///< by node id, as the live set is ordered
  int renewals = 0;                ///< renewals asked for, answered or not
  int drops = 0;
  caf::error fail;    ///< when set, every renewal fails with it
  bool stall = false; ///< when set, renewals wait in `held` until the fake gets atom::flush
  std::vector<std::function<void()>> held;

  std::vector<cluster_node> live(caf::actor_clock::time_point now) const {
    std::vector<cluster_node> out;
    for (const auto& [id, r] : rows)
      if (r.expires > now)
        out.push_back(cluster_node{node_identity{id, r.incarnation}, r.address});
    return out;
  }

  lease_renewal renew(caf::actor_clock::time_point now, const node_identity& node,
                      const std::string& address, int32_t lease_ms) {
    lease_renewal out;
    auto& r = rows[node.id];
    if (r.incarnation != 0 && r.incarnation != node.incarnation && r.expires > now)
      out.displaced = r.incarnation;
    r = row{node.incarnation, address, now + std::chrono::milliseconds{lease_ms}};
    out.live = live(now);
    return out;
  }
};

/// The fake's handle: lease_db, and `atom::flush`, which runs the stalled renewals now (on
/// the clock of now) and answers them from the fake's own context.
using fake_lease_actor = persistence::lease_db::extend<caf::reacts_to<atom::flush>>;

inline fake_lease_actor::behavior_type fake_lease_db(fake_lease_actor::pointer self,
                                                     fake_lease_store* store) {
  return {
    [=](atom::flush) {
      auto xs = std::exchange(store->held, {});
      for (auto& f : xs)
        f();
    },
    [=](atom::renew_lease, const node_identity& node, const std::string& address,
        int32_t lease_ms) -> caf::result<lease_renewal> {
      ++store->renewals;
      if (store->fail)
        return store->fail;
      if (!store->stall)
        return store->renew(self->clock().now(), node, address, lease_ms);
      auto rp = self->make_response_promise<lease_renewal>();
      store->held.emplace_back([=]() mutable {
        rp.deliver(store->renew(self->clock().now(), node, address, lease_ms));
      });
      return rp;
    },
    [=](atom::drop_lease, const node_identity& node) {
      ++store->drops;
      auto i = store->rows.find(node.id);
      if (i == store->rows.end() || i->second.incarnation != node.incarnation)
        return false;
      store->rows.erase(i);
      return true;
    },
  };
}

} // namespace tandem_test
