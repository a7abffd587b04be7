// The profile routes of docs/api.md, Profiles (U2-U7, U18): each decodes and validates on
// the io thread, then hands one request through a one-shot actor (http/actor_bridge.hpp)
// to the user's actor, which owns the profile, or for U7 to the database facade. The
// profile reads (U3, U6) of a user whose actor is live come from the view it published
// (wire/polled_views.hpp), on the io thread.
#include "http/actor_bridge.hpp"
#include "http/auth.hpp"
#include "http/error_mapping.hpp"
#include "wire/user_json.hpp"

namespace tandem::http {

namespace {

using namespace wire;

/// Answers a failed profile operation. A missing profile is the 404 `User not found`
/// that both clients read as "not registered yet"; creating one twice is the 400 of
/// PageNow's U2 (not 409). Everything else goes through the shared mapping.
auto profile_error(std::string operation) {
  return [operation = std::move(operation)](const caf::error& err) {
    switch (code_of(err)) {
      case errc::not_found: return error_response(404, "User not found");
      case errc::already_exists: return error_response(400, "User already exists");
      default: return error_to_response(err, operation);
    }
  };
}

response private_profile(const user_profile& p) {
  return json_response(200, user_private_json(p));
}

response public_profile(const user_profile& p) {
  return json_response(200, user_public_json(p));
}

response public_profiles(const std::vector<user_profile>& ps) {
  return json_response(200, json_array(ps, user_public_json));
}

/// U2: creates the caller's profile from the names in the body and the token.
void create_me(const services& svc, request& req, const identity& who, responder respond) {
  auto profile = decoded_body(req, decode_new_profile, respond);
  if (!profile)
    return;
  profile->user_id = who.user_id;
  profile->email = who.email;
  ask_actor<user_profile>(svc, std::move(respond), private_profile, profile_error("create_user"),
                          svc.users, atom::create_profile_v, who.user_id, std::move(*profile));
}

/// U4: replaces every editable field, and the email from the token.
void update_me(const services& svc, request& req, const identity& who, responder respond) {
  auto update = decoded_body(req, decode_profile_update, respond);
  if (!update)
    return;
  ask_actor<user_profile>(svc, std::move(respond), private_profile, profile_error("update_user"),
                          svc.users, atom::update_profile_v, who.user_id, who.email,
                          std::move(*update));
}

/// U5: replaces the allow or deny list with the body, a JSON array of domain names.
void set_my_domains(const services& svc, request& req, const identity& who,
                    responder respond) {
  auto which = parse_domain_list(req.params.at("share_type"));
  if (!which) {
    respond(error_response(400, R"(share_type must be "allow" or "deny")"));
    return;
  }
  std::string detail;
  auto body = wire::parse_client_json(req.body, detail);
  if (!detail.empty() || body.is_discarded()) {
    respond(error_response(400, detail.empty() ? "Request body is not valid JSON" : detail));
    return;
  }
  auto field = *which == domain_list::allow ? "domain_allow_array" : "domain_deny_array";
  auto domains = decode_domain_list(body, field, detail);
  if (!domains) {
    respond(error_response(400, detail));
    return;
  }
  ask_actor<user_profile>(svc, std::move(respond), private_profile, profile_error("set_domains"),
                          svc.users, atom::set_profile_domains_v, who.user_id, *which,
                          std::move(*domains));
}

/// U7: the public profiles of those ids that exist.
void get_users(const services& svc, request& req, responder respond) {
  std::string detail;
  auto ids = split_user_ids(req.params.at("ids"), detail);
  if (!ids) {
    respond(error_response(400, detail));
    return;
  }
  if (ids->empty()) {
    respond(json_response(200, json::array()));
    return;
  }
  ask_actor<std::vector<user_profile>>(svc, std::move(respond), public_profiles,
                                       profile_error("load_users"), svc.db, atom::load_users_v,
                                       std::move(*ids));
}

} // namespace

void add_user_routes(router& r, const services& svc) {
  r.add("POST", "/users/me",
        protected_route(svc, [svc](request& req, const identity& who, responder respond) {
          create_me(svc, req, who, std::move(respond));
        }));
  r.add("GET", "/users/me",
        protected_route(svc, [svc](request&, const identity& who, responder respond) {
          if (auto view = svc.views->find(who.user_id); view && view->own_profile) {
            respond(rendered_json(*view->own_profile));
            return;
          }
          ask_actor<user_profile>(svc, std::move(respond), private_profile,
                                  profile_error("get_profile"), svc.users,
                                  atom::get_profile_v, who.user_id);
        }));
  r.add("PUT", "/users/me",
        protected_route(svc, [svc](request& req, const identity& who, responder respond) {
          update_me(svc, req, who, std::move(respond));
        }));
  r.add("PUT", "/users/me/domain_array/{share_type}",
        protected_route(svc, [svc](request& req, const identity& who, responder respond) {
          set_my_domains(svc, req, who, std::move(respond));
        }));
  // U6 and U7 need no token: PageNow shows public profiles to anyone.
  r.add("GET", "/users/id/{id}", [svc](request& req, responder respond) {
    if (auto view = svc.views->find(req.params.at("id")); view && view->public_profile) {
      respond(rendered_json(*view->public_profile));
      return;
    }
    ask_actor<user_profile>(svc, std::move(respond), public_profile,
                            profile_error("get_profile"), svc.users, atom::get_profile_v,
                            req.params.at("id"));
  });
  r.add("GET", "/users/ids/{ids}", [svc](request& req, responder respond) {
    get_users(svc, req, std::move(respond));
  });
  r.add("GET", "/domains/share/warnings",
        protected_route(svc, [](request&, const identity&, responder respond) {
          respond(json_response(200, domain_share_warnings()));
        }));
}

} // namespace tandem::http
