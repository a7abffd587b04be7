// The social graph and share notification values that cross actors: user cards,
// friendships and their changes, share notifications, paging and search requests
// (docs/api.md). Included by vocabulary/messages.hpp, which registers them.
#pragma once

#include "vocabulary/user_types.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

// -- users as others see them ---------------------------------------------------------

/// What lists show of a user (the identifying part of UserSummary): enough for F4,
/// U8, U10, N3 and search results. Times are rendered UTC without an offset.
struct user_card {
  std::string user_id;
  std::string first_name;
  std::string last_name;
  std::string description;
  caf::optional<std::string> profile_image_extension;
  caf::optional<std::string> profile_image_uploaded_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_card& x) {
  return f(caf::meta::type_name("user_card"), x.user_id, x.first_name, x.last_name,
           x.description, x.profile_image_extension, x.profile_image_uploaded_at);
}

/// The card of a profile: what others see of the user in lists.
inline user_card card_of(const user_profile& p) {
  return {p.user_id, p.first_name, p.last_name, p.description, p.profile_image_extension,
          p.profile_image_uploaded_at};
}

/// How two users relate, 0/1/2 on the wire (friendship_state, docs/api.md).
enum class friendship_state : uint8_t {
  none = 0,    ///< No row for the pair.
  pending = 1, ///< A request in either direction, not yet accepted.
  friends = 2, ///< Accepted.
};

/// UserSummary (docs/api.md, Friendships): a card and how it relates to the caller.
/// `mutual_friend_count` is only filled by the searches (null elsewhere on the wire).
struct user_summary {
  user_card user;
  friendship_state state = friendship_state::none;
  caf::optional<int64_t> mutual_friend_count;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_summary& x) {
  return f(caf::meta::type_name("user_summary"), x.user, x.state, x.mutual_friend_count);
}

// -- friendships ------------------------------------------------------------------------

/// The one friendship row of an unordered pair, in F1's terms: `requester` is
/// user_id1 and `addressee` user_id2. No `accepted_at` means pending.
struct friendship_row {
  std::string requester;
  std::string addressee;
  std::string requested_at;
  caf::optional<std::string> accepted_at;
  /// A pending request is gone from this time on (Unix milliseconds; 0: never).
  int64_t expires_at = 0;

  /// Whether the row is a pending request that has expired at `now_ms`.
  bool expired(int64_t now_ms) const {
    return !accepted_at && expires_at != 0 && expires_at <= now_ms;
  }

  bool accepted() const {
    return static_cast<bool>(accepted_at);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, friendship_row& x) {
  return f(caf::meta::type_name("friendship_row"), x.requester, x.addressee, x.requested_at,
           x.accepted_at, x.expires_at);
}

/// F1 and F3: the row between two users, if any.
struct friendship_lookup {
  bool found = false;
  friendship_row row; ///< Meaningful when `found`.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, friendship_lookup& x) {
  return f(caf::meta::type_name("friendship_lookup"), x.found, x.row);
}

/// Another user related to someone (a friend, or a pending request either way) with
/// the row that relates them: the entries of F4, F8, F9 and F10.
struct relation {
  user_card user;
  friendship_row row;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, relation& x) {
  return f(caf::meta::type_name("relation"), x.user, x.row);
}

/// The four friendship writes (F2, F5, F6, F7).
enum class friendship_op : uint8_t {
  request, ///< caller asks other (F2).
  accept,  ///< caller accepts other's pending request (F5).
  decline, ///< caller declines other's pending request (F6).
  remove,  ///< either side ends the pair: unfriend, cancel or decline (F7).
};

/// One friendship write by `caller` about the pair {caller, other}. The routes ensure
/// `caller != other`; the database checks everything else.
struct friendship_command {
  friendship_op op = friendship_op::request;
  std::string caller;
  std::string other;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, friendship_command& x) {
  return f(caf::meta::type_name("friendship_command"), x.op, x.caller, x.other);
}

/// Bounds checked by friendship writes (users.max_pending_requests, users.max_friends,
/// users.max_outgoing_requests) and the lifetime of a new request (users.request_ttl_s).
struct friendship_limits {
  int32_t max_pending = 0;   ///< Pending requests to one user.
  int32_t max_friends = 0;   ///< Accepted friends per user.
  int32_t max_outgoing = 0;  ///< Pending requests from one user.
  int32_t request_ttl_s = 0; ///< Seconds until a new request expires.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, friendship_limits& x) {
  return f(caf::meta::type_name("friendship_limits"), x.max_pending, x.max_friends,
           x.max_outgoing, x.request_ttl_s);
}

/// The state of a pair after a committed write, as both of its users' actors apply
/// it: the row (absent when the write deleted it) and both users' cards, the lower
/// user id first (the pair's order in table friendships). A deletion that names the
/// deleted row (`requested_at` set) removes only that row: a bulk decline runs outside
/// the pair's owner, and must not undo a newer write of the pair that overtook it.
struct friendship_change {
  bool exists = false;
  friendship_row row; ///< Meaningful when `exists`.
  user_card low;
  user_card high;

