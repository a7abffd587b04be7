// The Redis facade: a typed actor over a bounded pool of detached workers,
// each owning one synchronous hiredis connection that reconnects by itself.
#pragma once

#include "vocabulary/messages.hpp"
#include "config/app_config.hpp"
#include "persistence/worker_pool.hpp"

namespace tandem::persistence {

/// Errors: `errc::overloaded` when the queue is full, `errc::redis_unavailable`
/// when Redis cannot be reached or a command times out, `errc::redis_error`
/// for an error reply (its text in the error's context).
using redis_actor = caf::typed_actor<
  /// Sends PING; replies true.
  caf::replies_to<atom::ping>::with<bool>,
  /// Runs one command given as its arguments (binary safe), e.g. {"SET", "k", "v"}.
  /// An empty command fails with `errc::invalid_request`.
  caf::replies_to<atom::command, std::vector<std::string>>::with<redis_reply>,
  /// Runs several commands in one round trip (pipelined), one reply each in order; an
  /// error reply is a reply of kind `error`, an I/O error fails them all.
  caf::replies_to<atom::command, std::vector<std::vector<std::string>>>::with<
    std::vector<redis_reply>>,
  /// Replies the pool's current load (never queued: answered by the facade).
  caf::replies_to<atom::stats>::with<pool_stats>>;

/// Spawns the facade and its `cfg.pool_size` workers. The workers connect
/// lazily and reconnect by themselves with backoff. The pool publishes its load in
/// `gauges`, if given.
redis_actor spawn_redis(caf::actor_system& sys, const config::redis_config& cfg,
                        std::shared_ptr<pool_gauges> gauges = nullptr);

} // namespace tandem::persistence
