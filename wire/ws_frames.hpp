// The frames the gateway pushes (docs/api.md, Presence and WebSockets;
// update-presence and presence-timeout as PageNow's), rendered once per event as JSON text.
#pragma once

#include "vocabulary/chat_types.hpp"
#include "vocabulary/realtime_types.hpp"
#include "vocabulary/social_types.hpp"

#include <caf/optional.hpp>

#include <string>

namespace tandem::frames {

/// `{"type":"update-presence","userId","url","title","domain","latestUrl",
/// "latestTitle","latestDomain"}`; latest* are '' without a latest page.
ws_push update_presence(const std::string& user_id, const page_info& page,
                        const caf::optional<page_info>& latest);

/// `{"type":"presence-timeout","userId"}`.
ws_push presence_timeout(const std::string& user_id);

/// `{"type":"share-notification", ...N3 entry}`.
ws_push share_notification(const tandem::share_notification& note);

/// `{"type":"friend-request", ...F4 entry}`: the requester's card and requested_at.
ws_push friend_request(const user_card& requester, const std::string& requested_at);

/// `{"type":"friend-accepted", ...card, "accepted_at"}`: the accepter's card.
ws_push friend_accepted(const user_card& accepter, const std::string& accepted_at);

/// `{"type":"new-message","messageId","tempMessageId","conversationId","senderId",
/// "content","sentAt","seq"}` (PageNow's, plus seq).
ws_push new_message(const chat_message& m);

/// `{"type":"read-messages","conversationId","userId"}`, to the reader's sockets.
ws_push read_messages(const std::string& conversation_id, const std::string& reader);

/// `{"type":"read-receipt","conversationId","userId","seq"}`, to the other members.
ws_push read_receipt(const std::string& conversation_id, const std::string& reader, int64_t seq);

/// `{"type":"typing","conversationId","userId"}`, to the other members.
ws_push typing(const std::string& conversation_id, const std::string& user);

/// `{"type":"participant-left","conversationId","userId"}`, to the members of a group
/// someone left and to the leaver's own sockets.
ws_push participant_left(const std::string& conversation_id, const std::string& user);
/// `{"type":"token-expiring","expiresAt","closeAt"}` (seconds since the epoch): the
/// socket's token expires at expiresAt, and without an authenticate frame the socket
/// closes at closeAt. To one connection only.
std::string token_expiring(int64_t expires_at, int64_t close_at);

/// `{"type":"authenticated","expiresAt"}`: the answer to an authenticate frame.
std::string authenticated(int64_t expires_at);

/// `{"type":"error","detail"[,"action"][,"tempMessageId"]}`, sent to one connection only.
std::string error(const std::string& detail, const caf::optional<std::string>& action,
                  const caf::optional<std::string>& temp_message_id = caf::none);

} // namespace tandem::frames
