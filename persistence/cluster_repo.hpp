// SQL of the cluster's leases (cluster_nodes, docs/cluster.md): free functions over one
// transaction, called by the database facade's workers. Every time is the database's
// (now(), the transaction's start), never a node's clock.
#pragma once

#include "vocabulary/membership_types.hpp"

#include <pqxx/pqxx>

#include <cstdint>
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

/// Deletes the row of `self` (this incarnation only); replies whether there was one.
bool drop(pqxx::work& tx, const node_identity& self);

} // namespace tandem::persistence::cluster_repo
