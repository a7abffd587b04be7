#include "auth/password_hasher.hpp"

#include "auth/sodium.hpp"
#include "auth/tokens.hpp"
#include "config/log.hpp"

#include <argon2.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace tandem {

namespace {

constexpr uint32_t salt_bytes = 16;
constexpr uint32_t tag_bytes = 32;
constexpr uint32_t parallelism = 1;

using persistence::completion;
using persistence::pool_job;

/// The pool's owner of every registration's hash.
const std::string registration_owner = "registration";

struct hasher_state {
  std::optional<persistence::worker_pool<password_session, password_hasher_actor::base>> pool;
  static inline const char* name = "tandem.password_hasher";
};

password_hasher_actor::behavior_type
hasher_impl(password_hasher_actor::stateful_pointer<hasher_state> self, config::auth_config cfg,
            std::shared_ptr<persistence::pool_gauges> gauges) {
  auto size = static_cast<std::size_t>(std::max(cfg.hasher_threads, 1));
  argon2_params params{static_cast<uint32_t>(cfg.argon2_memory_kib),
                       static_cast<uint32_t>(cfg.argon2_iterations)};
  persistence::worker_factory<password_session> factory = [params](caf::actor_system& sys) {
    // Detached: a hash occupies its thread for tens of milliseconds.
    return sys.spawn<caf::detached>(
      persistence::pool_worker_impl<password_session, argon2_params>, params);
  };
  // Registrations are one owner of the pool, bounded below the worker count, so that a
  // flood of them leaves workers and queue slots to logins (which have no owner).
  persistence::pool_settings settings{"password_hasher", size, cfg.hasher_queue_limit};
  settings.per_owner_limit = registration_share(cfg);
  settings.per_owner_refusal = errc::overloaded;
  settings.gauges = std::move(gauges);
  self->state.pool.emplace(self, std::move(settings), factory);
  // Job names never carry the password.
  return {
    [self](atom::hash_password, std::string& password) {
      return self->state.pool->submit(
        "hash_password",
        [password = std::move(password)](password_session& s) { return s.hash(password); },
        registration_owner);
    },
    [self](atom::verify_password, std::string& encoded, std::string& password) {
      return self->state.pool->submit(
        "verify_password",
        [encoded = std::move(encoded), password = std::move(password)](password_session& s) {
          return s.verify(encoded, password);
        });
    },
    [self](atom::stats) { return self->state.pool->stats(); },
  };
}

} // namespace

std::string hash_password(const std::string& password, const argon2_params& params) {
  ensure_sodium();
  unsigned char salt[salt_bytes];
  randombytes_buf(salt, sizeof salt);
  std::string encoded(argon2_encodedlen(params.iterations, params.memory_kib, parallelism,
                                        salt_bytes, tag_bytes, Argon2_id),
                      '\0');
  auto rc = argon2id_hash_encoded(params.iterations, params.memory_kib, parallelism,
                                  password.data(), password.size(), salt, sizeof salt, tag_bytes,
                                  encoded.data(), encoded.size());
  if (rc != ARGON2_OK)
    throw std::runtime_error(std::string{"argon2id: "} + argon2_error_message(rc));
  encoded.resize(encoded.find('\0'));
  return encoded;
}

bool verify_password(const std::string& encoded, const std::string& password) {
  auto rc = argon2id_verify(encoded.c_str(), password.data(), password.size());
  if (rc == ARGON2_OK)
    return true;
  if (rc != ARGON2_VERIFY_MISMATCH)
    log::error("stored password hash cannot be verified", {{"error", argon2_error_message(rc)}});
  return false;
}

password_session::password_session(argon2_params params)
    : params_(params), dummy_(hash_password(new_random_id(), params)) {
}

completion password_session::execute(const pool_job<password_session>& job) {
  try {
    return job.run(*this);
  } catch (const std::exception& e) {
    log::error("password job failed", {{"operation", job.name}, {"detail", e.what()}});
    return job.fail(caf::make_error(errc::internal, job.name));
  }
}

std::string password_session::hash(const std::string& password) const {
  return hash_password(password, params_);
}

bool password_session::verify(const std::string& encoded, const std::string& password) const {
  if (encoded.empty()) {
    verify_password(dummy_, password);
    return false;
  }
  return verify_password(encoded, password);
}

std::size_t registration_share(const config::auth_config& cfg) {
  return static_cast<std::size_t>(std::max(cfg.hasher_threads - cfg.hasher_login_reserve, 1));
}

password_hasher_actor spawn_password_hasher(caf::actor_system& sys,
                                            const config::auth_config& cfg,
                                            std::shared_ptr<persistence::pool_gauges> gauges) {
  return sys.spawn(hasher_impl, cfg, std::move(gauges));
}

} // namespace tandem
