// Which page a user's friends may see (docs/api.md, Presence and WebSockets;
// enforced on the server): the registrable domain of a URL by the Public Suffix List (libpsl, private
// suffixes such as github.io included, as the extension's psl.js does), and the
// share rule of the user's share_mode and domain lists.
#pragma once

#include "vocabulary/realtime_types.hpp"
#include "vocabulary/user_types.hpp"

#include <caf/optional.hpp>

#include <string>
#include <string_view>

namespace tandem {

/// The registrable domain of the host of `url`, lower case: "" for an empty or
/// unparsable URL, none for a host that has none (localhost, IP addresses,
/// chrome://newtab, a bare public suffix).
caf::optional<std::string> registrable_domain(std::string_view url);

/// The extension's rule: `(default_none && allow has domain) || (default_all && deny
/// lacks domain)`.
bool page_shared(const user_profile& profile, const caf::optional<std::string>& domain);

/// The page as the user's friends may see it: `page` itself when shared, else blank.
page_info visible_page(const user_profile& profile, page_info page);

/// Throws std::runtime_error when no Public Suffix List can be loaded; called at
/// start-up so that a node never runs without one.
void check_public_suffix_list();

} // namespace tandem
