// Chat on the wire (C1-C6 and the chat frames): decoding the bodies and queries of the
// chat routes, and shaping messages and conversations, once for REST and WebSocket.
#pragma once

#include "vocabulary/chat_types.hpp"
#include "wire/limits.hpp"
#include "wire/wire_json.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace tandem::wire {

// -- decoding (the limits are wire/limits.hpp's) ---------------------------------------

/// The PageNow chat service's texts for a bad parameter: "Invalid parameter 'key'".
std::string invalid_parameter(const std::string& key);

/// C1's body `{recipientIdArr, isGroup, title}`, all three required: 1 to
/// `limits::recipients` user ids (the creator dropped, duplicates once); a direct
/// conversation names exactly one other user, a group at least two and a title that
/// is display text (text::check_name once trimmed) of at most `limits::title`
/// characters. Else nullopt with `detail` set.
std::optional<new_conversation> decode_new_conversation(const json& body,
                                                        const std::string& creator,
                                                        std::string& detail);

/// C5's query: `after_seq` or `before_seq` (with an optional `limit` up to
/// `limits::message_page`), else compat paging (`limit` and `offset` required, `order`
/// asc or desc). Else nullopt with `detail` set.
std::optional<message_query> decode_message_query(const query_map& query, std::string& detail);

// -- shaping ---------------------------------------------------------------------------

/// C5 entry: `{messageId, conversationId, sentAt, senderId, content, seq}`; with `type`
/// and `tempMessageId` it is the new-message frame.
json message_json(const chat_message& m);

/// C3 entry: `{conversationId, title, isGroup, sentAt, latestContent, senderId, isRead,
/// participantId, unreadCount}`.
json summary_json(const conversation_summary& s);

/// C4: `{conversation_id, title, isGroup, participantId}` (snake case first, as PageNow).
json conversation_info_json(const conversation_info& c);

} // namespace tandem::wire
