#include "wire/ws_frames.hpp"

#include "wire/chat_json.hpp"
#include "wire/wire_json.hpp"

namespace tandem::frames {

namespace {

using wire::json;

ws_push make(uint8_t kind, const json& body, std::string coalesce_key = {}) {
  return make_push(kind, wire::to_text(body), std::move(coalesce_key));
}

/// Presence frames about one user replace each other in a send queue: latest wins.
std::string presence_key(const std::string& user_id) {
  return "presence:" + user_id;
}

} // namespace

ws_push update_presence(const std::string& user_id, const page_info& page,
                        const caf::optional<page_info>& latest) {
  auto last = latest ? *latest : page_info{};
  return make(event_kind::presence,
              {{"type", "update-presence"},
               {"userId", user_id},
               {"url", page.url},
               {"title", page.title},
               {"domain", wire::domain_json(page.url)},
               {"latestUrl", last.url},
               {"latestTitle", last.title},
               {"latestDomain", wire::domain_json(last.url)}},
              presence_key(user_id));
}

ws_push presence_timeout(const std::string& user_id) {
  return make(event_kind::presence, {{"type", "presence-timeout"}, {"userId", user_id}},
              presence_key(user_id));
}

ws_push share_notification(const tandem::share_notification& note) {
  auto body = wire::notification_json(note);
  body["type"] = "share-notification";
  return make(event_kind::social, body);
}

ws_push friend_request(const user_card& requester, const std::string& requested_at) {
  auto body = wire::card_json(requester);
  body["type"] = "friend-request";
  body["requested_at"] = requested_at;
  return make(event_kind::social, body);
}

ws_push friend_accepted(const user_card& accepter, const std::string& accepted_at) {
  auto body = wire::card_json(accepter);
  body["type"] = "friend-accepted";
  body["accepted_at"] = accepted_at;
  return make(event_kind::social, body);
}

ws_push new_message(const chat_message& m) {
  auto body = wire::message_json(m);
  body["type"] = "new-message";
  body["tempMessageId"] = m.client_message_id;
  return make(event_kind::chat, body);
}

ws_push read_messages(const std::string& conversation_id, const std::string& reader) {
  return make(event_kind::chat, {{"type", "read-messages"},
                                 {"conversationId", conversation_id},
                                 {"userId", reader}});
}

ws_push read_receipt(const std::string& conversation_id, const std::string& reader, int64_t seq) {
  return make(event_kind::chat, {{"type", "read-receipt"},
                                 {"conversationId", conversation_id},
                                 {"userId", reader},
                                 {"seq", seq}});
}

ws_push typing(const std::string& conversation_id, const std::string& user) {
  auto push = make(event_kind::chat,
                   {{"type", "typing"}, {"conversationId", conversation_id}, {"userId", user}});
  push.sheddable = true;
  return push;
}

ws_push participant_left(const std::string& conversation_id, const std::string& user) {
  return make(event_kind::chat, {{"type", "participant-left"},
                                 {"conversationId", conversation_id},
                                 {"userId", user}});
}

std::string token_expiring(int64_t expires_at, int64_t close_at) {
  return wire::to_text(
    json{{"type", "token-expiring"}, {"expiresAt", expires_at}, {"closeAt", close_at}});
}

std::string authenticated(int64_t expires_at) {
  return wire::to_text(json{{"type", "authenticated"}, {"expiresAt", expires_at}});
}

std::string error(const std::string& detail, const caf::optional<std::string>& action,
                  const caf::optional<std::string>& temp_message_id) {
  json body{{"type", "error"}, {"detail", detail}};
  if (action)
    body["action"] = *action;
  if (temp_message_id)
    body["tempMessageId"] = *temp_message_id;
  return wire::to_text(body);
}

} // namespace tandem::frames
