#include "persistence/media_repo.hpp"

#include "vocabulary/messages.hpp"
#include "persistence/users_repo.hpp"

#include <unordered_map>

namespace tandem::persistence::media_repo {

namespace {

// Both columns change together, as the users_profile_image_pair CHECK demands.
constexpr const char* set_image_sql =
  "UPDATE users SET profile_image_extension = $2, profile_image_uploaded_at = now() "
  "WHERE user_id = $1";

// RETURNING sees the new (NULL) values, so the old extension comes from a locked
// read of the same row in the FROM clause.
constexpr const char* clear_image_sql =
  "UPDATE users AS u SET profile_image_extension = NULL, profile_image_uploaded_at = NULL "
  "FROM (SELECT user_id, profile_image_extension FROM users WHERE user_id = $1 FOR UPDATE) "
  "AS old WHERE u.user_id = old.user_id "
  "RETURNING old.profile_image_extension";

// = ANY($1) takes one text[] parameter whatever the number of ids.
constexpr const char* image_extensions_sql =
  "SELECT user_id, profile_image_extension FROM users "
  "WHERE user_id = ANY($1::text[]) AND profile_image_extension IS NOT NULL";

} // namespace

caf::expected<user_profile> set_profile_image(pqxx::work& tx, const std::string& user_id,
                                              const std::string& ext) {
  auto res = tx.exec_params(set_image_sql, user_id, ext);
  if (res.affected_rows() == 0)
    return caf::make_error(errc::not_found, "User not found");
  // The user's actor keeps the profile, upload time included.
  return users::load(tx, user_id);
}

caf::expected<std::string> clear_profile_image(pqxx::work& tx, const std::string& user_id) {
  auto res = tx.exec_params(clear_image_sql, user_id);
  if (res.empty())
    return caf::make_error(errc::not_found, "User not found");
  return res[0][0].is_null() ? std::string{} : res[0][0].as<std::string>();
}

std::vector<std::string> profile_image_extensions(pqxx::work& tx,
                                                  const std::vector<std::string>& user_ids) {
  std::vector<std::string> exts(user_ids.size());
  if (user_ids.empty())
    return exts;
  auto res = tx.exec_params(image_extensions_sql, users::text_array_literal(user_ids));
  std::unordered_map<std::string, std::string> found;
  for (const auto& row : res)
    found.emplace(row[0].as<std::string>(), row[1].as<std::string>());
  for (std::size_t i = 0; i < user_ids.size(); ++i)
    if (auto it = found.find(user_ids[i]); it != found.end())
      exts[i] = it->second;
  return exts;
}

} // namespace tandem::persistence::media_repo
