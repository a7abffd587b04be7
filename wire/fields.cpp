#include "wire/fields.hpp"

namespace tandem::wire {

field_check check_text(const std::string& s, const text_rule& rule) {
  field_check out;
  out.value = &s;
  auto f = rule.display ? text::check_name(s) : text::check(s);
  if (f != text::fault::none && f != text::fault::blank) {
    out.fault = field_fault::bad_text;
    out.text = f;
    return out;
  }
  auto length = text::length(s);
  out.fault = length < rule.min || length > rule.max || f == text::fault::blank
                ? field_fault::length
                : field_fault::none;
  return out;
}

field_check text_field(const nlohmann::json& object, const std::string& key,
                       const text_rule& rule) {
  auto i = object.find(key);
  if (i == object.end())
    return {};
  if (!i->is_string())
    return {field_fault::not_string};
  return check_text(i->get_ref<const std::string&>(), rule);
}

const std::string* required_text(const nlohmann::json& object, const std::string& key,
                                 const text_rule& rule, std::string& detail) {
  auto check = text_field(object, key, rule);
  switch (check.fault) {
    case field_fault::none: return check.value;
    case field_fault::missing:
    case field_fault::not_string: detail = key + " is required and must be a string"; break;
    case field_fault::bad_text: detail = key + " " + text::describe(check.text); break;
    case field_fault::length:
      detail = rule.min > 0 ? key + " must be " + std::to_string(rule.min) + " to "
                                + std::to_string(rule.max) + " characters"
                            : key + " must be at most " + std::to_string(rule.max) + " characters";
      break;
  }
  return nullptr;
}

} // namespace tandem::wire
