// The one place where an error replied by an actor becomes an HTTP response, so that
// every route answers the same code with the same status and `{"detail": ...}`.
#pragma once

#include "vocabulary/messages.hpp"
#include "http/message.hpp"

#include <string>

namespace tandem::http {

/// The status an error maps to: invalid_request 400, unauthorized 401, forbidden 403,
/// not_found 404, already_exists 409, payload_too_large 413, rate_limited 429,
/// overloaded / db_unavailable / redis_unavailable / storage_read_only 503, db_timeout
/// and CAF's request_timeout 504, storage_full 507, anything else 500.
unsigned status_of(const caf::error& err);

/// The response for `err` (see `status_of`). For a status below 500, a sentence (text
/// with a space) first in the error's context is the detail: producers put only
/// client-safe text there, e.g.
/// `caf::make_error(errc::invalid_request, "Password must be 8 to 256 characters")`.
/// A bare word there is an operation name (persistence/pq_errors attaches those) and
/// is not shown: the detail is then a fixed text per status. A `rate_limited` error
/// whose context carries an `int64_t` number of seconds after its text also gets
/// `Retry-After`. A 5xx never shows the context: its detail is a fixed text per status,
/// or per code for the media store's faults; 500s are logged with `operation` (what
/// failed, e.g. "login").
response error_to_response(const caf::error& err, const std::string& operation);

/// An unauthorized response: 401, `{"detail": detail}` and `WWW-Authenticate: Bearer`.
response unauthorized_response(const std::string& detail);

} // namespace tandem::http
