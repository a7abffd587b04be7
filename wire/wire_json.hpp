// JSON shapes shared by the REST routes and the WebSocket pushes, so that a friend
// request or a share notification looks the same whichever way it reaches a client
// (docs/api.md).
#pragma once

#include "vocabulary/social_types.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::wire {

using json = nlohmann::json;

/// The number of UTF-8 code points of `s` (the length limits of the API count these).
std::size_t utf8_length(std::string_view s);

/// A UUID in its 8-4-4-4-12 hexadecimal form, in lower case; nullopt otherwise.
std::optional<std::string> canonical_uuid(std::string_view text);

/// Parses client JSON text (a REST body, a WebSocket frame) once all of it passed
/// text::check: the raw bytes before the parser, and every key and string after it, since
/// a \u0000 escape decodes to NUL. A text fault leaves `bad_text` a client sentence
/// naming the member ("'content' must not contain NUL characters") and returns a
/// discarded value; text that is not JSON returns a discarded value, `bad_text` empty.
json parse_client_json(std::string_view text, std::string& bad_text);

/// `x` as compact JSON text; invalid UTF-8 in strings is replaced, never thrown on.
std::string to_text(const json& x);

/// The text, or JSON null.
json text_or_null(const caf::optional<std::string>& x);

/// A user's card: `{user_id, first_name, last_name, description,
/// profile_image_uploaded_at, profile_image_extension}`.
json card_json(const user_card& c);

/// F4 entry: the requester's card and `requested_at`.
json friend_request_json(const relation& rel);

/// U10 entry: `{user_id, first_name, last_name, description, profile_image_extension,
/// friendship_state}`.
json friend_json(const user_summary& s);

/// N3 entry: `{event_id, user_id (sender), sent_at, url, title, seen_at, first_name,
/// last_name, profile_image_extension}`.
json notification_json(const share_notification& n);

} // namespace tandem::wire
