// Percent-encoding, through Boost.URL: the one decoder of a request's path segments and
// query values, and the encoder of the paths the node signs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tandem::url {

/// Percent-decodes `in`, '+' as a space when `plus_is_space` (query strings). Returns
/// nullopt on a malformed escape or when the result fails text::check (NUL, not UTF-8),
/// so that such a value reaches no handler, database or log.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

/// `path` with everything but RFC 3986's unreserved characters and '/' percent-encoded
/// (upper-case hex).
std::string encode_path(std::string_view path);

} // namespace tandem::url
