// Chat over REST (docs/api.md, Chat: C1-C6, plus cursor paging for replay). Membership
// is checked for every conversation route (the old service had none on C4 and answered
// 502 elsewhere). Conversations and pages come from the database; replay after a seq
// from the conversation's actor, whose ring usually covers it.
#include "actors/conversation_actor.hpp"
#include "wire/chat_json.hpp"
#include "http/actor_bridge.hpp"
#include "http/auth.hpp"
#include "http/error_mapping.hpp"

#include <limits>

namespace tandem::http {

namespace {

using wire::invalid_parameter;

response invalid(const char* key) {
  return error_response(400, invalid_parameter(key));
}

/// The conversation id of the path in canonical form, or nullopt after answering 400.
std::optional<std::string> conversation_id(const request& req, const responder& respond) {
  auto id = wire::canonical_uuid(req.params.at("id"));
  if (!id)
    respond(invalid("conversationId"));
  return id;
}

/// C1's body, or nullopt after answering 400.
std::optional<new_conversation> decode_conversation(const request& req, const identity& who,
                                                    const responder& respond) {
  return decoded_body(
    req,
    [&who](const json& body, std::string& detail) {
      return wire::decode_new_conversation(body, who.user_id, detail);
    },
    respond);
}

response messages_response(const std::vector<chat_message>& ms) {
  return json_response(200, wire::json_array(ms, wire::message_json));
}

auto chat_error(const char* operation) {
  return [operation](const caf::error& err) { return error_to_response(err, operation); };
}

/// C5: which messages the query asks for, or nullopt after answering 400.
std::optional<message_query> decode_query(const request& req, const responder& respond) {
  std::string detail;
  auto q = wire::decode_message_query(req.query, detail);
  if (!q)
    respond(error_response(400, detail));
  return q;
}

} // namespace

void add_chat_routes(router& r, const services& svc) {
  auto add = [&](const char* method, const char* pattern, authed_handler fn) {
    r.add(method, pattern, protected_route(svc, std::move(fn)), 64 * 1024);
  };
  add("POST", "/conversation", [svc](request& req, const identity& who, responder respond) {
    auto c = decode_conversation(req, who, respond);
    if (!c)
      return;
    // The creator's budget first (the conversation registry keeps it), then the database.
    auto timeout = std::chrono::milliseconds(svc.cfg.http.request_timeout_ms);
    svc.sys.spawn([svc, timeout, c = std::move(*c),
                   respond = std::move(respond)](caf::event_based_actor* self) {
      self->request(svc.chats, timeout, atom::create_conversation_v, c.creator)
        .then(
          [svc, c, respond](bool) {
            ask_actor<std::string>(
              svc, respond,
              [](std::string& id) { return json_response(200, {{"conversationId", id}}); },
              chat_error("create_conversation"), svc.db, atom::create_conversation_v, c);
          },
          [respond](caf::error& err) { respond(chat_error("create_conversation")(err)); });
    });
  });
  add("GET", "/conversation/direct/{userId}",
      [svc](request& req, const identity& who, responder respond) {
        ask_actor<std::string>(
          svc, std::move(respond),
          [](std::string& id) {
            // No conversation yet: an empty body, which the client reads as null.
            return id.empty() ? response{200, "", "application/json", {}}
                              : json_response(200, {{"conversationId", id}});
          },
          chat_error("find_direct_conversation"), svc.db, atom::direct_conversation_v, who.user_id,
          req.params.at("userId"));
      });
  add("GET", "/conversations", [svc](request& req, const identity& who, responder respond) {
    int8_t is_read = -1;
    if (auto i = req.query.find("isRead"); i != req.query.end()) {
      if (i->second != "true" && i->second != "false")
        return respond(invalid("isRead"));
      is_read = i->second == "true" ? 1 : 0;
    }
    // Paging: the old clients send neither key and get the largest page (compat C3).
    int32_t limit = svc.cfg.chat.conversations_page_max;
    int32_t offset = 0;
    if (auto i = req.query.find("limit"); i != req.query.end()) {
      auto n = wire::count_of<int32_t>(i->second, limit);
      if (!n || *n == 0)
        return respond(invalid("limit"));
      limit = *n;
    }
    if (auto i = req.query.find("offset"); i != req.query.end()) {
      auto n = wire::count_of<int32_t>(i->second, std::numeric_limits<int32_t>::max());
      if (!n)
        return respond(invalid("offset"));
      offset = *n;
    }
    ask_actor<std::vector<conversation_summary>>(
      svc, std::move(respond),
      [](std::vector<conversation_summary>& xs) {
        return json_response(200, wire::json_array(xs, wire::summary_json));
      },
      chat_error("list_conversations"), svc.db, atom::list_conversations_v, who.user_id, is_read, limit,
      offset);
  });
  add("GET", "/conversations/{id}", [svc](request& req, const identity& who, responder respond) {
    auto id = conversation_id(req, respond);
    if (!id)
      return;
    ask_actor<conversation_info>(
      svc, std::move(respond),
      [](conversation_info& c) { return json_response(200, wire::conversation_info_json(c)); },
      chat_error("conversation_info"), svc.db, atom::get_conversation_info_v, who.user_id, *id);
  });
  add("GET", "/conversations/{id}/messages",
      [svc](request& req, const identity& who, responder respond) {
        auto id = conversation_id(req, respond);
        if (!id)
          return;
        auto q = decode_query(req, respond);
        if (!q)
          return;
        auto on_reply = [](std::vector<chat_message>& ms) { return messages_response(ms); };
        if (q->mode == message_query::after_seq)
          return ask_actor<std::vector<chat_message>>(
            svc, std::move(respond), on_reply, chat_error("replay_messages"), svc.chats,
            atom::messages_after_v, *id, who.user_id, q->seq, q->limit);
        ask_actor<std::vector<chat_message>>(svc, std::move(respond), on_reply,
                                             chat_error("conversation_messages"), svc.db,
                                             atom::message_history_v, who.user_id, *id, *q);
      });
  add("GET", "/conversations/{id}/participants",
      [svc](request& req, const identity& who, responder respond) {
        auto id = conversation_id(req, respond);
        if (!id)
          return;
        ask_actor<std::vector<std::string>>(
          svc, std::move(respond),
          [](std::vector<std::string>& ids) { return json_response(200, ids); },
          chat_error("conversation_participants"), svc.db, atom::list_participants_v, who.user_id, *id);
      });
  // Leaving a group goes through its actor, which owns the membership.
  add("DELETE", "/conversations/{id}/participants/me",
      [svc](request& req, const identity& who, responder respond) {
        auto id = conversation_id(req, respond);
        if (!id)
          return;
        ask_actor<bool>(
          svc, std::move(respond), [](bool) { return json_response(200, {{"success", true}}); },
          chat_error("leave_conversation"), svc.chats, atom::leave_conversation_v, *id, who.user_id);
      });
}

} // namespace tandem::http
