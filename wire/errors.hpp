// What a client reads of an error an actor replied: one policy for a REST response's
// `{"detail"}` and a WebSocket error frame's `detail`.
#pragma once

#include "vocabulary/messages.hpp"

#include <string>

namespace tandem::wire {

/// The status an error maps to: invalid_request 400, unauthorized 401, forbidden 403,
/// not_found 404, already_exists 409, payload_too_large 413, rate_limited 429,
/// overloaded / db_unavailable / redis_unavailable / storage_read_only 503, db_timeout
/// and CAF's request_timeout 504, storage_full 507, anything else 500.
unsigned status_of(const caf::error& err);

/// The text a client may read of `err`. For a status below 500, a sentence (text with
/// a space) first in the error's context: producers put only client-safe text there,
/// e.g. `caf::make_error(errc::invalid_request, "Password must be 8 to 256 characters")`.
/// A bare word there is an operation name (persistence/pq_errors attaches those) and is
/// not shown: the text is then a fixed one per status. A 5xx never shows the context:
/// its text is fixed per status, or per code for the media store's faults.
std::string client_detail(const caf::error& err);

} // namespace tandem::wire
