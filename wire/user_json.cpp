#include "wire/user_json.hpp"

#include "common/text.hpp"
#include "wire/fields.hpp"

#include <algorithm>
#include <unordered_set>

namespace tandem::wire {

namespace {

/// Reads the required fields of a JSON object body. Each getter returns a harmless
/// default when its field is missing or invalid and remembers the first problem,
/// so a decoder reads every field in a row and checks `ok()` once at the end.
class field_reader {
public:
  explicit field_reader(const json& body) : body_(body) {
  }

  bool ok() const {
    return problem_.empty();
  }

  const std::string& problem() const {
    return problem_;
  }

  /// A string of `min` to `max` characters; names (`min` > 0) are display text.
  std::string text(const std::string& key, std::size_t min, std::size_t max) {
    auto check = text_field(body_, key, {min, max, min > 0});
    switch (check.fault) {
      case field_fault::none: return *check.value;
      case field_fault::missing: fail(key + " is required"); break;
      case field_fault::not_string: fail(key + " must be a string"); break;
      case field_fault::bad_text: fail(key + " " + text::describe(check.text)); break;
      case field_fault::length:
        fail(min > 0 ? key + " must be " + std::to_string(min) + " to " + std::to_string(max)
                         + " characters, not blank"
                     : key + " must be at most " + std::to_string(max) + " characters");
        break;
    }
    return {};
  }

  /// A JSON boolean (not 0/1, not "true").
  bool flag(const std::string& key) {
    auto* value = field(key);
    if (value == nullptr)
      return false;
    if (!value->is_boolean()) {
      fail(key + " must be true or false");
      return false;
    }
    return value->get<bool>();
  }

  share_mode sharing(const std::string& key) {
    auto* value = field(key);
    if (value == nullptr)
      return share_mode::default_none;
    auto parsed = value->is_string() ? parse_share_mode(value->get_ref<const std::string&>())
                                     : std::nullopt;
    if (!parsed) {
      fail(key + R"( must be "default_none" or "default_all")");
      return share_mode::default_none;
    }
    return *parsed;
  }

  std::vector<std::string> domains(const std::string& key) {
    auto* value = field(key);
    if (value == nullptr)
      return {};
    std::string detail;
    auto list = decode_domain_list(*value, key, detail);
    if (!list) {
      fail(detail);
      return {};
    }
    return std::move(*list);
  }

private:
  /// The field `key`, or nullptr (and a problem) when it is missing.
  const json* field(const std::string& key) {
    auto i = body_.find(key);
    if (i == body_.end()) {
      fail(key + " is required");
      return nullptr;
    }
    return &*i;
  }

  void fail(std::string problem) {
    if (problem_.empty())
      problem_ = std::move(problem);
  }

