#include "auth/accounts.hpp"

#include "auth/auth_store.hpp"
#include "common/text.hpp"
#include "common/token_bucket.hpp"
#include "config/log.hpp"

#include <cmath>
#include <utility>

namespace tandem {

namespace {

const char* const bad_credentials = "Invalid email or password";
const char* const bad_refresh_token = "Invalid refresh token";

struct accounts_state {
  accounts_deps deps;
  /// Refreshes per user (auth.refreshes_per_hour, auth.refreshes_burst). Kept by this
  /// node: every refresh of the node passes here, before its rotation.
  keyed_token_buckets<std::string> refreshes;
  static inline const char* name = "tandem.accounts";
};

using self_pointer = accounts_actor::stateful_pointer<accounts_state>;
using pair_promise = caf::typed_response_promise<token_pair>;

/// An error handler that passes the error on to the caller.
auto forward_to(pair_promise rp) {
  return [rp](caf::error& err) mutable { rp.deliver(std::move(err)); };
}

/// Removes the account a registration has just created, then delivers `err`: a
/// registration is answered whole or leaves nothing, so that the client's retry
/// registers instead of meeting 409. (If the database fails too, the account stays and
/// its owner can sign in.)
void undo_sign_up(self_pointer self, const std::string& user_id, caf::error err,
                  pair_promise rp) {
  const auto& deps = self->state.deps;
  self->request(deps.db, deps.timeout, atom::delete_account_v, user_id)
    .then([rp, err](bool) mutable { rp.deliver(std::move(err)); },
          [rp, err, user_id](caf::error& also) mutable {
            log::warn("a registration failed and its account could not be removed",
                      {{"user_id", user_id}, {"error", describe(also)}});
            rp.deliver(std::move(err));
          });
}

/// The tokens of session `family` at `generation` for `who`; an error (logged) when
/// they cannot be signed.
caf::expected<token_pair> sign_pair(self_pointer self, const identity& who,
                                    const std::string& family, int64_t generation) {
  const auto& tokens = *self->state.deps.tokens;
  try {
    auto access = tokens.issue(who, family);
    return token_pair{who.user_id, access.token, tokens.refresh_token(family, generation),
                      access.expires_in};
  } catch (const std::exception& e) {
    log::error("cannot issue an access token", {{"detail", e.what()}});
    return caf::make_error(errc::internal, "issue_access_token");
  }
}

/// Signs an access token for `who`, stores a refresh token as a new family and
/// delivers both. For a registration (`new_account`), a failure removes the account.
void issue_pair(self_pointer self, const identity& who, pair_promise rp,
                bool new_account = false) {
  auto fail = [self, rp, user_id = who.user_id, new_account](caf::error err) mutable {
    if (new_account)
      undo_sign_up(self, user_id, std::move(err), rp);
    else
      rp.deliver(std::move(err));
  };
  const auto& deps = self->state.deps;
  auto family = new_random_id();
  auto pair = sign_pair(self, who, family, 0);
  if (!pair)
    return fail(std::move(pair.error()));
  auto command = auth_store::issue_command(family, who, deps.auth.refresh_ttl_s);
  self->request(deps.redis, deps.timeout, atom::command_v, std::move(command))
    .then(
      [rp, pair = std::move(*pair)](redis_reply&) mutable { rp.deliver(std::move(pair)); },
      [fail](caf::error& err) mutable { fail(std::move(err)); });
}

/// Creates the account of a registration that its address's budget admitted.
void create_account(self_pointer self, std::string email, std::string password,
                    pair_promise rp) {
  const auto& deps = self->state.deps;
  self->request(deps.hasher, deps.timeout, atom::hash_password_v, std::move(password))
    .then(
      [self, email, rp](std::string& hash) mutable {
        const auto& deps = self->state.deps;
        self->request(deps.db, deps.timeout, atom::create_account_v, email, std::move(hash))
          .then([self, rp](account& acc) mutable {
                  issue_pair(self, identity{acc.user_id, acc.email}, rp, true);
                },
                forward_to(rp));
      },
      forward_to(rp));
}

/// Closes the sockets of a session that ended.
void end_session(self_pointer self, const std::string& user, const std::string& family) {
  if (self->state.deps.users)
    self->send(self->state.deps.users, atom::session_end_v, user, family);
}

/// Rotates a refresh token that the budget of its user admitted.
void rotate(self_pointer self, const token_service::refresh_claim& presented, pair_promise rp) {
  const auto& deps = self->state.deps;
  self->request(deps.redis, deps.timeout, atom::command_v,
                auth_store::rotate_command(presented, deps.auth.refresh_ttl_s))
    .then(
      [self, family = presented.family, rp](redis_reply& reply) mutable {
        auto rotated = auth_store::parse_rotation(reply);
        if (!rotated) {
          rp.deliver(std::move(rotated.error()));
          return;
        }
        switch (rotated->outcome) {
          case auth_store::rotation::unknown:
            rp.deliver(caf::make_error(errc::unauthorized, bad_refresh_token));
            return;
          case auth_store::rotation::replayed:
            // Two holders of one token: one of them stole it. Which one cannot
            // be told, so the whole family is gone and both must sign in again.
            log::warn("refresh token reused, token family revoked",
                      {{"user_id", rotated->who.user_id}});
            end_session(self, rotated->who.user_id, family);
            rp.deliver(caf::make_error(errc::unauthorized,
                                       "Refresh token reused; please sign in again"));
            return;
          case auth_store::rotation::rotated:
            break;
        }
        auto pair = sign_pair(self, rotated->who, family, rotated->generation);
        if (pair)
          rp.deliver(std::move(*pair));
        else
          rp.deliver(std::move(pair.error()));
      },
      forward_to(rp));
}

/// Verifies the password of a login (or, for an unknown email, does the same work
/// against the hasher's dummy hash) and answers the attempt.
void check_password(self_pointer self, const std::string& encoded, std::string password,
                    identity who, std::string email_key, std::string address_key,
                    pair_promise rp) {
  const auto& deps = self->state.deps;
  self->request(deps.hasher, deps.timeout, atom::verify_password_v, encoded, std::move(password))
    .then(
      [self, who, email_key, address_key, rp](bool ok) mutable {
        if (!ok) {
          // The attempt stays counted as a failure.
          rp.deliver(caf::make_error(errc::unauthorized, bad_credentials));
          return;
        }
        const auto& deps = self->state.deps;
        // Giving the attempt back is best effort: if it fails the counter only ends
        // its window one success too high.
        self->request(deps.redis, deps.timeout, atom::command_v,
                      auth_store::login_succeeded_command(email_key, address_key))
          .then([](redis_reply&) {},
                [](caf::error& err) {
                  log::warn("cannot reset a login counter", {{"error", describe(err)}});
                });
        issue_pair(self, who, rp);
      },
      forward_to(rp));
}

accounts_actor::behavior_type accounts_impl(self_pointer self, accounts_deps deps) {
  self->state.deps = std::move(deps);
  const auto& auth = self->state.deps.auth;
  self->state.refreshes = {auth.refreshes_per_hour / 3600.0,
                           static_cast<double>(auth.refreshes_burst)};
  return {
    [self](atom::sign_up, std::string& email, std::string& password,
           std::string& address) -> caf::result<token_pair> {
      if (auto key = canonical_email(email); !key)
        return std::move(key.error());
      if (auto err = validate_password(password))
        return err;
      const auto& deps = self->state.deps;
      auto rp = self->make_response_promise<token_pair>();
      // Every well-formed attempt counts, a taken email included, before any hashing.
      auto attempt = auth_store::counted_attempt_command(
        auth_store::registration_counter_key(address.empty() ? "unknown" : address),
        deps.auth.register_max_per_address, deps.auth.register_window_s);
      self->request(deps.redis, deps.timeout, atom::command_v, std::move(attempt))
        .then(
          [self, email, password, rp](redis_reply& reply) mutable {
            if (auto refusal = auth_store::attempt_refusal(
                  reply, "Too many registrations from this address; try again later")) {
              rp.deliver(std::move(refusal));
              return;
            }
            create_account(self, std::move(email), std::move(password), rp);
          },
          forward_to(rp));
      return rp;
    },
    [self](atom::login, std::string& email, std::string& password,
           std::string& address) -> caf::result<token_pair> {
      // No login can have an address without a canonical form: nothing to count.
      auto key = canonical_email(email);
      if (!key)
        return std::move(key.error());
      const auto& deps = self->state.deps;
      auto rp = self->make_response_promise<token_pair>();
      auto email_key = auth_store::email_counter_key(*key);
      auto address_key = auth_store::address_counter_key(address.empty() ? "unknown" : address);
      // Every path below costs one throttle step, one lookup and one argon2 verify,
      // so neither the answer nor its timing tells whether the email exists.
      auto attempt = auth_store::login_attempt_command(
        email_key, address_key, deps.auth.login_max_failures,
        deps.auth.login_max_failures_per_address, deps.auth.login_window_s);
      self->request(deps.redis, deps.timeout, atom::command_v, std::move(attempt))
        .then(
          [self, email, password, email_key, address_key, rp](redis_reply& reply) mutable {
            if (auto refusal = auth_store::attempt_refusal(
                  reply, "Too many failed logins; try again later")) {
              rp.deliver(std::move(refusal));
              return;
            }
            const auto& deps = self->state.deps;
            self->request(deps.db, deps.timeout, atom::find_account_by_email_v, email)
              .then(
                [self, password, email_key, address_key, rp](account& acc) mutable {
                  check_password(self, acc.password_hash, std::move(password),
                                 identity{acc.user_id, acc.email}, email_key, address_key, rp);
                },
                [self, password, email_key, address_key, rp](caf::error& err) mutable {
                  if (code_of(err) != errc::not_found) {
                    rp.deliver(std::move(err));
                    return;
                  }
                  check_password(self, std::string{}, std::move(password), identity{},
                                 email_key, address_key, rp);
                });
          },
          forward_to(rp));
      return rp;
    },
    [self](atom::refresh, const std::string& token) -> caf::result<token_pair> {
      const auto& deps = self->state.deps;
      // A token that is not ours (forged, or of the scheme before generations) costs no
      // Redis round trip.
      auto presented = token.size() > max_refresh_token_size
                         ? std::nullopt
                         : deps.tokens->read_refresh_token(token);
      if (!presented)
        return caf::make_error(errc::unauthorized, bad_refresh_token);
      auto rp = self->make_response_promise<token_pair>();
      // The budget is its user's, so the family's user is read first; an unknown family
      // goes on to the rotation, which answers it.
      self->request(deps.redis, deps.timeout, atom::command_v,
                    auth_store::family_user_command(presented->family))
        .then(
          [self, presented = *presented, rp](redis_reply& reply) mutable {
            if (reply.kind == redis_reply::string) {
              auto wait = self->state.refreshes.take(reply.str, self->clock().now());
              if (wait > 0) {
                rp.deliver(caf::make_error(errc::rate_limited,
                                           "Too many token refreshes; try again later",
                                           static_cast<int64_t>(std::ceil(wait))));
                return;
              }
            }
            rotate(self, presented, rp);
          },
          forward_to(rp));
      return rp;
    },
    [self](atom::logout, const std::string& token) -> caf::result<bool> {
      const auto& deps = self->state.deps;
      auto presented = token.size() > max_refresh_token_size
                         ? std::nullopt
                         : deps.tokens->read_refresh_token(token);
      if (!presented)
        return true;
      auto rp = self->make_response_promise<bool>();
      self->request(deps.redis, deps.timeout, atom::command_v,
                    auth_store::revoke_command(presented->family))
        .then(
          [self, family = presented->family, rp](redis_reply& reply) mutable {
            if (auto user = auth_store::parse_revocation(reply))
              end_session(self, *user, family);
            rp.deliver(true);
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
  };
}

} // namespace

caf::expected<std::string> canonical_email(const std::string& email) {
  text::fault why = text::fault::none;
  if (auto key = text::canonical_email(email, why))
    return std::move(*key);
  return caf::make_error(errc::invalid_request, std::string{"email "} + text::describe(why));
}

caf::error validate_password(const std::string& password) {
  auto n = text::length(password);
  if (n < 8 || n > 256)
    return caf::make_error(errc::invalid_request, "password must be 8 to 256 characters long");
  return caf::none;
}

accounts_actor spawn_accounts(caf::actor_system& sys, accounts_deps deps) {
  return sys.spawn(accounts_impl, std::move(deps));
}

} // namespace tandem
