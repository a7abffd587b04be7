// Friendships and share notifications on the wire: decoding and validating query
// parameters and bodies, and shaping replies with the exact keys of docs/api.md.
#pragma once

#include "vocabulary/messages.hpp"
#include "wire/limits.hpp"
#include "wire/wire_json.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem::wire {

// -- decoding (the limits are wire/limits.hpp's) ----------------------------------------------

/// The `limit` and `offset` query parameters: absent, `default_limit` and 0; present,
/// decimal integers from 0 to 2^31-1, else nullopt with `detail` set. A limit above
/// `max_limit` is lowered to it (PageNow's routes capped silently).
std::optional<list_window> decode_page(const query_map& query, int32_t default_limit,
                                        int32_t max_limit, std::string& detail);

/// A boolean query parameter spelled `true` or `false`: absent, nullopt in `value`;
/// anything else fills `detail` and returns false.
bool decode_flag(const query_map& query, const std::string& name, std::optional<bool>& value,
                 std::string& detail);

/// The user id in member `key` of a JSON body: a string of 1 to `limits::user_id`
/// characters; else nullopt with `detail` set.
std::optional<std::string> decode_user_id(const json& body, const std::string& key,
                                          std::string& detail);

/// N1's `{url, title}` (`personal` false; `sent_to` ignored) or N2's `{sent_to, url,
/// title}`: url an http(s) URL of at most `limits::url` characters without blanks
/// or control characters, title a string of at most `limits::title` characters,
/// both required. Else nullopt with `detail` set.
std::optional<share_request> decode_share(const json& body, bool personal, std::string& detail);

/// N5's body: a JSON array of at most `limits::read_events` objects `{"event_id": uuid}`.
/// Returns the ids in canonical (lower-case) form without duplicates, or nullopt with
/// `detail` set.
std::optional<std::vector<std::string>> decode_read_events(const std::string& body,
                                                           std::string& detail);

/// A search text from a path parameter: leading and trailing backslashes stripped
/// (as the old service did). Longer than `limits::search_text` characters fills `detail`
/// and returns nullopt; the result may be empty (nothing matches then).
std::optional<std::string> decode_query(const std::string& param, std::string& detail);

// -- shaping ------------------------------------------------------------------------------------

/// F1/F3: `{user_id1 (requester), user_id2 (addressee), requested_at, accepted_at}`.
json friendship_json(const friendship_row& row);

/// F8, F9, F10 entry: the other user's card (F4's keys without requested_at),
/// friendship_state (1 pending, 2 friends) and the row (`user_id1`, `user_id2`,
/// `requested_at`, `accepted_at`).
json relation_json(const relation& rel);

/// UserSummary (U8, U16, U17): `{user_id, first_name, last_name, description,
/// profile_image_uploaded_at, profile_image_extension, friendship_state,
/// mutual_friend_count}`.
json user_summary_json(const user_summary& s);

/// N4 entry: `{event_id, url, title, sent_at, sent_to, not_seen_count, first_name,
/// last_name, profile_image_extension}`.
json sent_share_json(const sent_share& s);

} // namespace tandem::wire
