// Presence over REST (docs/api.md, Presence: P1 GET /presence, P2 GET /presence/{userId}),
// served by the users' actors, and the answer to a plain GET on a WebSocket path.
#include "actors/connection_actor.hpp"
#include "wire/page_privacy.hpp"
#include "wire/wire_json.hpp"
#include "http/actor_bridge.hpp"
#include "http/auth.hpp"
#include "http/error_mapping.hpp"

namespace tandem::http {

namespace {

json page_json(const page_info& page) {
  auto domain = registrable_domain(page.url);
  return {{"url", page.url}, {"title", page.title},
          {"domain", domain ? json(*domain) : json(nullptr)}};
}

/// P(x): page and latestPage null while offline; latestPage blank without one.
json presence_json(const presence_state& p) {
  if (!p.page)
    return {{"userId", p.user_id}, {"page", nullptr}, {"latestPage", nullptr}};
  return {{"userId", p.user_id},
          {"page", page_json(*p.page)},
          {"latestPage", page_json(p.latest ? *p.latest : page_info{})}};
}

json overview_json(const presence_overview& o) {
  auto friends = json::array();
  for (const auto& p : o.friends)
    friends.push_back(presence_json(p));
  auto cards = json::object();
  for (const auto& c : o.cards)
    cards[c.user_id] = {{"user_id", c.user_id},
                        {"first_name", c.first_name},
                        {"last_name", c.last_name},
                        {"profile_image_extension", wire::text_or_null(c.profile_image_extension)}};
  return {{"userPresence", presence_json(o.me)}, {"presenceArr", friends}, {"userInfoMap", cards}};
}

/// P2: the raw stored page `{url, title}` (no domain), or an empty body when offline
/// (the client reads it as null).
response peek_response(const presence_state& p) {
  if (!p.page)
    return response{200, "", "application/json", {}};
  return json_response(200, {{"url", p.page->url}, {"title", p.page->title}});
}

} // namespace

void add_presence_routes(router& r, const services& svc) {
  r.add("GET", "/presence",
        protected_route(svc, [svc](request&, const identity& who, responder respond) {
          ask_actor<presence_overview>(
            svc, std::move(respond),
            [](presence_overview& o) { return json_response(200, overview_json(o)); },
            [](const caf::error& err) { return error_to_response(err, "presence"); },
            svc.users, atom::get_presence_v, who.user_id);
        }));
  r.add("GET", "/presence/{userId}",
        protected_route(svc, [svc](request& req, const identity& who, responder respond) {
          ask_actor<presence_state>(
            svc, std::move(respond), [](presence_state& p) { return peek_response(p); },
            [](const caf::error& err) { return error_to_response(err, "presence"); },
            svc.users, atom::peek_presence_v, who.user_id, req.params.at("userId"));
        }));
  // Upgrades on these paths never reach the router (http/ws_session.cpp).
  for (const auto& path : ws_paths())
    r.add("GET", path, [](request&, responder respond) {
      auto res = error_response(426, "This path only accepts WebSocket upgrades");
      res.headers.emplace_back("Upgrade", "websocket");
      respond(std::move(res));
    });
}

} // namespace tandem::http
