#include "persistence/db.hpp"

#include "persistence/accounts_repo.hpp"
#include "persistence/db_facade.hpp"
#include "persistence/email_repo.hpp"
#include "persistence/identities_repo.hpp"
#include "persistence/media_repo.hpp"
#include "persistence/migrations.hpp"
#include "persistence/users_repo.hpp"

#include <algorithm>

namespace tandem::persistence {

namespace {

/// The facade's own operations: health, accounts, profiles, media and e-mail.
db_core::behavior_type core_handlers(db_self self) {
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
    // -- accounts ----------------------------------------------------------------
    [self](atom::create_account, const std::string& email, const std::string& hash) {
      return self->state.transact("create_account", [email, hash](pqxx::work& tx) {
        return accounts::insert(tx, email, hash);
      });
    },
    [self](atom::delete_account, const std::string& user_id) {
      return self->state.transact("delete_account", [user_id](pqxx::work& tx) {
        return accounts::remove(tx, user_id);
      });
    },
    [self](atom::find_account_by_email, const std::string& email) {
      return self->state.transact("find_account_by_email", [email](pqxx::work& tx) {
        return accounts::find_by_email(tx, email);
      });
    },
    [self](atom::map_external, const std::string& issuer, const std::string& subject) {
      return self->state.transact("map_external", [issuer, subject](pqxx::work& tx) {
        return identities::map_external(tx, issuer, subject);
      });
    },
    // -- profiles (their writes are in the social area: each user's actor makes them) --
    [self](atom::load_users, const std::vector<std::string>& ids) {
      return self->state.transact("load_users",
                                  [ids](pqxx::work& tx) { return users::load_many(tx, ids); });
    },
    // -- media and e-mail --------------------------------------------------------
    [self](atom::image_extensions, const std::vector<std::string>& user_ids) {
      return self->state.transact("profile_image_extensions", [user_ids](pqxx::work& tx) {
        return media_repo::profile_image_extensions(tx, user_ids);
      });
    },
    [self](atom::enqueue_email, const invitation& inv) {
      return self->state.transact("enqueue_email",
                                  [inv](pqxx::work& tx) { return email_repo::enqueue(tx, inv); });
    },
    [self](atom::claim_emails, int32_t batch, int64_t lease_ms) {
      return self->state.transact("claim_emails", [batch, lease_ms](pqxx::work& tx) {
        return email_repo::claim(tx, batch, lease_ms);
      });
    },
    [self](atom::settle_email, const email_settlement& s) {
      return self->state.transact("settle_email",
                                  [s](pqxx::work& tx) { return email_repo::settle(tx, s); });
    },
  };
}

/// The behaviors of the areas as one. Each was checked against its own interface, and
/// db_actor is exactly their union (db_core extended by the areas' interfaces).
db_actor::behavior_type join(db_core::behavior_type core, social_area::behavior_type social,
                             chat_area::behavior_type chat, lease_db::behavior_type lease) {
  auto handlers = [](auto& area) { return caf::message_handler{area.unbox().as_behavior_impl()}; };
  return {db_actor::behavior_type::unsafe_init{}, handlers(core)
                                                    .or_else(handlers(social))
                                                    .or_else(handlers(chat))
                                                    .or_else(handlers(lease))};
}

db_actor::behavior_type db_impl(db_self self, config::db_config cfg, caf::timespan job_deadline,
                                std::shared_ptr<pool_gauges> gauges) {
  auto size = static_cast<std::size_t>(std::max(cfg.pool_size, 1));
  pool_settings settings{"db", size, cfg.queue_limit, job_deadline, cfg.max_expensive_per_user};
  settings.gauges = std::move(gauges);
  // The share worker (db_social.cpp) is made like the pool's.
  self->state.make_worker = db_worker_factory(cfg);
  self->state.pool.emplace(self, std::move(settings), self->state.make_worker);
  self->state.share_queue_limit = cfg.queue_limit;
  self->state.share_deadline = job_deadline;
  return join(core_handlers(self), social_handlers(self), chat_handlers(self),
              lease_handlers(self));
}

} // namespace

db_actor spawn_db(caf::actor_system& sys, const config::db_config& cfg,
                  caf::timespan job_deadline, std::shared_ptr<pool_gauges> gauges) {
  return sys.spawn(db_impl, cfg, job_deadline, std::move(gauges));
}

} // namespace tandem::persistence
