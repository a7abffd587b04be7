// Presence over REST (P1, P2): the shapes of the users' actors' answers. The frames
// about presence are wire/ws_frames' update-presence and presence-timeout.
#pragma once

#include "vocabulary/realtime_types.hpp"
#include "wire/wire_json.hpp"

namespace tandem::wire {

/// `{url, title, domain}`, the domain as wire::domain_json.
json page_json(const page_info& page);

/// P1: `{userPresence, presenceArr, userInfoMap}`; each presence `{userId, page,
/// latestPage}` with page and latestPage null while offline, latestPage blank without one.
json overview_json(const presence_overview& o);

/// P2: the raw stored page `{url, title}` (no domain); null while offline.
json peek_json(const presence_state& p);

} // namespace tandem::wire
