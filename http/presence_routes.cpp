// Presence over REST (docs/api.md, Presence: P1 GET /presence, P2 GET /presence/{userId}),
// served by the users' actors, and the answer to a plain GET on a WebSocket path.
#include "actors/connection_actor.hpp"
#include "wire/presence_json.hpp"
#include "http/actor_bridge.hpp"
#include "http/auth.hpp"
#include "http/error_mapping.hpp"

namespace tandem::http {

namespace {

/// P2: an empty body while offline (the client reads it as null).
response peek_response(const presence_state& p) {
  auto page = wire::peek_json(p);
  if (page.is_null())
    return response{200, "", "application/json", {}};
  return json_response(200, page);
}

} // namespace

void add_presence_routes(router& r, const services& svc) {
  r.add("GET", "/presence",
        protected_route(svc, [svc](request&, const identity& who, responder respond) {
          ask_actor<presence_overview>(
            svc, std::move(respond),
            [](presence_overview& o) { return json_response(200, wire::overview_json(o)); },
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
