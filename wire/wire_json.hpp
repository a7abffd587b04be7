// JSON shapes shared by the REST routes and the WebSocket pushes, so that a friend
// request or a share notification looks the same whichever way it reaches a client
// (docs/api.md).
#pragma once

#include "vocabulary/social_types.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::wire {

using json = nlohmann::json;

/// A UUID in its 8-4-4-4-12 hexadecimal form (Boost.UUID), in lower case; nullopt
/// otherwise.
std::optional<std::string> canonical_uuid(std::string_view text);

/// Decoded query parameters of a request, by name.
using query_map = std::map<std::string, std::string>;

/// A count in a query: decimal digits only (no sign) within T's range, lowered to `max`;
/// nullopt otherwise.
template <class T>
std::optional<T> count_of(std::string_view text, T max) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  // from_chars takes a leading '-', which no count has.
  if (text.empty() || text[0] == '-' || ec != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return std::min(value, max);
}

/// Parses client JSON text (a REST body, a WebSocket frame) once all of it passed
/// text::check: the raw bytes before the parser, and every key and string after it, since
/// a \u0000 escape decodes to NUL. A text fault leaves `bad_text` a client sentence
/// naming the member ("'content' must not contain NUL characters") and returns a
/// discarded value; text that is not JSON returns a discarded value, `bad_text` empty.
json parse_client_json(std::string_view text, std::string& bad_text);

/// `x` as compact JSON text; invalid UTF-8 in strings is replaced, never thrown on.
std::string to_text(const json& x);

/// A JSON array of `shape(x)` for every `x` of `xs`.
template <class T, class F>
json json_array(const std::vector<T>& xs, F shape) {
  auto out = json::array();
  for (const auto& x : xs)
    out.push_back(shape(x));
  return out;
}

/// The text, or JSON null.
json text_or_null(const caf::optional<std::string>& x);

/// The registrable domain of `url` (page_privacy's rule), or JSON null.
json domain_json(const std::string& url);

/// A user's card: `{user_id, first_name, last_name, description,
/// profile_image_uploaded_at, profile_image_extension}`, of anything that has those
/// members (a card, a whole profile).
template <class T>
json card_json_of(const T& c) {
  return {
    {"user_id", c.user_id},
    {"first_name", c.first_name},
    {"last_name", c.last_name},
    {"description", c.description},
    {"profile_image_uploaded_at", text_or_null(c.profile_image_uploaded_at)},
    {"profile_image_extension", text_or_null(c.profile_image_extension)},
  };
}

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
