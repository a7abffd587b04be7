// Authentication of protected routes: one step, shared by every route that
// needs a user, from the access token in the Authorization header.
#pragma once

#include "http/routes.hpp"

#include <functional>
#include <optional>

namespace tandem::http {

/// A handler that runs only for an authenticated request.
using authed_handler = std::function<void(request&, const identity&, responder)>;

/// Verifies the value of an Authorization header (or of the `?Authorization=` query
/// parameter of a WebSocket upgrade): `Bearer <token>`, the scheme in any letter case,
/// or the raw `<token>`. CPU only, so it may run on an io thread. An external ID token
/// comes back as `external`, not yet mapped to its Tandem identity (`resolve_principal`).
token_check authenticate(const token_service& tokens, const std::string& authorization);

/// Who sent a request: the Tandem identity, or the answer that refuses the request.
struct principal {
  std::optional<identity> who;
  /// When `who` is empty: 401 for a bad token; 503 or 504 when the database could not
  /// map an external identity in time.
  response refusal;
  /// The token's session (`sid`, empty for external tokens) and expiry (`exp`).
  std::string session;
  int64_t expires_at = 0;
};

/// The principal of `authorization`: verified, and for an external token mapped to its
/// Tandem identity. Calls `done` exactly once: at once on this thread when no I/O is
/// needed (a refused token, one of ours, an external identity in the cache), otherwise
/// on a scheduler thread when the database has answered. Never waits.
void resolve_principal(const token_service& tokens, external_identity_map& identities,
                       const std::string& authorization, std::function<void(principal)> done);

/// Wraps `fn`: accepts `Authorization: Bearer <token>` or a raw `Authorization: <token>`;
/// a missing, malformed, expired or forged token is answered with 401
/// `{"detail": ...}` and `WWW-Authenticate: Bearer`, and `fn` does not run. The token is
/// checked from the headers, before any byte of the body is read. `fn` runs on the io
/// thread, or on a scheduler thread after an external identity was mapped.
guarded_handler protected_route(const services& svc, authed_handler fn);

} // namespace tandem::http
