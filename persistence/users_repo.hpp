// The SQL of profiles (table `users`): free functions over an open transaction, run
// by the database facade's workers. Inputs are validated by the caller; the table's
// CHECKs are the last line of defence.
#pragma once

#include "vocabulary/messages.hpp"

#include <pqxx/pqxx>

#include <string>
#include <vector>

namespace tandem::persistence::users {

/// The allow list every new profile starts with: PageNow's DEFAULT_DOMAIN_ALLOW_ARRAY
/// (the PageNow user service's default) without its duplicates, in its order.
const std::vector<std::string>& default_domain_allow();

/// The deny list every new profile starts with (DEFAULT_DOMAIN_DENY_ARRAY).
const std::vector<std::string>& default_domain_deny();

/// Inserts a profile with the default domain lists and `share_mode` default_none, and
/// returns it. `errc::already_exists` when `p.user_id` has a profile.
caf::expected<user_profile> insert(pqxx::work& tx, const new_profile& p);

/// The profile of `user_id`; `errc::not_found` when there is none.
caf::expected<user_profile> load(pqxx::work& tx, const std::string& user_id);

/// The profiles of those `ids` that exist, each once, in the order of its first
/// occurrence in `ids`.
std::vector<user_profile> load_many(pqxx::work& tx, const std::vector<std::string>& ids);

/// Replaces the editable fields of `who.user_id` and its email with `who.email`, and
/// returns the profile; `errc::not_found` when there is none.
caf::expected<user_profile> update(pqxx::work& tx, const identity& who, const profile_update& u);

/// Replaces one domain list of `user_id` and returns the profile; `errc::not_found`
/// when there is none.
caf::expected<user_profile> set_domains(pqxx::work& tx, const std::string& user_id,
                                        domain_list which, const std::vector<std::string>& domains);

/// `xs` as a PostgreSQL array literal (`{"a","b\"c"}`) for a `$n::text[]` parameter:
/// libpqxx 6.4 cannot bind a container. Every element is quoted and escaped, so any
/// text without NUL round-trips.
std::string text_array_literal(const std::vector<std::string>& xs);

} // namespace tandem::persistence::users
