#include "persistence/db.hpp"

#include "persistence/db_worker.hpp"
#include "persistence/migrations.hpp"

#include <algorithm>

namespace tandem::persistence {

namespace {

struct db_state {
  std::optional<worker_pool<db_session, db_actor::base>> pool;

  /// Runs `fn(pqxx::work&)` as one transaction on a worker; see submit_transaction.
  template <class F>
  auto transact(std::string operation, F fn) {
    return submit_transaction(*pool, std::move(operation), std::move(fn));
  }

  static inline const char* name = "tandem.db";
};

db_actor::behavior_type db_impl(db_actor::stateful_pointer<db_state> self,
                                config::db_config cfg) {
  auto size = static_cast<std::size_t>(std::max(cfg.pool_size, 1));
  self->state.pool.emplace(self, pool_settings{"db", size, cfg.queue_limit},
                           db_worker_factory(cfg));
  // One handler per operation: its name, then its work inside one transaction.
  return {
    [self](atom::ping) {
      return self->state.transact("ping", [](pqxx::work& tx) {
        return tx.exec1("SELECT 1")[0].as<int>() == 1;
      });
    },
    [self](atom::migrations) {
      return self->state.pool->submit("migrations", [](db_session& s) {
        return applied_migration_version(s.connection());
      });
    },
    [self](atom::stats) { return self->state.pool->stats(); },
  };
}

} // namespace

db_actor spawn_db(caf::actor_system& sys, const config::db_config& cfg) {
  return sys.spawn(db_impl, cfg);
}

} // namespace tandem::persistence
