#include "actors/ws_frames.hpp"

#include "actors/page_privacy.hpp"
#include "actors/wire_json.hpp"

namespace tandem::frames {

namespace {

using wire::json;

json domain_json(const std::string& url) {
  auto domain = registrable_domain(url);
  return domain ? json(*domain) : json(nullptr);
}

ws_push make(uint8_t kind, const json& body, std::string coalesce_key = {}) {
  return {kind, body.dump(), std::move(coalesce_key)};
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
               {"domain", domain_json(page.url)},
               {"latestUrl", last.url},
               {"latestTitle", last.title},
               {"latestDomain", domain_json(last.url)}},
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

std::string error(const std::string& detail, const caf::optional<std::string>& action) {
  json body{{"type", "error"}, {"detail", detail}};
  if (action)
    body["action"] = *action;
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace tandem::frames
