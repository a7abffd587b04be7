// Authentication of protected routes: one step, shared by every route that
// needs a user, from the access token in the Authorization header.
#pragma once

#include "http/routes.hpp"

namespace tandem::http {

/// A handler that runs only for an authenticated request.
using authed_handler = std::function<void(request&, const identity&, responder)>;

/// Verifies the value of an Authorization header (or of the `?Authorization=` query
/// parameter of a WebSocket upgrade): `Bearer <token>`, the scheme in any letter case,
/// or the raw `<token>`. CPU only, so it may run on an io thread.
token_check authenticate(const token_service& tokens, const std::string& authorization);

/// Wraps `fn`: accepts `Authorization: Bearer <token>` or a raw `Authorization: <token>`;
/// a missing, malformed, expired or forged token is answered with 401
/// `{"detail": ...}` and `WWW-Authenticate: Bearer`, and `fn` does not run. The token is
/// checked from the headers, before any byte of the body is read.
guarded_handler protected_route(const services& svc, authed_handler fn);

} // namespace tandem::http
