// The Redis side of accounts: refresh token families, login failure counters and the
// budgets that must hold across nodes (registrations per address, invitations per
// user), as EVAL commands for the redis facade (`atom::command`) and parsers of their
// replies.
// Each operation is one Lua script, so rotation, replay detection and the throttle
// are atomic however many nodes share the Redis.
//
// Keys:
//   rf:<family>        hash {user, email, gen}, TTL auth.refresh_ttl_s renewed on each rotation
//   login:fail:email:<sha256 of the canonical email>    counter, TTL auth.login_window_s
//   login:fail:addr:<client address>                    counter, TTL auth.login_window_s
//   register:addr:<client address>     counter, TTL auth.register_window_s
//   invite:user:<user id>              counter, TTL users.invitations_window_s
// A refresh token names its family and generation under our MAC
// (token_service::refresh_token), so a family is one key of fixed size however often it
// rotates: the current generation is the one token that rotates, an older one is a
// replay, and revoking is one DEL. Nothing stored can be turned into a token.
#pragma once

#include "vocabulary/messages.hpp"
#include "auth/tokens.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem::auth_store {

/// The key of a family.
std::string family_key(const std::string& family);

/// Stores a new `family` of `who` at generation 0. The reply is the integer 1.
std::vector<std::string> issue_command(const std::string& family, const identity& who,
                                       int64_t ttl_s);

/// Rotates the family of a genuine token (`token_service::read_refresh_token`) in one
/// step: the current generation moves on by one and the family's TTL starts again; an
/// older generation deletes the family. Parse the reply with `parse_rotation`.
std::vector<std::string> rotate_command(const token_service::refresh_claim& presented,
                                        int64_t ttl_s);

/// What `rotate_command` did.
struct rotation {
  enum outcome_t { rotated, unknown, replayed } outcome = unknown;
  identity who;           ///< the family's user (rotated and replayed)
  int64_t generation = 0; ///< the family's new generation (rotated)
};

/// Reads the reply of `rotate_command`; `errc::redis_error` for an unexpected shape.
caf::expected<rotation> parse_rotation(const redis_reply& reply);

/// Deletes `family`. The reply is the family's user id, or nil when it is unknown.
std::vector<std::string> revoke_command(const std::string& family);

/// The user of the family `revoke_command` deleted, nullopt when there was none.
std::optional<std::string> parse_revocation(const redis_reply& reply);

/// The failure counter of an email in its canonical form (tandem::canonical_email, the
/// form its lookup uses, so that no spelling of one login gets a budget of its own); the
/// email itself is not stored, only its hash.
std::string email_counter_key(const std::string& canonical_email);

/// The failure counter of a client address.
std::string address_counter_key(const std::string& address);

/// Starts a login attempt. When a counter already holds its maximum the reply is the
/// integer number of seconds until its window ends (at least 1) and nothing changes;
/// otherwise both counters are incremented (the window starts with a counter's first
/// increment) and the reply is 0. Counting the attempt up front means concurrent
/// guesses cannot overshoot the limit; `login_succeeded_command` gives it back.
std::vector<std::string> login_attempt_command(const std::string& email_key,
                                               const std::string& address_key,
                                               int max_per_email, int max_per_address,
                                               int window_s);

/// The registration counter of a client address.
std::string registration_counter_key(const std::string& address);

/// The counter of a user's e-mail invitations.
std::string invitation_counter_key(const std::string& user_id);

/// Counts one use of the budget `key` (at most `max` in a window of `window_s` seconds,
/// which starts with the first use): the same script and reply as
/// `login_attempt_command`, for one counter. Budgets kept here hold across nodes.
std::vector<std::string> counted_attempt_command(const std::string& key, int max, int window_s);

/// What the reply of an attempt command says: none when the attempt was counted,
/// `errc::rate_limited` with `detail` and the seconds to wait when a counter is full,
/// `errc::redis_error` for a reply of another shape.
caf::error attempt_refusal(const redis_reply& reply, const std::string& detail);

/// Reads the user of a refresh family: the reply is its id, or nil when unknown.
std::vector<std::string> family_user_command(const std::string& family);

/// Takes back the attempt of a successful login from both counters.
std::vector<std::string> login_succeeded_command(const std::string& email_key,
                                                 const std::string& address_key);

} // namespace tandem::auth_store
