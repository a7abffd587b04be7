// Access and refresh tokens without actors or Beast: issuing and verifying JWTs
// (HS256 for our own tokens, RS256 ID tokens of an optional external issuer) and
// the random refresh token strings with the hash they are stored under.
#pragma once

#include "vocabulary/messages.hpp"
#include "config/app_config.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace tandem {

/// Converts a JWKS document (RFC 7517) into PEM public keys by `kid`. Keys that are not
/// RSA signing keys for RS256 (`kty` other than "RSA", `use` other than "sig", `alg`
/// other than "RS256") are skipped. Throws `std::invalid_argument` with a one-line
/// reason when the document is not a JWKS, an RSA key is malformed, shorter than 2048
/// bits or has a missing or duplicate `kid`, or no usable key remains.
std::map<std::string, std::string> jwks_to_pem(const std::string& jwks_json);

/// What a `token_service` signs and accepts.
struct token_settings {
  int64_t clock_leeway_s = 60;              ///< how far `iat`/`nbf` may lie in the future
  std::string key;                          ///< HS256 key of our own tokens
  std::string issuer;                       ///< `iss` of our tokens
  std::string audience;                     ///< `aud` of our tokens
  int64_t access_ttl_s = 900;               ///< lifetime of our access tokens
  std::string external_issuer;              ///< empty: no external tokens accepted
  std::string external_audience;            ///< empty: `aud` of external tokens not checked
  std::string external_user_claim = "cognito:username"; ///< the claim naming the subject
  std::map<std::string, std::string> external_keys; ///< kid -> RSA public key (PEM)
};

/// A freshly issued access token.
struct access_token {
  std::string token;
  int64_t expires_in = 0;                   ///< seconds
};

/// Who an external ID token names: its own namespace, never a Tandem user id. Its
/// Tandem id comes from the mapping in `external_identity_map`.
struct external_subject {
  std::string issuer;
  std::string subject;                      ///< the `auth.external_user_claim` claim
  std::string email;
};

/// The outcome of verifying a token: exactly one of `who` (a token of ours),
/// `external` (a valid external ID token, still to be mapped to its Tandem id) or a
/// `failure`.
struct token_check {
  std::optional<identity> who;
  std::optional<external_subject> external;
  std::string failure;                      ///< client-safe text when refused
  /// The `sid` claim of our tokens: the session (refresh token family) it belongs to.
  /// Empty for external tokens.
  std::string session;
  int64_t expires_at = 0;                   ///< `exp` of an accepted token

  /// Whether the token was accepted (ours, or external and to be mapped).
  bool accepted() const noexcept {
    return who.has_value() || external.has_value();
  }
};

/// Issues and verifies access tokens. Immutable after construction, so one instance is
/// shared by io threads and actors; verification does no I/O and may run anywhere.
class token_service {
public:
  /// Longest token accepted; a longer Authorization header is refused unparsed.
  static constexpr std::size_t max_token_size = 8 * 1024;

  explicit token_service(token_settings settings);

  /// Builds the service from `auth.*` (key via `config::resolve_jwt_key`, the external
  /// JWKS file read and converted now). Throws `config::config_error` with one line
  /// for the operator when a key is refused, the JWKS file is unreadable or bad, or
  /// `node.mode=production` accepts external tokens without `auth.external_audience`.
  static std::shared_ptr<const token_service> from_config(const config::app_config& cfg);

  /// Signs an HS256 token for `who` in `session` (its refresh token family) with claims
  /// sub, email, sid, iat (= now), exp, iss, aud and a random jti. `now` is in seconds
  /// since the epoch.
  access_token issue(const identity& who, const std::string& session, int64_t now) const;

  /// `issue` at the current time.
  access_token issue(const identity& who, const std::string& session) const;

  /// The refresh token of generation `generation` of `family`:
  /// "<family>.<generation>.<MAC>", the MAC (HMAC-SHA256 under a key derived from ours)
  /// over the first two parts. Only we can make one, so any generation of a family can
  /// be told genuine without storing it: the family keeps its current generation only.
  std::string refresh_token(const std::string& family, int64_t generation) const;

  /// What a refresh token names, when `token` is one of ours.
  struct refresh_claim {
    std::string family;
    int64_t generation = 0;
  };

  /// The family and generation of a genuine refresh token; nullopt for anything else
  /// (a forged, malformed or pre-generation token), without any I/O.
  std::optional<refresh_claim> read_refresh_token(const std::string& token) const;

  /// Accepts exactly two kinds of token: HS256 signed with our key, with our iss and
  /// aud (replied as `who`); or, when an external issuer is configured, RS256 signed by
  /// the JWKS key named by its `kid`, with that issuer, `token_use` "id" and the
  /// configured audience (replied as `external`). The algorithm is pinned per kind
  /// before any signature check, so `none`, other algorithms and HS256 tokens keyed
  /// with an RSA public key are refused. `exp` must lie after `now` (seconds since the
  /// epoch); `iat` and `nbf`, when present, no later than `now` + the clock leeway.
  token_check verify(const std::string& token, int64_t now) const;

  /// `verify` at the current time.
  token_check verify(const std::string& token) const;

  /// The lifetime of issued access tokens in seconds.
  int64_t access_ttl_s() const noexcept {
    return settings_.access_ttl_s;
  }

private:
  token_check verify_own(const std::string& token, int64_t now) const;
  token_check verify_external(const std::string& token, const std::string& kid,
                              int64_t now) const;

  std::string refresh_mac(const std::string& body) const;

  token_settings settings_;
  std::string refresh_key_;                 ///< derived from settings_.key
};

/// A random id of 128 bits in lower-case hex (token ids, token families).
std::string new_random_id();

/// The lower-case hex SHA-256 of `text` (keys that must not hold what they count).
std::string sha256_hex(const std::string& text);

} // namespace tandem
