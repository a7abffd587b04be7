#include "persistence/db.hpp"

#include "persistence/accounts_repo.hpp"
#include "persistence/chat_repo.hpp"
#include "persistence/db_session.hpp"
#include "persistence/email_repo.hpp"
#include "persistence/identities_repo.hpp"
#include "persistence/media_repo.hpp"
#include "persistence/migrations.hpp"
#include "persistence/social_repo.hpp"
#include "persistence/users_repo.hpp"

#include <algorithm>

namespace tandem::persistence {

namespace {

struct db_state {
  std::optional<worker_pool<db_session, db_actor::base>> pool;

  /// Runs `fn(pqxx::work&)` as one transaction on a worker; see submit_transaction.
  /// An expensive read names the user it runs for, whose concurrent ones are bounded.
  template <class F>
  auto transact(std::string operation, F fn, std::string expensive_for = {}) {
    return submit_transaction(*pool, std::move(operation), std::move(fn),
                              std::move(expensive_for));
  }

  static inline const char* name = "tandem.db";
};

db_actor::behavior_type db_impl(db_actor::stateful_pointer<db_state> self,
                                config::db_config cfg, caf::timespan job_deadline) {
  auto size = static_cast<std::size_t>(std::max(cfg.pool_size, 1));
  self->state.pool.emplace(self,
                           pool_settings{"db", size, cfg.queue_limit, job_deadline,
                                         cfg.max_expensive_per_user},
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
    // -- profiles ----------------------------------------------------------------
    [self](atom::create_user, const new_profile& p) {
      return self->state.transact("create_user",
                                  [p](pqxx::work& tx) { return users::insert(tx, p); });
    },
    [self](atom::load_users, const std::vector<std::string>& ids) {
      return self->state.transact("load_users",
                                  [ids](pqxx::work& tx) { return users::load_many(tx, ids); });
    },
    [self](atom::update_user, const identity& who, const profile_update& u) {
      return self->state.transact(
        "update_user", [who, u](pqxx::work& tx) { return users::update(tx, who, u); });
    },
    [self](atom::set_domains, const std::string& id, domain_list which,
           const std::vector<std::string>& domains) {
      return self->state.transact("set_domains", [id, which, domains](pqxx::work& tx) {
        return users::set_domains(tx, id, which, domains);
      });
    },
    // -- media and e-mail --------------------------------------------------------
    // -- chat ----------------------------------------------------------------------
    [self](atom::load_conversation, const std::string& id, int32_t recent_limit) {
      return self->state.transact("load_conversation", [id, recent_limit](pqxx::work& tx) {
        return chat::load(tx, id, recent_limit);
      });
    },
    [self](atom::insert_messages, const std::vector<chat_message>& batch) {
      return self->state.transact("insert_messages",
                                  [batch](pqxx::work& tx) { return chat::insert(tx, batch); });
    },
    [self](atom::find_message, const std::string& id, const std::string& sender,
           const std::string& temp_id) {
      return self->state.transact("find_sent_message", [id, sender, temp_id](pqxx::work& tx) {
        return chat::find_sent(tx, id, sender, temp_id);
      });
    },
    [self](atom::store_read_cursor, const std::string& id, const std::string& user, int64_t seq) {
      return self->state.transact("move_read_cursor", [id, user, seq](pqxx::work& tx) {
        chat::move_cursor(tx, id, user, seq);
        return true;
      });
    },
    [self](atom::remove_participant, const std::string& id, const std::string& user) {
      return self->state.transact("leave_conversation",
                                  [id, user](pqxx::work& tx) { return chat::leave(tx, id, user); });
    },
    [self](atom::create_conversation, const new_conversation& c) {
      return self->state.transact("create_conversation",
                                  [c](pqxx::work& tx) { return chat::create(tx, c); });
    },
    [self](atom::direct_conversation, const std::string& a, const std::string& b) {
      return self->state.transact("find_direct_conversation",
                                  [a, b](pqxx::work& tx) { return chat::find_direct(tx, a, b); });
    },
    [self](atom::list_conversations, const std::string& user, int8_t is_read, int32_t limit,
           int32_t offset) {
      return self->state.transact("list_conversations",
                                  [user, is_read, limit, offset](pqxx::work& tx) {
                                    return chat::list(tx, user, is_read, limit, offset);
                                  });
    },
    [self](atom::get_conversation_info, const std::string& caller, const std::string& id) {
      return self->state.transact("conversation_info", [caller, id](pqxx::work& tx) {
        return chat::info(tx, caller, id);
      });
    },
    [self](atom::message_history, const std::string& caller, const std::string& id,
           const message_query& q) {
      return self->state.transact("conversation_messages", [caller, id, q](pqxx::work& tx) {
        return chat::page(tx, caller, id, q);
      });
    },
    [self](atom::list_participants, const std::string& caller, const std::string& id) {
      return self->state.transact("conversation_participants", [caller, id](pqxx::work& tx) {
        return chat::participants(tx, caller, id);
      });
    },
    // -- social graph and share notifications -----------------------------------
    [self](atom::load_social, const std::string& user, int32_t unread_limit) {
      return self->state.transact("load_social", [user, unread_limit](pqxx::work& tx) {
        return social::load(tx, user, unread_limit);
      });
    },
    [self](atom::commit_friendship, const friendship_command& cmd, const friendship_limits& limits) {
      return self->state.transact("friendship_write", [cmd, limits](pqxx::work& tx) {
        return social::commit(tx, cmd, limits);
      });
    },
    [self](atom::decline_requests, const std::string& user) {
      return self->state.transact("decline_friend_requests",
                                  [user](pqxx::work& tx) { return social::decline_all(tx, user); });
    },
    [self](atom::purge_expired_requests, int32_t batch) {
      return self->state.transact("purge_friend_requests", [batch](pqxx::work& tx) {
        return social::purge_expired(tx, batch);
      });
    },
    [self](atom::insert_share, const std::string& sender, const share_request& req) {
      return self->state.transact("insert_share", [sender, req](pqxx::work& tx) {
        return social::insert_share(tx, sender, req);
      });
    },
    [self](atom::mark_shares, const std::string& user, const std::vector<std::string>& ids,
           int32_t unread_limit) {
      return self->state.transact("mark_shares_read", [user, ids, unread_limit](pqxx::work& tx) {
        return social::mark_read(tx, user, ids, unread_limit);
      });
    },
    [self](atom::fetch_shares, const share_query& q) {
      return self->state.transact("fetch_shares",
                                  [q](pqxx::work& tx) { return social::fetch_shares(tx, q); });
    },
    [self](atom::search_users, const user_search& s) {
      return self->state.transact(
        "search_users", [s](pqxx::work& tx) { return social::search_users(tx, s); }, s.caller);
    },
    [self](atom::search_relations, const user_search& s) {
      return self->state.transact(
        "search_friends", [s](pqxx::work& tx) { return social::search_friends(tx, s); }, s.caller);
    },
    [self](atom::sent_shares, const std::string& sender, const list_window& page) {
      return self->state.transact("sent_shares", [sender, page](pqxx::work& tx) {
        return social::sent_shares(tx, sender, page);
      });
    },
    [self](atom::set_image, const std::string& user_id, const std::string& ext) {
      return self->state.transact("set_profile_image", [user_id, ext](pqxx::work& tx) {
        return media_repo::set_profile_image(tx, user_id, ext);
      });
    },
    [self](atom::clear_image, const std::string& user_id) {
      return self->state.transact("clear_profile_image", [user_id](pqxx::work& tx) {
        return media_repo::clear_profile_image(tx, user_id);
      });
    },
    [self](atom::image_extensions, const std::vector<std::string>& user_ids) {
      return self->state.transact("profile_image_extensions", [user_ids](pqxx::work& tx) {
        return media_repo::profile_image_extensions(tx, user_ids);
      });
    },
    [self](atom::enqueue_email, const invitation& inv) {
      return self->state.transact("enqueue_email",
                                  [inv](pqxx::work& tx) { return email_repo::enqueue(tx, inv); });
    },
  };
}

} // namespace

db_actor spawn_db(caf::actor_system& sys, const config::db_config& cfg,
                  caf::timespan job_deadline) {
  return sys.spawn(db_impl, cfg, job_deadline);
}

} // namespace tandem::persistence
