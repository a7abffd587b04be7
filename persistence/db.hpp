// The database facade: a typed actor in domain terms over a bounded pool of
// detached workers, each owning one libpqxx connection (docs/architecture.md, Actors).
#pragma once

#include "vocabulary/messages.hpp"
#include "config/app_config.hpp"
#include "persistence/chat_db.hpp"
#include "persistence/lease_db.hpp"
#include "persistence/social_db.hpp"
#include "persistence/worker_pool.hpp"

namespace tandem::persistence {

/// The typed interface every caller uses, by request with a timeout from an actor
/// (never from an io thread). Errors: `errc::overloaded` when the queue is full or its
/// wait would exceed the deadline, `errc::rate_limited` past a user's bound on searches,
/// `errc::db_unavailable`, `errc::db_timeout`, `errc::db_query_failed`, and
/// `already_exists` / `not_found` / `invalid_request` for constraint violations.
///
/// A new operation is one signature in its area's interface (below, or social_db.hpp,
/// chat_db.hpp) plus one handler in its area's file (db.cpp, db_social.cpp, db_chat.cpp):
///   [self](atom::load_users, const std::vector<std::string>& ids) {
///     return self->state.transact("load_users",
///                                 [ids](pqxx::work& tx) { return users::load_many(tx, ids); });
///   },
///
/// The facade's own operations: health, accounts, profiles, media and e-mail.
using db_core = caf::typed_actor<
  /// Round-trips `SELECT 1`; replies true.
  caf::replies_to<atom::ping>::with<bool>,
  /// Replies the highest applied migration version (0 when none).
  caf::replies_to<atom::migrations>::with<int>,
  /// Replies the pool's current load (never queued: answered by the facade).
  caf::replies_to<atom::stats>::with<pool_stats>
  // Each entry opens with its comma, so that every area adds its own lines only.
  // -- accounts ------------------------------------------------------------------
  /// Inserts a login (email, argon2id hash) with a new user id and replies it;
  /// `errc::already_exists` when the email is taken in any letter case.
  , caf::replies_to<atom::create_account, std::string, std::string>::with<account>
  /// Removes the login of a user id again (a registration that could not be answered);
  /// replies whether there was one.
  , caf::replies_to<atom::delete_account, std::string>::with<bool>
  /// Replies the login of an email compared case-insensitively; `errc::not_found`.
  , caf::replies_to<atom::find_account_by_email, std::string>::with<account>
  /// Replies the Tandem user id of the external identity (issuer, subject), minted
  /// on its first sight.
  , caf::replies_to<atom::map_external, std::string, std::string>::with<std::string>
  // -- profiles (their writes are in social_db: each user's actor makes them) ---------
  /// Replies the profiles of those ids that exist, each once, in request order.
  , caf::replies_to<atom::load_users, std::vector<std::string>>::with<std::vector<user_profile>>
  // -- media and e-mail ----------------------------------------------------------
  /// Replies the stored image extension of each user id, in request order ("" for a
  /// user without an image or profile).
  , caf::replies_to<atom::image_extensions, std::vector<std::string>>::with<std::vector<std::string>>
  /// Queues an invitation e-mail in email_outbox and replies its id.
  , caf::replies_to<atom::enqueue_email, invitation>::with<int64_t>
  /// Claims up to `batch` due outbox rows for `lease_ms` (email_repo::claim).
  , caf::replies_to<atom::claim_emails, int32_t, int64_t>::with<std::vector<outbox_email>>
  /// Marks a claimed outbox row sent, due again or failed, releasing its claim; replies
  /// whether the row was changed (email_repo::settle).
  , caf::replies_to<atom::settle_email, email_settlement>::with<bool>
  // -- social graph and share notifications ----------------------------------------
  // social_db and social_queries (persistence/social_db.hpp), chat_db and chat_queries
  // (persistence/chat_db.hpp) and lease_db (persistence/lease_db.hpp), joined by
  // extend_with below.
  >;

/// Every operation: the facade's own, then those of the social graph, of chat and of
/// the cluster's leases.
using db_actor = db_core::extend_with<social_db, social_queries, chat_db, chat_queries, lease_db>;

/// Spawns the facade and its `cfg.pool_size` workers. The workers connect
/// lazily and reconnect by themselves with backoff. `job_deadline` is how long a
/// caller waits (http.request_timeout_ms): a job that waited that long is dropped
/// unrun, and one that would is refused at once; zero for no deadline. The pool
/// publishes its load in `gauges`, if given.
db_actor spawn_db(caf::actor_system& sys, const config::db_config& cfg,
                  caf::timespan job_deadline, std::shared_ptr<pool_gauges> gauges = nullptr);

} // namespace tandem::persistence
