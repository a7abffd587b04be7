// SQL for the profile image columns of users (U12-U15): free functions over one
// transaction, called by the database facade's workers.
#pragma once

#include "vocabulary/user_types.hpp"

#include <caf/expected.hpp>
#include <pqxx/pqxx>

#include <string>
#include <vector>

namespace tandem::persistence::media_repo {

/// Records that `user_id` is about to upload an image with extension `ext`:
/// profile_image_extension = ext, profile_image_uploaded_at = now(). Replies the
/// profile, or `errc::not_found` when the user has no profile.
caf::expected<user_profile> set_profile_image(pqxx::work& tx, const std::string& user_id,
                                              const std::string& ext);

/// Nulls both image columns of `user_id` and replies the extension they held
/// ("" when there was no image), or `errc::not_found` when the user has no profile.
caf::expected<std::string> clear_profile_image(pqxx::work& tx, const std::string& user_id);

/// The stored image extension of each of `user_ids`, in the same order: "" for a
/// user without an image or without a profile.
std::vector<std::string> profile_image_extensions(pqxx::work& tx,
                                                  const std::vector<std::string>& user_ids);

} // namespace tandem::persistence::media_repo
