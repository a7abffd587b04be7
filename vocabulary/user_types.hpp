// The profile types that cross actors: a user's stored profile, what creating and
// editing one carries, and the page-sharing privacy settings (docs/api.md, Profiles).
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

/// Which pages a user shares with friends (`share_mode`, docs/api.md, Profiles).
enum class share_mode : uint8_t {
  default_none, ///< Share only pages on allow-listed domains.
  default_all,  ///< Share every page except those on deny-listed domains.
};

/// The wire and database spelling: "default_none" or "default_all".
inline const char* to_string(share_mode x) {
  return x == share_mode::default_all ? "default_all" : "default_none";
}

/// Parses the wire spelling; nullopt for anything else.
inline std::optional<share_mode> parse_share_mode(std::string_view text) {
  if (text == "default_none")
    return share_mode::default_none;
  if (text == "default_all")
    return share_mode::default_all;
  return std::nullopt;
}

/// One of a user's two domain lists (the `{share_type}` of U5).
enum class domain_list : uint8_t {
  allow, ///< Shared under `default_none`.
  deny,  ///< Hidden under `default_all`.
};

/// The path spelling: "allow" or "deny".
inline const char* to_string(domain_list x) {
  return x == domain_list::deny ? "deny" : "allow";
}

/// Parses the path spelling; nullopt for anything else.
inline std::optional<domain_list> parse_domain_list(std::string_view text) {
  if (text == "allow")
    return domain_list::allow;
  if (text == "deny")
    return domain_list::deny;
  return std::nullopt;
}

/// A user's profile as stored: everything UserPrivate shows and UserPublic filters
/// (docs/api.md, Profiles). Times and dates are already rendered for the wire, in UTC.
struct user_profile {
  std::string user_id;
  std::string email; ///< Copied from the token at creation and on every full update.
  std::string first_name;
  std::string last_name;
  std::string description;
  caf::optional<std::string> dob; ///< "YYYY-MM-DD"; never written by the API.
  std::string gender;
  std::string school;
  std::string work;
  std::string location;
  bool email_public = false;
  bool dob_public = false;
  bool gender_public = false;
  bool school_public = false;
  bool work_public = false;
  bool location_public = false;
  share_mode sharing = share_mode::default_none; ///< `share_mode` on the wire and in SQL.
  std::vector<std::string> domain_allow; ///< Lower-case domains, no duplicates.
  std::vector<std::string> domain_deny;  ///< Lower-case domains, no duplicates.
  /// "png", "jpeg" or "jpg"; set together with profile_image_uploaded_at.
  caf::optional<std::string> profile_image_extension;
  /// UTC "YYYY-MM-DDTHH:MM:SS.ffffff", without an offset (docs/api.md, Conventions).
  caf::optional<std::string> profile_image_uploaded_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_profile& x) {
  return f(caf::meta::type_name("user_profile"), x.user_id, x.email, x.first_name, x.last_name,
           x.description, x.dob, x.gender, x.school, x.work, x.location, x.email_public,
           x.dob_public, x.gender_public, x.school_public, x.work_public, x.location_public,
           x.sharing, x.domain_allow, x.domain_deny, x.profile_image_extension,
           x.profile_image_uploaded_at);
}

/// What creating a profile (U2) stores besides the defaults: the identity from the
/// token and the names from the body.
struct new_profile {
  std::string user_id;
  std::string email;
  std::string first_name;
  std::string last_name;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_profile& x) {
  return f(caf::meta::type_name("new_profile"), x.user_id, x.email, x.first_name, x.last_name);
}

/// The editable fields of a profile, all replaced at once by U4 (UserUpdate). The
/// email is not here: it always comes from the token.
struct profile_update {
  std::string first_name;
  std::string last_name;
  std::string description;
  share_mode sharing = share_mode::default_none;
  std::vector<std::string> domain_allow; ///< Already normalised by the caller.
  std::vector<std::string> domain_deny;  ///< Already normalised by the caller.
  std::string gender;
  std::string school;
  std::string work;
  std::string location;
  bool email_public = false;
  bool gender_public = false;
  bool school_public = false;
  bool work_public = false;
  bool location_public = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, profile_update& x) {
  return f(caf::meta::type_name("profile_update"), x.first_name, x.last_name, x.description,
           x.sharing, x.domain_allow, x.domain_deny, x.gender, x.school, x.work, x.location,
           x.email_public, x.gender_public, x.school_public, x.work_public, x.location_public);
}

} // namespace tandem
