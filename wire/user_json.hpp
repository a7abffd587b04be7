// Profiles on the wire: decoding and validating the bodies of the profile routes, and
// shaping profiles as UserPrivate and UserPublic (docs/api.md, Profiles).
#pragma once

#include "vocabulary/messages.hpp"
#include "wire/limits.hpp"
#include "wire/wire_json.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::wire {

// -- validation (the limits are wire/limits.hpp's) --------------------------------

/// `text` in lower case if it is a plausible domain name, else nullopt. Plausible:
/// at most `limits::domain` characters; at least two dot-separated labels; each label 1 to 63 of
/// `[a-z0-9-]` (after lower-casing ASCII letters), not starting or ending with '-';
/// a top-level label not all digits (so no IPv4 address). Internationalised names
/// are accepted in their ASCII (punycode, `xn--`) form, which is what browsers show
/// the extension. Deliberately no Public Suffix List check: lists may hold any
/// registrable domain, including private suffixes such as `github.io`.
std::optional<std::string> normalize_domain(std::string_view text);

/// A domain list from `value`, a JSON array of at most `limits::domains` domain names:
/// each normalised, duplicates dropped (the first kept), order kept. On failure
/// fills `detail` naming `field` (and the index of a bad entry) and returns nullopt.
std::optional<std::vector<std::string>> decode_domain_list(const json& value,
                                                           const std::string& field,
                                                           std::string& detail);

/// The names of a new profile from U2's body: `first_name` and `last_name`, required
/// strings of 1 to `limits::name` characters, not blank. Other fields are ignored;
/// user_id and email stay empty for the caller to fill in from the token. On failure
/// fills `detail` and returns nullopt.
std::optional<new_profile> decode_new_profile(const json& body, std::string& detail);

/// U4's UserUpdate: every editable field is required (names as in
/// `decode_new_profile`; description, gender, school, work and location strings of at
/// most `limits::profile_text` characters; share_mode "default_none" or "default_all";
/// `domain_allow_array` and `domain_deny_array` as in `decode_domain_list`; the five
/// `*_public` flags JSON booleans). Other fields are ignored. On failure fills
/// `detail` with the first problem found and returns nullopt.
std::optional<profile_update> decode_profile_update(const json& body, std::string& detail);

/// The ids of U7's `{ids}` path parameter, split at commas, empty pieces dropped. More
/// than `limits::user_ids` fills `detail` and returns nullopt.
std::optional<std::vector<std::string>> split_user_ids(const std::string& param,
                                                       std::string& detail);

// -- shaping ----------------------------------------------------------------------

/// UserPrivate: the owner's view, every field. friendship_state and
/// mutual_friend_count are null (they only mean something between two users).
json user_private_json(const user_profile& p);

/// UserPublic: the first 13 fields of UserPrivate, with dob, gender, school, work and
/// location null unless their `*_public` flag is set. Never the email nor the flags.
json user_public_json(const user_profile& p);

/// U18: the domains whose sharing deserves a warning, with the warning to show.
const json& domain_share_warnings();

} // namespace tandem::wire
