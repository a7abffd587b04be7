// The database facade's lease operations (lease_db): one handler each, its name, then
// its work inside one transaction.
#include "persistence/cluster_repo.hpp"
#include "persistence/db_facade.hpp"

namespace tandem::persistence {

lease_db::behavior_type lease_handlers(db_self self) {
  return {
    [self](atom::renew_lease, const node_identity& node, const std::string& address,
           int32_t lease_ms) {
      return self->state.transact("renew_lease", [node, address, lease_ms](pqxx::work& tx) {
        return cluster_repo::renew(tx, node, address, lease_ms);
      });
    },
    [self](atom::drop_lease, const node_identity& node) {
      return self->state.transact("drop_lease",
                                  [node](pqxx::work& tx) { return cluster_repo::drop(tx, node); });
    },
  };
}

} // namespace tandem::persistence
