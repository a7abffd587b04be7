// The database facade: a typed actor in domain terms over a bounded pool of
// detached workers, each owning one libpqxx connection (design.md section 2).
#pragma once

#include "actors/messages.hpp"
#include "config/app_config.hpp"
#include "persistence/worker_pool.hpp"

namespace tandem::persistence {

/// The typed interface every caller uses, by request with a timeout from an actor
/// (never from an io thread). Errors: `errc::overloaded` when the queue is full,
/// `errc::db_unavailable`, `errc::db_timeout`, `errc::db_query_failed`, and
/// `already_exists` / `not_found` / `invalid_request` for constraint violations.
///
/// A new operation is one signature here plus one handler in db.cpp:
///   [self](atom::load_user, const std::string& id) {
///     return self->state.transact("load_user",
///                                 [id](pqxx::work& tx) { return users::load(tx, id); });
///   },
using db_actor = caf::typed_actor<
  /// Round-trips `SELECT 1`; replies true.
  caf::replies_to<atom::ping>::with<bool>,
  /// Replies the highest applied migration version (0 when none).
  caf::replies_to<atom::migrations>::with<int>,
  /// Replies the pool's current load (never queued: answered by the facade).
  caf::replies_to<atom::stats>::with<pool_stats>>;

/// Spawns the facade and its `cfg.pool_size` workers. The workers connect
/// lazily and reconnect by themselves with backoff.
db_actor spawn_db(caf::actor_system& sys, const config::db_config& cfg);

} // namespace tandem::persistence
