// The database operations of cluster membership (docs/cluster.md, Membership): the
// narrow interface the membership actor holds, so that its tests can put a fake behind
// it. Implemented by the database facade (persistence/db.hpp) on its worker pool.
#pragma once

#include "vocabulary/messages.hpp"

#include <cstdint>
#include <string>

namespace tandem::persistence {

/// Leases of the nodes in cluster_nodes, on the database's clock. Besides the errors of
/// every database operation (see `db_actor`), nothing.
using lease_db = caf::typed_actor<
  /// Inserts or renews the lease of a node (identity, advertised address) until the
  /// database's now() plus `lease_ms`, replacing a row of another incarnation, and
  /// replies the live set after it.
  caf::replies_to<atom::renew_lease, node_identity, std::string, int32_t>::with<lease_renewal>,
  /// Deletes the row of this incarnation (a drained node); replies whether there was one.
  caf::replies_to<atom::drop_lease, node_identity>::with<bool>>;

} // namespace tandem::persistence
