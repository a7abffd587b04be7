#include "http/social_json.hpp"

#include "http/user_json.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <unordered_set>

namespace tandem::http {

using wire::canonical_uuid;
using wire::card_json;
using wire::text_or_null;

namespace {

/// The member `key` of `body` if it is a string without NUL (libpq passes parameters
/// as C strings: a NUL would silently cut the text short); else fills `detail`.
const std::string* string_member(const json& body, const std::string& key,
                                 std::string& detail) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string()) {
    detail = key + " is required and must be a string";
    return nullptr;
  }
  const auto& str = it->get_ref<const std::string&>();
  if (str.find('\0') != std::string::npos) {
    detail = key + " must not contain NUL characters";
    return nullptr;
  }
  return &str;
}

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

/// The card's keys shared by F4, F8-F10 and UserSummary.
} // namespace

// -- decoding --------------------------------------------------------------------------------

std::optional<list_window> decode_page(const request& req, int32_t default_limit,
                                        int32_t max_limit, std::string& detail) {
  auto read = [&](const char* name, int32_t fallback) -> std::optional<int32_t> {
    auto it = req.query.find(name);
    if (it == req.query.end())
      return fallback;
    const auto& text = it->second;
    int32_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    // from_chars takes a leading '-', which is exactly what must be refused here.
    if (text.empty() || text[0] == '-' || ec != std::errc{} || end != text.data() + text.size()) {
      detail = std::string{name} + " must be an integer from 0 to "
               + std::to_string(std::numeric_limits<int32_t>::max());
      return std::nullopt;
    }
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

bool decode_flag(const request& req, const std::string& name, std::optional<bool>& value,
                 std::string& detail) {
  auto it = req.query.find(name);
  value.reset();
  if (it == req.query.end())
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
  const auto* id = string_member(body, key, detail);
  if (id == nullptr)
    return std::nullopt;
  auto length = utf8_length(*id);
  if (length == 0 || length > max_user_id_length) {
    detail = key + " must be 1 to " + std::to_string(max_user_id_length) + " characters";
    return std::nullopt;
  }
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
  const auto* url = string_member(body, "url", detail);
  if (url == nullptr)
    return std::nullopt;
  if (utf8_length(*url) > max_url_length) {
    detail = "url must be at most " + std::to_string(max_url_length) + " characters";
    return std::nullopt;
  }
  if (!is_web_url(*url)) {
    detail = "url must be an http or https URL without blanks";
    return std::nullopt;
  }
  const auto* title = string_member(body, "title", detail);
  if (title == nullptr)
    return std::nullopt;
  if (utf8_length(*title) > max_title_length) {
    detail = "title must be at most " + std::to_string(max_title_length) + " characters";
    return std::nullopt;
  }
  req.url = *url;
  req.title = *title;
  return req;
}

std::optional<std::vector<std::string>> decode_read_events(const std::string& body,
                                                           std::string& detail) {
  auto events = wire::parse_client_json(body, detail);
  if (!detail.empty())
    return std::nullopt;
  if (events.is_discarded() || !events.is_array()) {
    detail = "Request body must be a JSON array of {\"event_id\": ...}";
    return std::nullopt;
  }
  if (events.size() > max_read_events) {
    detail = "At most " + std::to_string(max_read_events) + " events at once";
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
  if (utf8_length(query) > max_query_length) {
    detail = "The search text must be at most " + std::to_string(max_query_length)
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

} // namespace tandem::http
