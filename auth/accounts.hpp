// The accounts actor: registration, login with throttling, refresh token rotation and
// logout (docs/api.md, Accounts and tokens), over the database, Redis and the password hasher.
#pragma once

#include "vocabulary/user_interface.hpp"
#include "vocabulary/messages.hpp"
#include "auth/password_hasher.hpp"
#include "auth/tokens.hpp"
#include "config/app_config.hpp"
#include "persistence/db.hpp"
#include "persistence/redis.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace tandem {

/// Errors carry client-safe text (see http/error_mapping.hpp): `errc::invalid_request`
/// for a malformed email or password, `errc::already_exists` for a taken email,
/// `errc::unauthorized` for bad credentials or refresh tokens, `errc::rate_limited`
/// with the seconds to wait, and whatever the database, Redis or the hasher reply.
using accounts_actor = caf::typed_actor<
  /// (email, password, client address): creates a login and replies its first token
  /// pair. Attempts count per address; past `auth.register_max_per_address` within
  /// `auth.register_window_s` they are refused with `errc::rate_limited`.
  caf::replies_to<atom::sign_up, std::string, std::string, std::string>::with<token_pair>,
  /// (email, password, client address): replies a new token pair. Failures count per
  /// canonical email and per address; past `auth.login_max_failures(_per_address)` within
  /// `auth.login_window_s` every attempt is refused with `errc::rate_limited`, whether
  /// or not the email exists.
  caf::replies_to<atom::login, std::string, std::string, std::string>::with<token_pair>,
  /// (refresh token): rotates it and replies a new pair. An unknown token is
  /// `errc::unauthorized`; a token that was rotated already revokes its family first
  /// and closes the session's sockets.
  /// Past its user's budget (`auth.refreshes_per_hour`, `auth.refreshes_burst`) it is
  /// `errc::rate_limited`, and the token stays as it was.
  caf::replies_to<atom::refresh, std::string>::with<token_pair>,
  /// (refresh token): deletes its family and closes the sockets of that session;
  /// replies true whether or not it was known.
  caf::replies_to<atom::logout, std::string>::with<bool>>;

/// Longest refresh token looked up; ours are about 80 characters.
constexpr std::size_t max_refresh_token_size = 256;

/// The canonical form of `email` (text::canonical_email: NFKC and case folding, no
/// invisible characters, a plausible address), the one key of a login: its failure
/// counter, its uniqueness and its lookup. `errc::invalid_request` with client text
/// otherwise.
caf::expected<std::string> canonical_email(const std::string& email);

/// `errc::invalid_request` with client text unless `password` has 8..256 characters
/// (UTF-8 code points, not bytes).
caf::error validate_password(const std::string& password);

/// What the accounts actor needs.
struct accounts_deps {
  config::auth_config auth;
  std::chrono::milliseconds timeout{5000};  ///< bound of each request it makes
  std::shared_ptr<const token_service> tokens;
  persistence::db_actor db;
  persistence::redis_actor redis;
  password_hasher_actor hasher;
  /// Told when a session ends, to close its sockets.
  user_registry_actor users;
};

/// Spawns the accounts actor (event-based: it only waits on replies).
accounts_actor spawn_accounts(caf::actor_system& sys, accounts_deps deps);

} // namespace tandem