  /// The card of the user in the pair who is not `me`.
  const user_card& other_than(const std::string& me) const {
    return low.user_id == me ? high : low;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, friendship_change& x) {
  return f(caf::meta::type_name("friendship_change"), x.exists, x.row, x.low, x.high);
}

// -- share notifications ------------------------------------------------------------

/// A page shared with a user, as the recipient sees it (N3): the event, when the
/// recipient saw it (null: unread) and the sender's card.
struct share_notification {
  std::string event_id;
  std::string sent_at;
  std::string url;
  std::string title;
  caf::optional<std::string> seen_at;
  user_card sender;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, share_notification& x) {
  return f(caf::meta::type_name("share_notification"), x.event_id, x.sent_at, x.url, x.title,
           x.seen_at, x.sender);
}

/// A user's unread notifications, newest first, at most a configured number of them;
/// `complete` says whether that is all of them.
struct unread_snapshot {
  std::vector<share_notification> items;
  bool complete = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unread_snapshot& x) {
  return f(caf::meta::type_name("unread_snapshot"), x.items, x.complete);
}

/// What N1 (no `sent_to`) and N2 share; validated by the routes.
struct share_request {
  caf::optional<std::string> sent_to;
  std::string url;
  std::string title;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, share_request& x) {
  return f(caf::meta::type_name("share_request"), x.sent_to, x.url, x.title);
}

/// A committed share: the notification its recipients get, and who they are.
struct share_receipt {
  share_notification note;
  std::vector<std::string> recipients;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, share_receipt& x) {
  return f(caf::meta::type_name("share_receipt"), x.note, x.recipients);
}

/// The outcome of marking notifications read (N5): which of them were unread and
/// now are read, and the unread ones after the write.
struct read_receipt {
  std::vector<std::string> marked;
  unread_snapshot unread;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, read_receipt& x) {
  return f(caf::meta::type_name("read_receipt"), x.marked, x.unread);
}

/// One event in the sender's list (N4). The names and image belong to `sent_to`, so
/// they are null for a share with all friends.
struct sent_share {
  std::string event_id;
  std::string url;
  std::string title;
  std::string sent_at;
  caf::optional<std::string> sent_to;
  int64_t not_seen_count = 0;
  caf::optional<std::string> first_name;
  caf::optional<std::string> last_name;
  caf::optional<std::string> profile_image_extension;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sent_share& x) {
  return f(caf::meta::type_name("sent_share"), x.event_id, x.url, x.title, x.sent_at,
           x.sent_to, x.not_seen_count, x.first_name, x.last_name, x.profile_image_extension);
}

// -- loading, paging and searching ------------------------------------------------------

/// Everything a user actor loads in one transaction: the profile, every relation
/// (friends and pending requests both ways) and the newest unread shares.
struct social_snapshot {
  user_profile profile;
  std::vector<relation> relations;
  unread_snapshot unread;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, social_snapshot& x) {
  return f(caf::meta::type_name("social_snapshot"), x.profile, x.relations, x.unread);
}

/// A window of a list, already validated and capped by the route.
struct list_window {
  int32_t limit = 0;
  int32_t offset = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_window& x) {
  return f(caf::meta::type_name("list_window"), x.limit, x.offset);
}

/// Which column a search matches.
enum class search_field : uint8_t {
  name,  ///< `first_name || ' ' || last_name`
  email,
};

/// A search by `caller` (U16, U17, F8, F9). `query` is the text as the client sent
/// it; the database lower-cases and escapes it. `exact` (F8 only) compares the whole
/// email instead of a substring.
struct user_search {
  std::string caller;
  std::string query;
  search_field field = search_field::name;
  bool exact = false;
  list_window page;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_search& x) {
  return f(caf::meta::type_name("user_search"), x.caller, x.query, x.field, x.exact, x.page);
}

/// N3 from the database: the notifications `user` received, read, unread or all.
struct share_query {
  std::string user;
  caf::optional<bool> is_read; ///< None: both.
  list_window page;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, share_query& x) {
  return f(caf::meta::type_name("share_query"), x.user, x.is_read, x.page);
}

// -- actors ------------------------------------------------------------------------------

/// What the user registry reports: its live actors and life-cycle counters.
struct user_registry_stats {
  uint64_t live = 0;       ///< User actors currently registered.
  uint64_t spawned = 0;    ///< Actors started since the registry started.
  uint64_t passivated = 0; ///< Actors stopped after their idle time.
  uint64_t died = 0;       ///< Actors that terminated on their own (load failures, bugs).
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_registry_stats& x) {
  return f(caf::meta::type_name("user_registry_stats"), x.live, x.spawned, x.passivated,
           x.died);
}

} // namespace tandem
