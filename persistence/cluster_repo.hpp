// SQL of the cluster's leases (cluster_nodes, docs/cluster.md): free functions over one
// transaction, called by the database facade's workers. Every time is the database's
// (now(), the transaction's start), never a node's clock.
#pragma once

#include "vocabulary/membership_types.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem::persistence::cluster_repo {

/// Inserts or renews the lease of `self` until now() + `lease_ms`, with `address`; a row
/// of another incarnation of the same node id is replaced (a restarted node), its
/// started_at reset. Then reads the live set.
lease_renewal renew(pqxx::work& tx, const node_identity& self, const std::string& address,
                    int32_t lease_ms);

/// Every node whose lease has not ended at now(), by node id.
std::vector<cluster_node> live(pqxx::work& tx);

/// A live lease as one reading of it: which incarnation holds it, and until when (the
/// database's timestamp, as text: readings are only compared for equality).
struct lease_reading {
  int64_t incarnation = 0;
  std::string expires_at;

  bool operator==(const lease_reading& other) const {
    return incarnation == other.incarnation && expires_at == other.expires_at;
  }
};

/// The lease of `node_id` if it has not ended at now().
std::optional<lease_reading> live_lease(pqxx::work& tx, const std::string& node_id);

/// Deletes the row of `self` (this incarnation only); replies whether there was one.
bool drop(pqxx::work& tx, const node_identity& self);

} // namespace tandem::persistence::cluster_repo
