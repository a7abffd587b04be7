// argon2id password hashing on a bounded pool of detached workers: a hash costs tens
// of milliseconds of CPU and memory by design, so it never runs on an io thread or a
// scheduler thread (docs/architecture.md, Threads).
#pragma once

#include "vocabulary/messages.hpp"
#include "config/app_config.hpp"
#include "persistence/worker_pool.hpp"

#include <cstdint>
#include <string>

namespace tandem {

/// argon2id costs; parallelism is always 1.
struct argon2_params {
  uint32_t memory_kib = 19456;
  uint32_t iterations = 2;
};

/// Hashes `password` with argon2id, a fresh random 16-byte salt and a 32-byte tag, and
/// returns the PHC string (`$argon2id$v=19$m=...`). Blocks for the whole hash. Throws
/// `std::runtime_error` when libargon2 fails (e.g. cannot allocate its memory).
std::string hash_password(const std::string& password, const argon2_params& params);

/// Whether `password` matches the PHC string `encoded` (its own costs apply). False
/// for a mismatch and for a malformed `encoded` (logged). Blocks for the whole hash.
bool verify_password(const std::string& encoded, const std::string& password);

/// What a hashing worker owns: the costs and a hash of a random password, verified
/// against when an email is unknown so that a login costs the same either way.
class password_session {
public:
  /// Computes the dummy hash: runs on the worker's own thread as it starts.
  explicit password_session(argon2_params params);

  /// Runs `job`; an exception becomes `errc::internal` (logged).
  persistence::completion execute(const persistence::pool_job<password_session>& job);

  /// `hash_password` with this session's costs.
  std::string hash(const std::string& password) const;

  /// `verify_password`, or, when `encoded` is empty, the same work against the dummy
  /// hash, answering false.
  bool verify(const std::string& encoded, const std::string& password) const;

private:
  argon2_params params_;
  std::string dummy_;
};

/// Most hashes registrations may have running or waiting at once: the workers less
/// `auth.hasher_login_reserve`, at least one. Logins keep the rest of the workers and
/// of the queue, so that a flood of registrations never refuses a login.
std::size_t registration_share(const config::auth_config& cfg);

/// The hashing facade. Errors: `errc::overloaded` when `auth.hasher_queue_limit`
/// hashes already wait, or (hash_password) when registrations hold their whole share;
/// `errc::internal` when libargon2 fails.
using password_hasher_actor = caf::typed_actor<
  /// Replies the argon2id PHC string of a password (for a registration).
  caf::replies_to<atom::hash_password, std::string>::with<std::string>,
  /// (encoded, password): replies whether they match; an empty `encoded` does the
  /// same work and replies false (unknown email).
  caf::replies_to<atom::verify_password, std::string, std::string>::with<bool>,
  /// Replies the pool's current load (never queued).
  caf::replies_to<atom::stats>::with<persistence::pool_stats>>;

/// Spawns the facade and `auth.hasher_threads` detached workers with the costs
/// `auth.argon2_memory_kib` and `auth.argon2_iterations`. The pool publishes its load
/// in `gauges`, if given.
password_hasher_actor spawn_password_hasher(
  caf::actor_system& sys, const config::auth_config& cfg,
  std::shared_ptr<persistence::pool_gauges> gauges = nullptr);

} // namespace tandem
