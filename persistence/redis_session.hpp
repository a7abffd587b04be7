// The Redis side of the worker pool: a session owning one synchronous hiredis
// context, opened lazily and reopened with backoff.
#pragma once

#include "config/app_config.hpp"
#include "common/backoff.hpp"
#include "persistence/worker_pool.hpp"

#include <memory>
#include <string>
#include <vector>

struct redisContext;

namespace tandem::persistence {

/// hiredis writes with plain write(): a peer that went away would raise SIGPIPE and
/// end the process. Blocked in the calling thread, the write fails with EPIPE instead.
void block_sigpipe_in_this_thread();

/// What a Redis worker owns: at most one connection. Blocking: used only on a
/// detached worker's thread.
class redis_session {
public:
  explicit redis_session(config::redis_config cfg);

  /// Runs one command given as its arguments (binary safe). Errors:
  /// `errc::redis_unavailable` when not connected, on I/O errors and timeouts (the
  /// connection is then dropped, to be reopened by the next job),
  /// `errc::redis_error` for an error reply (its text is the error's context),
  /// `errc::invalid_request` for an empty command.
  caf::expected<redis_reply> command(const std::vector<std::string>& args);

  /// Runs several commands in one round trip (pipelined: all written, then all replies
  /// read), one reply each, in order; an error reply is a reply of kind `error`. Errors
  /// as for `command`, for the whole pipeline (an I/O error leaves it unknown which
  /// commands ran).
  caf::expected<std::vector<redis_reply>>
  pipeline(const std::vector<std::vector<std::string>>& commands);

  /// Runs `job`, connecting first if needed: a failed attempt fails the job with
  /// `errc::redis_unavailable`, and so does every job during the backoff window
  /// after it.
  completion execute(const pool_job<redis_session>& job);

private:
  struct context_deleter {
    void operator()(redisContext* ctx) const;
  };

  /// Opens the connection unless open; an error while the server is unreachable.
  caf::error ensure_connected();

  config::redis_config cfg_;
  std::unique_ptr<redisContext, context_deleter> ctx_;
  reconnect_backoff backoff_;
};

/// Spawns detached Redis workers: synchronous hiredis blocks its thread.
worker_factory<redis_session> redis_worker_factory(config::redis_config cfg);

} // namespace tandem::persistence
