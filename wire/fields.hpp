// The one way a decoder checks a string member of a REST body or a WebSocket frame:
// there, a string, text (or display text) of a length in characters within a rule.
// Every body and frame passed wire::parse_client_json before, so text faults left here
// are those of display text. Each contract area then phrases a fault its own way,
// since the PageNow services worded theirs differently.
#pragma once

#include "common/text.hpp"
#include "wire/limits.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace tandem::wire {

/// What a string field must be.
struct text_rule {
  std::size_t min = 0;                                     ///< characters
  std::size_t max = std::numeric_limits<std::size_t>::max(); ///< characters
  bool display = false;  ///< display text (text::check_name: names, titles)
};

/// A user id named by a client.
constexpr text_rule user_id_rule{1, limits::user_id};

/// Why a field failed its rule.
enum class field_fault : uint8_t {
  none,
  missing,     ///< no such member
  not_string,  ///< a member of another JSON type
  bad_text,    ///< display text with a control or bidi character (`field_check::text`)
  length,      ///< too short, too long, or display text without a visible character
};

struct field_check {
  field_fault fault = field_fault::missing;
  text::fault text = text::fault::none;  ///< the text fault of `bad_text`
  const std::string* value = nullptr;    ///< the member's text unless missing or not a string
  explicit operator bool() const { return fault == field_fault::none; }
};

/// Checks `s`, which passed the decoder, against `rule`: its text fault first, then its
/// length.
field_check check_text(const std::string& s, const text_rule& rule);

/// Whether `s` passes `rule`.
inline bool fits(const std::string& s, const text_rule& rule) {
  return static_cast<bool>(check_text(s, rule));
}

/// Checks member `key` of the JSON object `object` against `rule`.
field_check text_field(const nlohmann::json& object, const std::string& key,
                       const text_rule& rule);

/// Member `key` of `object` if it passes `rule`; else nullptr, and `detail` says why in
/// the words of the user and auth routes ("url is required and must be a string").
const std::string* required_text(const nlohmann::json& object, const std::string& key,
                                 const text_rule& rule, std::string& detail);

} // namespace tandem::wire
