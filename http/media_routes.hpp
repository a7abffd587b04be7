// Input checks of the media routes (http/media_routes.cpp), pure and
// exposed for the unit tests. The routes themselves are added by add_media_routes.
#pragma once

#include "persistence/media_store.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace tandem::http {

/// The extension of an `image_ext` parameter, lower-cased: "png", "jpeg" or "jpg";
/// nullopt for anything else.
std::optional<std::string> parse_image_ext(std::string_view text);

/// The image format a Content-Type header names (parameters and case ignored):
/// image/png is PNG; image/jpeg, image/jpg and image/pjpeg are JPEG; else unknown.
persistence::image_format format_of_content_type(std::string_view content_type);

} // namespace tandem::http
