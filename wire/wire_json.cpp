#include "wire/wire_json.hpp"

#include "common/text.hpp"
#include "wire/page_privacy.hpp"

#include <boost/uuid/string_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <stdexcept>

namespace tandem::wire {

std::optional<std::string> canonical_uuid(std::string_view text) {
  // The dashed form only: Boost's parser also takes braces and the 32 digits alone.
  if (text.size() != 36)
    return std::nullopt;
  try {
    return boost::uuids::to_string(boost::uuids::string_generator{}(text.begin(), text.end()));
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
}

json parse_client_json(std::string_view text, std::string& bad_text) {
  bad_text.clear();
  if (auto f = text::check(text); f != text::fault::none) {
    bad_text = std::string{"Text "} + text::describe(f);
    return json::value_t::discarded;
  }
  std::string key;  // the member being read, to name it in the answer
  auto parsed = json::parse(text, [&](int, json::parse_event_t event, json& value) {
    if (!bad_text.empty() || !value.is_string())
      return true;
    const auto& str = value.get_ref<const std::string&>();
    auto f = text::check(str);
    if (f == text::fault::none) {
      if (event == json::parse_event_t::key)
        key = str;
      return true;
    }
    bad_text = event == json::parse_event_t::key ? std::string{"A member name "}
               : key.empty()                         ? std::string{"A string "}
                                                     : "'" + key + "' ";
    bad_text += text::describe(f);
    return true;
  }, false);
  if (!bad_text.empty())
    return json::value_t::discarded;
  return parsed;
}

std::string to_text(const json& x) {
  return x.dump(-1, ' ', false, json::error_handler_t::replace);
}

json text_or_null(const caf::optional<std::string>& x) {
  return x ? json(*x) : json(nullptr);
}

json domain_json(const std::string& url) {
  auto domain = registrable_domain(url);
  return domain ? json(*domain) : json(nullptr);
}

json card_json(const user_card& c) {
  return card_json_of(c);
}

json friend_request_json(const relation& rel) {
  auto out = card_json(rel.user);
  out["requested_at"] = rel.row.requested_at;
  return out;
}

json friend_json(const user_summary& s) {
  return {
    {"user_id", s.user.user_id},
    {"first_name", s.user.first_name},
    {"last_name", s.user.last_name},
    {"description", s.user.description},
    {"profile_image_extension", text_or_null(s.user.profile_image_extension)},
    {"friendship_state", static_cast<int>(s.state)},
  };
}

json notification_json(const share_notification& n) {
  return {
    {"event_id", n.event_id},
    {"user_id", n.sender.user_id},
    {"sent_at", n.sent_at},
    {"url", n.url},
    {"title", n.title},
    {"seen_at", text_or_null(n.seen_at)},
    {"first_name", n.sender.first_name},
    {"last_name", n.sender.last_name},
    {"profile_image_extension", text_or_null(n.sender.profile_image_extension)},
  };
}

} // namespace tandem::wire
