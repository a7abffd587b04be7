// Chat over REST (docs/api.md, Chat: C1-C6, plus cursor paging for replay). Membership
// is checked for every conversation route (the old service had none on C4 and answered
// 502 elsewhere). Conversations and pages come from the database; replay after a seq
// from the conversation's actor, whose ring usually covers it.
#include "actors/conversation_actor.hpp"
#include "wire/wire_json.hpp"
#include "common/text.hpp"
#include "http/actor_bridge.hpp"
#include "http/auth.hpp"
#include "http/error_mapping.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

namespace tandem::http {

namespace {

/// A group names at most this many recipients.
constexpr std::size_t max_recipients = 256;
constexpr std::size_t max_title_length = 300;
constexpr std::size_t max_user_id_length = 128;
/// C5 pages hold at most this many messages.
constexpr int32_t max_page = 100;

response missing_body(const char* key) {
  return error_response(400, std::string{"Missing '"} + key + "' in event body");
}

response missing_parameter(const char* key) {
  return error_response(400, std::string{"Missing '"} + key + "' in event parameter");
}

response invalid(const char* key) {
  return error_response(400, std::string{"Invalid parameter '"} + key + "'");
}

std::string trim(const std::string& s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

/// The conversation id of the path in canonical form, or nullopt after answering 400.
std::optional<std::string> conversation_id(const request& req, const responder& respond) {
  auto id = wire::canonical_uuid(req.params.at("id"));
  if (!id)
    respond(invalid("conversationId"));
  return id;
}

/// A non-negative decimal integer of the query, at most `max`.
template <class T>
std::optional<T> count_of(const std::string& text, T max) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 0)
    return std::nullopt;
  return std::min(value, max);
}

/// C1's body, or nullopt after answering 400.
std::optional<new_conversation> decode_conversation(const request& req, const identity& who,
                                                    const responder& respond) {
  auto body = parse_json_object(req, respond);
  if (!body)
    return std::nullopt;
  for (const char* key : {"recipientIdArr", "isGroup", "title"})
    if (!body->contains(key)) {
      respond(missing_body(key));
      return std::nullopt;
    }
  const auto& ids = (*body)["recipientIdArr"];
  const auto& group = (*body)["isGroup"];
  const auto& title = (*body)["title"];
  if (!group.is_boolean()) {
    respond(invalid("isGroup"));
    return std::nullopt;
  }
  if (!title.is_string()) {
    respond(invalid("title"));
    return std::nullopt;
  }
  new_conversation c{who.user_id, {}, group.get<bool>(), ""};
  std::set<std::string> recipients;
  bool ids_ok = ids.is_array() && !ids.empty() && ids.size() <= max_recipients;
  for (const auto& id : ids_ok ? ids : json::array()) {
    if (!id.is_string() || id.get_ref<const std::string&>().empty()
        || id.get_ref<const std::string&>().size() > max_user_id_length) {
      ids_ok = false;
      break;
    }
    if (id.get_ref<const std::string&>() != who.user_id)
      recipients.insert(id.get<std::string>());
  }
  c.recipients.assign(recipients.begin(), recipients.end());
  if (!ids_ok || c.recipients.size() < (c.is_group ? 2u : 1u)
      || (!c.is_group && c.recipients.size() != 1)) {
    respond(invalid("recipientIdArr"));
    return std::nullopt;
  }
  if (c.is_group) {
    c.title = trim(title.get<std::string>());
    // A group title is display text like a name (the body passed the decoder).
    auto f = text::check_name(c.title);
    if (f == text::fault::blank || wire::utf8_length(c.title) > max_title_length) {
      respond(invalid("title"));
      return std::nullopt;
    }
    if (f != text::fault::none) {
      respond(error_response(400, std::string{"title "} + text::describe(f)));
      return std::nullopt;
    }
  }
  return c;
}

json summary_json(const conversation_summary& s) {
  return {{"conversationId", s.conversation_id}, {"title", s.title},
          {"isGroup", s.is_group},               {"sentAt", s.sent_at},
          {"latestContent", s.latest_content},   {"senderId", s.sender_id},
          {"isRead", s.is_read},                 {"participantId", s.participant_id},
          {"unreadCount", s.unread_count}};
}

json message_json(const chat_message& m) {
  return {{"messageId", m.message_id}, {"conversationId", m.conversation_id},
          {"sentAt", m.sent_at},       {"senderId", m.sender_id},
          {"content", m.content},      {"seq", m.seq}};
}

response messages_response(const std::vector<chat_message>& ms) {
  auto out = json::array();
  for (const auto& m : ms)
    out.push_back(message_json(m));
  return json_response(200, out);
}

auto chat_error(const char* operation) {
  return [operation](const caf::error& err) { return error_to_response(err, operation); };
}

/// C5: which messages the query asks for, or nullopt after answering 400.
std::optional<message_query> decode_query(const request& req, const responder& respond) {
  auto param = [&](const char* key) -> const std::string* {
    auto i = req.query.find(key);
    return i == req.query.end() ? nullptr : &i->second;
  };
  message_query q;
  if (auto* limit = param("limit")) {
    auto n = count_of<int32_t>(*limit, max_page);
    if (!n) {
      respond(invalid("limit"));
      return std::nullopt;
    }
    q.limit = *n;
  }
  for (auto [key, mode] : {std::pair{"after_seq", message_query::after_seq},
                           std::pair{"before_seq", message_query::before_seq}})
    if (auto* seq = param(key)) {
      auto n = count_of<int64_t>(*seq, std::numeric_limits<int64_t>::max());
      if (!n) {
        respond(invalid(key));
        return std::nullopt;
      }
      q.mode = mode;
      q.seq = *n;
      return q;
    }
  // Compat paging: limit and offset required, counted back from the newest.
  for (const char* key : {"limit", "offset"})
    if (param(key) == nullptr) {
      respond(missing_parameter(key));
      return std::nullopt;
    }
  auto offset = count_of<int32_t>(*param("offset"), std::numeric_limits<int32_t>::max());
  if (!offset) {
    respond(invalid("offset"));
    return std::nullopt;
  }
  q.offset = *offset;
  if (auto* order = param("order")) {
    if (*order != "asc" && *order != "desc") {
      respond(invalid("order"));
      return std::nullopt;
    }
    q.ascending = *order == "asc";
  }
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
      auto n = count_of<int32_t>(i->second, limit);
      if (!n || *n == 0)
        return respond(invalid("limit"));
      limit = *n;
    }
    if (auto i = req.query.find("offset"); i != req.query.end()) {
      auto n = count_of<int32_t>(i->second, std::numeric_limits<int32_t>::max());
      if (!n)
        return respond(invalid("offset"));
      offset = *n;
    }
    ask_actor<std::vector<conversation_summary>>(
      svc, std::move(respond),
      [](std::vector<conversation_summary>& xs) {
        auto out = json::array();
        for (const auto& x : xs)
          out.push_back(summary_json(x));
        return json_response(200, out);
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
      [](conversation_info& c) {
        return json_response(200, {{"conversation_id", c.conversation_id},
                                   {"title", c.title},
                                   {"isGroup", c.is_group},
                                   {"participantId", c.participant_id}});
      },
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
