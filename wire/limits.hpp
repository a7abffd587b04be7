// The limits of the PageNow contract, one table per area: every decoder of a REST body,
// query or WebSocket frame reads its limit here. Lengths count characters (code points,
// text::length) unless they say bytes; most mirror a CHECK of the schema.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::wire::limits {

// -- users and profiles (CHECKs of table users) -------------------------------------

/// Longest user id accepted from a client (users.user_id).
constexpr std::size_t user_id = 128;
/// first_name and last_name: 1 to this many characters, not blank.
constexpr std::size_t name = 50;
/// description, gender, school, work and location.
constexpr std::size_t profile_text = 200;
/// Entries in one domain list of a profile.
constexpr std::size_t domains = 500;
/// One domain name (the DNS limit).
constexpr std::size_t domain = 253;
/// One label of a domain name (the DNS limit).
constexpr std::size_t domain_label = 63;
/// Ids in one `GET /users/ids/{ids}` and one U14 request.
constexpr std::size_t user_ids = 100;
/// Search text (the longest e-mail address the schema stores).
constexpr std::size_t search_text = 320;
/// A sender's name in an invitation (the popup's limit).
constexpr std::size_t sender_name = 50;

// -- pages: shares (N1, N2) and presence (update-presence) --------------------------

/// A page's URL (share_events.url).
constexpr std::size_t url = 2048;
/// A title: a page's (share_events.title) and a group conversation's
/// (conversations.title). One limit, since the same clients send both: PageNow stored
/// neither bounded, and tab titles reach 512.
constexpr std::size_t title = 512;
/// Event ids in one `POST /notifications/share/read`.
constexpr std::size_t read_events = 1000;

// -- chat -------------------------------------------------------------------------------

/// Recipients a group names.
constexpr std::size_t recipients = 256;
/// A sender's tempMessageId: 1 to this many characters.
constexpr std::size_t temp_message_id = 128;
/// Messages in one C5 page.
constexpr int32_t message_page = 100;

} // namespace tandem::wire::limits