  const json& body_;
  std::string problem_;
};

bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// What a profile shows to anyone: UserPublic, or its first 13 fields of UserPrivate
/// when `owner`, for whom nothing is hidden.
json profile_json(const user_profile& p, bool owner) {
  auto shown = [owner](bool is_public, json value) {
    return owner || is_public ? std::move(value) : json(nullptr);
  };
  auto out = card_json_of(p);
  out.update({
    {"friendship_state", nullptr},
    {"mutual_friend_count", nullptr},
    {"dob", shown(p.dob_public, text_or_null(p.dob))},
    {"gender", shown(p.gender_public, p.gender)},
    {"school", shown(p.school_public, p.school)},
    {"work", shown(p.work_public, p.work)},
    {"location", shown(p.location_public, p.location)},
  });
  return out;
}

} // namespace

std::optional<std::string> normalize_domain(std::string_view text) {
  if (text.empty() || text.size() > limits::domain)
    return std::nullopt;
  auto out = text::ascii_lower(text);
  std::size_t labels = 0;
  std::size_t start = 0;
  std::string_view last;
  while (start <= out.size()) {
    auto end = std::min(out.find('.', start), out.size());
    std::string_view label{out.data() + start, end - start};
    if (label.empty() || label.size() > limits::domain_label || label.front() == '-' || label.back() == '-'
        || !std::all_of(label.begin(), label.end(), is_label_char))
      return std::nullopt;
    ++labels;
    last = label;
    start = end + 1;
  }
  if (labels < 2 || std::all_of(last.begin(), last.end(), is_digit))
    return std::nullopt;
  return out;
}

std::optional<std::vector<std::string>> decode_domain_list(const json& value,
                                                           const std::string& field,
                                                           std::string& detail) {
  if (!value.is_array()) {
    detail = field + " must be an array of domain names";
    return std::nullopt;
  }
  if (value.size() > limits::domains) {
    detail = field + " must have at most " + std::to_string(limits::domains) + " entries";
    return std::nullopt;
  }
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (std::size_t i = 0; i < value.size(); ++i) {
    auto domain = value[i].is_string()
                    ? normalize_domain(value[i].get_ref<const std::string&>())
                    : std::nullopt;
    if (!domain) {
      detail = field + "[" + std::to_string(i) + R"(] must be a domain name such as "example.com")";
      return std::nullopt;
    }
    // "GitHub.com" and "github.com" are one entry once normalised.
    if (seen.insert(*domain).second)
      out.push_back(std::move(*domain));
  }
  return out;
}

std::optional<new_profile> decode_new_profile(const json& body, std::string& detail) {
  field_reader in{body};
  new_profile p;
  p.first_name = in.text("first_name", 1, limits::name);
  p.last_name = in.text("last_name", 1, limits::name);
  if (!in.ok()) {
    detail = in.problem();
    return std::nullopt;
  }
  return p;
}

std::optional<profile_update> decode_profile_update(const json& body, std::string& detail) {
  field_reader in{body};
  profile_update u;
  u.first_name = in.text("first_name", 1, limits::name);
  u.last_name = in.text("last_name", 1, limits::name);
  u.description = in.text("description", 0, limits::profile_text);
  u.sharing = in.sharing("share_mode");
  u.domain_allow = in.domains("domain_allow_array");
  u.domain_deny = in.domains("domain_deny_array");
  u.gender = in.text("gender", 0, limits::profile_text);
  u.school = in.text("school", 0, limits::profile_text);
  u.work = in.text("work", 0, limits::profile_text);
  u.location = in.text("location", 0, limits::profile_text);
  u.email_public = in.flag("email_public");
  u.gender_public = in.flag("gender_public");
  u.school_public = in.flag("school_public");
  u.work_public = in.flag("work_public");
  u.location_public = in.flag("location_public");
  if (!in.ok()) {
    detail = in.problem();
    return std::nullopt;
  }
  return u;
}

std::optional<std::vector<std::string>> split_user_ids(const std::string& param,
                                                       std::string& detail) {
  std::vector<std::string> ids;
  std::size_t start = 0;
  while (start <= param.size()) {
    auto end = std::min(param.find(',', start), param.size());
    if (end > start) {
      if (ids.size() == limits::user_ids) {
        detail = "At most " + std::to_string(limits::user_ids) + " user ids per request";
        return std::nullopt;
      }
      ids.push_back(param.substr(start, end - start));
    }
    start = end + 1;
  }
  return ids;
}

json user_private_json(const user_profile& p) {
  auto out = profile_json(p, true);
  out["email"] = p.email;
  out["email_public"] = p.email_public;
  out["dob_public"] = p.dob_public;
  out["gender_public"] = p.gender_public;
  out["school_public"] = p.school_public;
  out["work_public"] = p.work_public;
  out["location_public"] = p.location_public;
  out["share_mode"] = to_string(p.sharing);
  out["domain_allow_array"] = p.domain_allow;
  out["domain_deny_array"] = p.domain_deny;
  return out;
}

json user_public_json(const user_profile& p) {
  return profile_json(p, false);
}

const json& domain_share_warnings() {
  // The texts of PageNow's user-api, which its clients also keep a copy of.
  static const json warnings = {
    {"google.com",
     "Allowing google.com may result in sharing personal activities (e.g. Gmail, Calendar)"},
    {"messenger.com", "Allowing messenger.com may result in sharing personal activities"},
    {"notion.so", "Allowing notion.so may result in sharing personal activities"},
  };
  return warnings;
}

} // namespace tandem::wire
