// Friendships (F1-F10), the friend lists of users (U8-U11), user search (U16, U17)
// and share notifications (N1-N5) of docs/api.md. Each handler validates on the
// io thread, then hands one request to the user registry (served by the users'
// actors, which run writes database first) or, for reads that no actor state
// serves (search, read and sent notifications), to the database. The hot polled
// reads (F4, N3 unread, U10 about oneself) come straight from the view the user's
// actor published (wire/polled_views.hpp) when it has one.
#include "http/actor_bridge.hpp"
#include "http/auth.hpp"
#include "http/error_mapping.hpp"
#include "wire/social_json.hpp"

#include <array>
#include <limits>

namespace tandem::http {

namespace {

using namespace wire;

/// Social bodies are a few short fields, or up to `limits::read_events` event ids.
constexpr std::size_t social_body_limit = 64 * 1024;

/// F8, U8 and the searches cap limit at 15 (docs/api.md); F8 defaults to 10.
constexpr int32_t list_cap = 15;
/// U10 has no cap: a friend list is bounded by users.max_friends anyway.
constexpr int32_t uncapped = std::numeric_limits<int32_t>::max();
/// Tandem's own bounds for lists PageNow did not page (F10, N3) or did not cap (N4).
constexpr int32_t all_cap = 100;
constexpr int32_t received_cap = 1000;
constexpr int32_t sent_cap = 100;

/// `{"success": true}`, the answer of every write that has nothing else to say.
json success(bool) {
  return {{"success", true}};
}

/// Sends `xs...` to `dest` and answers 200 with `shape(reply)`, or the mapped error.
template <class Reply, class Dest, class Shape, class... Ts>
void ask(const services& svc, responder respond, const Dest& dest, const char* operation,
         Shape shape, Ts... xs) {
  ask_actor<Reply>(
    svc, std::move(respond), [shape](Reply& reply) { return json_response(200, shape(reply)); },
    [operation](const caf::error& err) { return error_to_response(err, operation); }, dest,
    std::move(xs)...);
}

/// A route for authenticated users: `fn(req, who, respond)`.
template <class F>
void add(router& r, const services& svc, const char* method, const char* pattern, F fn) {
  r.add(method, pattern,
        protected_route(svc, [svc, fn](request& req, const identity& who, responder respond) {
          fn(svc, req, who, std::move(respond));
        }),
        social_body_limit);
}

/// The page of the query, or nullopt after answering 400.
std::optional<list_window> page_of(const request& req, int32_t default_limit, int32_t cap,
                                    const responder& respond) {
  std::string detail;
  auto page = decode_page(req.query, default_limit, cap, detail);
  if (!page)
    respond(error_response(400, detail));
  return page;
}

json count_json(int64_t n) {
  // SQLAlchemy's default label, which the client reads (U9, docs/api.md).
  return {{"count_1", n}};
}

// -- friendships --------------------------------------------------------------------------

/// F1 and F3: the row between the caller and `{id}`, or null. F3 (`outgoing`) only
/// shows a row the caller requested.
void lookup(const services& svc, request& req, const identity& who, responder respond,
            bool outgoing) {
  const auto& other = req.params.at("id");
  if (other == who.user_id) {
    respond(json_response(200, nullptr));
    return;
  }
  ask<friendship_lookup>(
    svc, std::move(respond), svc.users, "check_friendship",
    [me = who.user_id, outgoing](const friendship_lookup& l) {
      if (!l.found || (outgoing && l.row.requester != me))
        return json(nullptr);
      return friendship_json(l.row);
    },
    atom::lookup_friendship_v, who.user_id, other);
}

/// F2, F5, F6, F7 once the other user is known.
void write_friendship(const services& svc, responder respond, friendship_op op,
                      const identity& who, std::string other) {
  if (other == who.user_id) {
    respond(error_response(400, "A friendship needs two different users"));
    return;
  }
  ask<bool>(svc, std::move(respond), svc.users, "friendship_write",
            success, atom::write_friendship_v,
            friendship_command{op, who.user_id, std::move(other)});
}

/// F2 `{user_id2}` and F5 `{user_id1}`: the other user named in the body.
void write_with_body(const services& svc, request& req, const identity& who, responder respond,
                     friendship_op op, const char* key) {
  auto other = decoded_body(
    req, [key](const json& body, std::string& detail) { return decode_user_id(body, key, detail); },
    respond);
  if (!other)
    return;
  write_friendship(svc, std::move(respond), op, who, std::move(*other));
}

/// F7 `{user_id1, user_id2}`: either user ends the pair, whatever its state.
void delete_friendship(const services& svc, request& req, const identity& who,
                       responder respond) {
  auto pair = decoded_body(
    req,
    [](const json& body, std::string& detail) -> std::optional<std::array<std::string, 2>> {
      auto id1 = decode_user_id(body, "user_id1", detail);
      auto id2 = id1 ? decode_user_id(body, "user_id2", detail) : std::nullopt;
      if (!id2)
        return std::nullopt;
      return std::array<std::string, 2>{std::move(*id1), std::move(*id2)};
    },
    respond);
  if (!pair)
    return;
  const auto& [id1, id2] = *pair;
  if (id1 == id2) {
    respond(error_response(400, "user_id1 and user_id2 must differ"));
    return;
  }
  if (who.user_id != id1 && who.user_id != id2) {
    respond(error_response(403, "You can only end a friendship you are part of"));
    return;
  }
  write_friendship(svc, std::move(respond), friendship_op::remove, who,
                   who.user_id == id1 ? id2 : id1);
}

/// The shared tail of the search routes (F8, F9, U16, U17): decodes `q` from the path,
/// answers `[]` for an empty query or page, else asks the database with `op`.
template <class Result, class Atom, class Encode>
void run_search(const services& svc, const request& req, responder respond,
                const char* operation, Encode encode, Atom op, user_search search) {
  // A search ranks every match before it skips `offset` of them: deep offsets are
  // refused rather than left to cost the database a full ranking each.
  if (auto max = svc.cfg.db.max_search_offset; search.page.offset > max) {
    respond(error_response(400, "offset must be at most " + std::to_string(max)));
    return;
  }
  std::string detail;
  auto query = decode_query(req.params.at("q"), detail);
  if (!query) {
    respond(error_response(400, detail));
    return;
  }
  if (query->empty() || search.page.limit == 0) {
    respond(json_response(200, json::array()));
    return;
  }
  search.query = std::move(*query);
  ask<Result>(
    svc, std::move(respond), svc.db, operation,
    [encode](const Result& xs) { return json_array(xs, encode); }, op, std::move(search));
}

/// F8 and F9: the caller's relations whose email or name matches.
void search_friends(const services& svc, request& req, const identity& who, responder respond,
                    search_field field) {
  std::string detail;
  std::optional<bool> exact;
  if (field == search_field::email && !decode_flag(req.query, "exact", exact, detail)) {
    respond(error_response(400, detail));
    return;
  }
  auto page = page_of(req, 10, list_cap, respond);
  if (!page)
    return;
  run_search<std::vector<relation>>(svc, req, std::move(respond), "search_friends",
                                    relation_json, atom::search_relations_v,
                                    user_search{who.user_id, {}, field, exact.value_or(false),
                                                *page});
}

// -- users ----------------------------------------------------------------------------------

/// U16 and U17.
void search_users(const services& svc, request& req, const identity& who, responder respond,
                  search_field field) {
  auto page = page_of(req, list_cap, list_cap, respond);
  if (!page)
    return;
  run_search<std::vector<user_summary>>(svc, req, std::move(respond), "search_users",
                                        user_summary_json, atom::search_users_v,
                                        user_search{who.user_id, {}, field, false, *page});
}


// -- share notifications ----------------------------------------------------------------------

/// N1 (`personal` false) and N2.
void share(const services& svc, request& req, const identity& who, responder respond,
           bool personal) {
  auto share = decoded_body(
    req,
    [personal](const json& body, std::string& detail) {
      return decode_share(body, personal, detail);
    },
    respond);
  if (!share)
    return;
  if (share->sent_to && *share->sent_to == who.user_id) {
    respond(error_response(400, "You cannot share a page with yourself"));
    return;
  }
  ask<std::string>(svc, std::move(respond), svc.users, "share",
                   [](const std::string& event_id) { return json(event_id); }, atom::send_share_v,
                   who.user_id, std::move(*share));
}

/// N3: unread ones from the caller's polled view or actor (polled every minute), the
/// others from the database.
void received(const services& svc, request& req, const identity& who, responder respond) {
  std::string detail;
  std::optional<bool> is_read;
  if (!decode_flag(req.query, "is_read", is_read, detail)) {
    respond(error_response(400, detail));
    return;
  }
  auto page = page_of(req, received_cap, received_cap, respond);
  if (!page)
    return;
  auto shape = [](const std::vector<share_notification>& xs) {
    return json_array(xs, notification_json);
  };
  if (is_read == false) {
    if (auto view = svc.views->find(who.user_id); view && view->unread_serves(*page)) {
      respond(rendered_json(json_page(view->unread, *page)));
      return;
    }
    ask<std::vector<share_notification>>(svc, std::move(respond), svc.users, "unread_shares",
                                         shape, atom::unread_shares_v, who.user_id, *page);
  } else {
    ask<std::vector<share_notification>>(
      svc, std::move(respond), svc.db, "received_shares", shape, atom::fetch_shares_v,
      share_query{who.user_id, is_read ? caf::optional<bool>{*is_read} : caf::none, *page});
  }
}

/// N5.
void mark_read(const services& svc, request& req, const identity& who, responder respond) {
  std::string detail;
  auto ids = decode_read_events(req.body, detail);
  if (!ids) {
    respond(error_response(400, detail));
    return;
  }
  ask<bool>(svc, std::move(respond), svc.users, "mark_shares_read",
            success, atom::mark_shares_read_v, who.user_id,
            std::move(*ids));
}

} // namespace

void add_social_routes(router& r, const services& svc) {
  using F = friendship_op;
  // -- friendships (F1-F10) ---------------------------------------------------------------
  add(r, svc, "GET", "/friendship/check/{id}",
      [](const services& svc, request& req, const identity& who, responder respond) {
        lookup(svc, req, who, std::move(respond), false);
      });
  add(r, svc, "POST", "/friendship/requests",
      [](const services& svc, request& req, const identity& who, responder respond) {
        write_with_body(svc, req, who, std::move(respond), F::request, "user_id2");
      });
  add(r, svc, "GET", "/friendship/requests/{id}",
      [](const services& svc, request& req, const identity& who, responder respond) {
        lookup(svc, req, who, std::move(respond), true);
      });
  add(r, svc, "GET", "/friendship/requests",
      [](const services& svc, request&, const identity& who, responder respond) {
        if (auto view = svc.views->find(who.user_id)) {
          respond(rendered_json(*view->requests));
          return;
        }
        ask<std::vector<relation>>(
          svc, std::move(respond), svc.users, "friend_requests",
          [](const std::vector<relation>& xs) { return json_array(xs, friend_request_json); },
          atom::incoming_requests_v, who.user_id);
      });
  // Declines every pending request to the caller at once (a flood of requests from
  // strangers is one call away from gone).
  add(r, svc, "DELETE", "/friendship/requests",
      [](const services& svc, request&, const identity& who, responder respond) {
        ask<int64_t>(
          svc, std::move(respond), svc.users, "decline_friend_requests",
          [](int64_t n) { return json{{"success", true}, {"declined", n}}; },
          atom::decline_all_requests_v, who.user_id);
      });
  add(r, svc, "POST", "/friendship/accept",
      [](const services& svc, request& req, const identity& who, responder respond) {
        write_with_body(svc, req, who, std::move(respond), F::accept, "user_id1");
      });
  add(r, svc, "DELETE", "/friendship/requests/{id}",
      [](const services& svc, request& req, const identity& who, responder respond) {
        write_friendship(svc, std::move(respond), F::decline, who, req.params.at("id"));
      });
  add(r, svc, "POST", "/friendship/delete",
      [](const services& svc, request& req, const identity& who, responder respond) {
        delete_friendship(svc, req, who, std::move(respond));
      });
  add(r, svc, "GET", "/friendship/search/email/{q}",
      [](const services& svc, request& req, const identity& who, responder respond) {
        search_friends(svc, req, who, std::move(respond), search_field::email);
      });
  add(r, svc, "GET", "/friendship/search/name/{q}",
      [](const services& svc, request& req, const identity& who, responder respond) {
        search_friends(svc, req, who, std::move(respond), search_field::name);
      });
  add(r, svc, "GET", "/friendship/all",
      [](const services& svc, request& req, const identity& who, responder respond) {
        auto page = page_of(req, all_cap, all_cap, respond);
        if (page)
          ask<std::vector<relation>>(
            svc, std::move(respond), svc.users, "all_friendships",
            [](const std::vector<relation>& xs) { return json_array(xs, relation_json); },
            atom::all_relations_v, who.user_id, *page);
      });
  // -- friends of users (U8-U11) and search (U16, U17) --------------------------------------
  add(r, svc, "GET", "/users/id/{id}/mutual-friends",
      [](const services& svc, request& req, const identity& who, responder respond) {
        auto page = page_of(req, list_cap, list_cap, respond);
        if (page)
          ask<std::vector<user_summary>>(
            svc, std::move(respond), svc.users, "mutual_friends",
            [](const std::vector<user_summary>& xs) { return json_array(xs, user_summary_json); },
            atom::mutual_friends_v, who.user_id, req.params.at("id"), *page);
      });
  add(r, svc, "GET", "/users/id/{id}/mutual-friends/count",
      [](const services& svc, request& req, const identity& who, responder respond) {
        ask<int64_t>(svc, std::move(respond), svc.users, "mutual_friend_count", count_json,
                     atom::count_mutual_friends_v, who.user_id, req.params.at("id"));
      });
  add(r, svc, "GET", "/users/id/{id}/friends",
      [](const services& svc, request& req, const identity& who, responder respond) {
        auto page = page_of(req, list_cap, uncapped, respond);
        if (!page)
          return;
        const auto& target = req.params.at("id");
        if (target == who.user_id)
          if (auto view = svc.views->find(who.user_id)) {
            respond(rendered_json(json_page(view->friends, *page)));
            return;
          }
        ask<std::vector<user_summary>>(
            svc, std::move(respond), svc.users, "friends",
          [](const std::vector<user_summary>& xs) { return json_array(xs, friend_json); },
          atom::list_friends_v, who.user_id, target, *page);
      });
  add(r, svc, "GET", "/users/id/{id}/friends/count",
      [](const services& svc, request& req, const identity&, responder respond) {
        ask<int64_t>(svc, std::move(respond), svc.users, "friend_count", count_json,
                     atom::count_friends_v, req.params.at("id"));
      });
  add(r, svc, "GET", "/users/search/email/{q}",
      [](const services& svc, request& req, const identity& who, responder respond) {
        search_users(svc, req, who, std::move(respond), search_field::email);
      });
  add(r, svc, "GET", "/users/search/name/{q}",
      [](const services& svc, request& req, const identity& who, responder respond) {
        search_users(svc, req, who, std::move(respond), search_field::name);
      });
  // -- share notifications (N1-N5) --------------------------------------------------------------
  add(r, svc, "POST", "/notifications/share",
      [](const services& svc, request& req, const identity& who, responder respond) {
        share(svc, req, who, std::move(respond), false);
      });
  add(r, svc, "POST", "/notifications/share/personal",
      [](const services& svc, request& req, const identity& who, responder respond) {
        share(svc, req, who, std::move(respond), true);
      });
  add(r, svc, "GET", "/notifications/share",
      [](const services& svc, request& req, const identity& who, responder respond) {
        received(svc, req, who, std::move(respond));
      });
  add(r, svc, "GET", "/notifications/share/sent",
      [](const services& svc, request& req, const identity& who, responder respond) {
        auto page = page_of(req, 10, sent_cap, respond);
        if (page)
          ask<std::vector<sent_share>>(
            svc, std::move(respond), svc.db, "sent_shares",
            [](const std::vector<sent_share>& xs) { return json_array(xs, sent_share_json); },
            atom::sent_shares_v, who.user_id, *page);
      });
  add(r, svc, "POST", "/notifications/share/read",
      [](const services& svc, request& req, const identity& who, responder respond) {
        mark_read(svc, req, who, std::move(respond));
      });
}

} // namespace tandem::http
