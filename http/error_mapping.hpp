// The one place where an error replied by an actor becomes an HTTP response, so that
// every route answers the same code with the same status and `{"detail": ...}`.
#pragma once

#include "vocabulary/messages.hpp"
#include "wire/errors.hpp"
#include "http/message.hpp"

#include <string>

namespace tandem::http {

/// The status an error maps to (wire/errors.hpp).
using wire::status_of;

/// The response for `err`: `status_of(err)` and `{"detail": wire::client_detail(err)}`.
/// A `rate_limited` error whose context carries an `int64_t` number of seconds after its
/// text also gets `Retry-After`; 500s are logged with `operation` (what failed, e.g.
/// "login").
response error_to_response(const caf::error& err, const std::string& operation);

/// An unauthorized response: 401, `{"detail": detail}` and `WWW-Authenticate: Bearer`.
response unauthorized_response(const std::string& detail);

} // namespace tandem::http
