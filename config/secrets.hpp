// Signing keys from configuration: a key is given inline or in a file, falls back to
// a published development key in development mode, and is refused in production
// mode when missing, short or equal to that development key.
#pragma once

#include "config/app_config.hpp"

#include <cstddef>
#include <string>

namespace tandem::config {

/// The HS256 key of access tokens when none is configured in development mode.
/// Public by design: tokens signed with it prove nothing, so production refuses it.
inline constexpr const char* development_jwt_key =
  "tandem-development-jwt-key-not-secret-never-use-in-production";

/// The media URL key when none is configured in development mode (refused in production).
inline constexpr const char* development_media_url_key =
  "tandem-development-media-url-key-not-secret-never-use-in-production";

/// Shortest key production accepts: 32 bytes, the output size of the HMAC-SHA256 they feed.
inline constexpr std::size_t min_production_key_bytes = 32;

/// The access token key from `auth.jwt_key` or `auth.jwt_key_file`. Development mode
/// without either returns `development_jwt_key` and logs a warning. Throws
/// `config_error` when both keys are set, the file cannot be read or is empty, or,
/// in production mode, when the key is missing, shorter than
/// `min_production_key_bytes` or the development key.
std::string resolve_jwt_key(const app_config& cfg);

/// The media URL key from `media.url_key` or `media.url_key_file`, under the same
/// rules as `resolve_jwt_key` (with `development_media_url_key`).
std::string resolve_media_url_key(const app_config& cfg);

} // namespace tandem::config
