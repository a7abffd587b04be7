#include "wire/social_json.hpp"

#include "common/text.hpp"
#include "wire/fields.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <unordered_set>

namespace tandem::wire {

namespace {

/// An http or https URL with a host part: the scheme case-insensitively, then at
/// least one character, none of them blank or a control character.
bool is_web_url(const std::string& url) {
  auto starts_with = [&](const char* prefix) {
    std::string_view p{prefix};
    return url.size() > p.size()
           && std::equal(p.begin(), p.end(), url.begin(), [](char a, char b) {
                return a == std::tolower(static_cast<unsigned char>(b));
              });
  };
  if (!starts_with("http://") && !starts_with("https://"))
    return false;
  return std::none_of(url.begin(), url.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

} // namespace

// -- decoding --------------------------------------------------------------------------------

std::optional<list_window> decode_page(const query_map& query, int32_t default_limit,
                                       int32_t max_limit, std::string& detail) {
  auto read = [&](const char* name, int32_t fallback) -> std::optional<int32_t> {
    auto it = query.find(name);
    if (it == query.end())
      return fallback;
    auto value = count_of(it->second, std::numeric_limits<int32_t>::max());
    if (!value)
      detail = std::string{name} + " must be an integer from 0 to "
               + std::to_string(std::numeric_limits<int32_t>::max());
    return value;
  };
  auto limit = read("limit", default_limit);
  if (!limit)
    return std::nullopt;
  auto offset = read("offset", 0);
  if (!offset)
    return std::nullopt;
  return list_window{std::min(*limit, max_limit), *offset};
}

bool decode_flag(const query_map& query, const std::string& name, std::optional<bool>& value,
                 std::string& detail) {
  auto it = query.find(name);
  value.reset();
  if (it == query.end())
    return true;
  if (it->second == "true" || it->second == "false") {
    value = it->second == "true";
    return true;
  }
  detail = name + " must be true or false";
  return false;
}

std::optional<std::string> decode_user_id(const json& body, const std::string& key,
                                          std::string& detail) {
  const auto* id = required_text(body, key, user_id_rule, detail);
  if (id == nullptr)
    return std::nullopt;
  return *id;
}

std::optional<share_request> decode_share(const json& body, bool personal,
                                          std::string& detail) {
  share_request req;
  if (personal) {
    auto to = decode_user_id(body, "sent_to", detail);
    if (!to)
      return std::nullopt;
    req.sent_to = std::move(*to);
  }
  const auto* url = required_text(body, "url", {0, limits::url}, detail);
  if (url == nullptr)
    return std::nullopt;
  if (!is_web_url(*url)) {
    detail = "url must be an http or https URL without blanks";
    return std::nullopt;
  }
  const auto* title = required_text(body, "title", {0, limits::title}, detail);
  if (title == nullptr)
    return std::nullopt;
  req.url = *url;
  req.title = *title;
  return req;
}

std::optional<std::vector<std::string>> decode_read_events(const std::string& body,
                                                           std::string& detail) {
  auto events = parse_client_json(body, detail);
  if (!detail.empty())
    return std::nullopt;
  if (events.is_discarded() || !events.is_array()) {
    detail = "Request body must be a JSON array of {\"event_id\": ...}";
    return std::nullopt;
  }
  if (events.size() > limits::read_events) {
    detail = "At most " + std::to_string(limits::read_events) + " events at once";
    return std::nullopt;
  }
  std::vector<std::string> ids;
  std::unordered_set<std::string> seen;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    auto it = e.is_object() ? e.find("event_id") : e.end();
    auto id = it != e.end() && it->is_string()
                ? canonical_uuid(it->get_ref<const std::string&>())
                : std::nullopt;
    if (!id) {
      detail = "Entry " + std::to_string(i) + " must be an object with a UUID event_id";
      return std::nullopt;
    }
    if (seen.insert(*id).second)
      ids.push_back(std::move(*id));
  }
  return ids;
}

std::optional<std::string> decode_query(const std::string& param, std::string& detail) {
  auto first = param.find_first_not_of('\\');
  if (first == std::string::npos)
    return std::string{};
  auto last = param.find_last_not_of('\\');
  auto query = param.substr(first, last - first + 1);
  if (text::length(query) > limits::search_text) {
    detail = "The search text must be at most " + std::to_string(limits::search_text)
             + " characters";
    return std::nullopt;
  }
  return query;
}

// -- shaping ------------------------------------------------------------------------------------

json friendship_json(const friendship_row& row) {
  return {
    {"user_id1", row.requester},
    {"user_id2", row.addressee},
    {"requested_at", row.requested_at},
    {"accepted_at", text_or_null(row.accepted_at)},
  };
}

json relation_json(const relation& rel) {
  auto out = card_json(rel.user);
  out["friendship_state"] = rel.row.accepted() ? 2 : 1;
  out.update(friendship_json(rel.row));
  return out;
}

json user_summary_json(const user_summary& s) {
  auto out = card_json(s.user);
  out["friendship_state"] = static_cast<int>(s.state);
  out["mutual_friend_count"] = s.mutual_friend_count ? json(*s.mutual_friend_count)
                                                     : json(nullptr);
  return out;
}

json sent_share_json(const sent_share& s) {
  return {
    {"event_id", s.event_id},
    {"url", s.url},
    {"title", s.title},
    {"sent_at", s.sent_at},
    {"sent_to", text_or_null(s.sent_to)},
    {"not_seen_count", s.not_seen_count},
    {"first_name", text_or_null(s.first_name)},
    {"last_name", text_or_null(s.last_name)},
    {"profile_image_extension", text_or_null(s.profile_image_extension)},
  };
}

} // namespace tandem::wire
