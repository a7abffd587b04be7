#include "wire/chat_json.hpp"

#include "common/text.hpp"
#include "wire/fields.hpp"

#include <limits>
#include <set>

namespace tandem::wire {

namespace {

std::string missing(const char* key, const char* where) {
  return std::string{"Missing '"} + key + "' in event " + where;
}

} // namespace

std::string invalid_parameter(const std::string& key) {
  return "Invalid parameter '" + key + "'";
}

std::optional<new_conversation> decode_new_conversation(const json& body,
                                                        const std::string& creator,
                                                        std::string& detail) {
  for (const char* key : {"recipientIdArr", "isGroup", "title"})
    if (!body.contains(key)) {
      detail = missing(key, "body");
      return std::nullopt;
    }
  const auto& ids = body["recipientIdArr"];
  const auto& group = body["isGroup"];
  const auto& title = body["title"];
  if (!group.is_boolean()) {
    detail = invalid_parameter("isGroup");
    return std::nullopt;
  }
  if (!title.is_string()) {
    detail = invalid_parameter("title");
    return std::nullopt;
  }
  new_conversation c{creator, {}, group.get<bool>(), ""};
  std::set<std::string> recipients;
  bool ids_ok = ids.is_array() && !ids.empty() && ids.size() <= limits::recipients;
  for (const auto& id : ids_ok ? ids : json::array()) {
    if (!id.is_string() || !fits(id.get_ref<const std::string&>(), user_id_rule)) {
      ids_ok = false;
      break;
    }
    if (id.get_ref<const std::string&>() != creator)
      recipients.insert(id.get<std::string>());
  }
  c.recipients.assign(recipients.begin(), recipients.end());
  if (!ids_ok || c.recipients.size() < (c.is_group ? 2u : 1u)
      || (!c.is_group && c.recipients.size() != 1)) {
    detail = invalid_parameter("recipientIdArr");
    return std::nullopt;
  }
  if (c.is_group) {
    c.title = std::string{text::trim(title.get_ref<const std::string&>())};
    // A group title is display text like a name (the body passed the decoder).
    auto f = text::check_name(c.title);
    if (f == text::fault::blank || text::length(c.title) > limits::title) {
      detail = invalid_parameter("title");
      return std::nullopt;
    }
    if (f != text::fault::none) {
      detail = std::string{"title "} + text::describe(f);
      return std::nullopt;
    }
  }
  return c;
}

std::optional<message_query> decode_message_query(const query_map& query, std::string& detail) {
  auto param = [&](const char* key) -> const std::string* {
    auto i = query.find(key);
    return i == query.end() ? nullptr : &i->second;
  };
  message_query q;
  if (auto* limit = param("limit")) {
    auto n = count_of<int32_t>(*limit, limits::message_page);
    if (!n) {
      detail = invalid_parameter("limit");
      return std::nullopt;
    }
    q.limit = *n;
  }
  for (auto [key, mode] : {std::pair{"after_seq", message_query::after_seq},
                           std::pair{"before_seq", message_query::before_seq}})
    if (auto* seq = param(key)) {
      auto n = count_of<int64_t>(*seq, std::numeric_limits<int64_t>::max());
      if (!n) {
        detail = invalid_parameter(key);
        return std::nullopt;
      }
      q.mode = mode;
      q.seq = *n;
      return q;
    }
  // Compat paging: limit and offset required, counted back from the newest.
  for (const char* key : {"limit", "offset"})
    if (param(key) == nullptr) {
      detail = missing(key, "parameter");
      return std::nullopt;
    }
  auto offset = count_of<int32_t>(*param("offset"), std::numeric_limits<int32_t>::max());
  if (!offset) {
    detail = invalid_parameter("offset");
    return std::nullopt;
  }
  q.offset = *offset;
  if (auto* order = param("order")) {
    if (*order != "asc" && *order != "desc") {
      detail = invalid_parameter("order");
      return std::nullopt;
    }
    q.ascending = *order == "asc";
  }
  return q;
}

json message_json(const chat_message& m) {
  return {{"messageId", m.message_id}, {"conversationId", m.conversation_id},
          {"sentAt", m.sent_at},       {"senderId", m.sender_id},
          {"content", m.content},      {"seq", m.seq}};
}

json summary_json(const conversation_summary& s) {
  return {{"conversationId", s.conversation_id}, {"title", s.title},
          {"isGroup", s.is_group},               {"sentAt", s.sent_at},
          {"latestContent", s.latest_content},   {"senderId", s.sender_id},
          {"isRead", s.is_read},                 {"participantId", s.participant_id},
          {"unreadCount", s.unread_count}};
}

json conversation_info_json(const conversation_info& c) {
  return {{"conversation_id", c.conversation_id},
          {"title", c.title},
          {"isGroup", c.is_group},
          {"participantId", c.participant_id}};
}

} // namespace tandem::wire
