#include "persistence/social_repo.hpp"

#include "persistence/users_repo.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

namespace tandem::persistence::social {

namespace {

// -- SQL ----------------------------------------------------------------------------

/// `column` rendered in UTC without an offset (compat section 1): the clients append
/// `Z` themselves and would misread `+00:00`.
std::string utc(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')";
}

/// The columns `card_from_row` reads, of the users row aliased `u`, from column
/// `first` on.
const std::string card_columns = "u.user_id, u.first_name, u.last_name, u.description, "
                                 "u.profile_image_extension, "
                                 + utc("u.profile_image_uploaded_at");
constexpr int card_width = 6;

/// A friend_edges row `e` seen from `e.user_id`, then the other user's card.
const std::string relation_columns = "e.requester, e.other_id, " + utc("e.requested_at")
                                     + ", " + utc("e.accepted_at") + ", " + card_columns;

const std::string select_relations = "SELECT " + relation_columns + R"(
  FROM friend_edges e JOIN users u ON u.user_id = e.other_id
 WHERE e.user_id = $1)";

const std::string select_cards = "SELECT " + card_columns + R"(
  FROM users u WHERE u.user_id IN ($1, $2))";

/// The notifications of a recipient, newest first. `$2` filters: NULL for all,
/// else whether they were seen. The partial index share_recipients_unread_idx
/// serves the unread case, which is the one polled every minute.
const std::string select_received = "SELECT r.event_id::text, " + utc("e.sent_at")
                                    + ", e.url, e.title, " + utc("r.seen_at") + ", "
                                    + card_columns + R"(
  FROM share_recipients r
  JOIN share_events e ON e.event_id = r.event_id
  JOIN users u ON u.user_id = e.sender
 WHERE r.user_id = $1
   AND ($2::boolean IS NULL OR (r.seen_at IS NOT NULL) = $2::boolean)
 ORDER BY e.sent_at DESC, e.event_id DESC
 LIMIT $3 OFFSET $4)";

const std::string select_unread = "SELECT r.event_id::text, " + utc("e.sent_at")
                                  + ", e.url, e.title, " + utc("r.seen_at") + ", "
                                  + card_columns + R"(
  FROM share_recipients r
  JOIN share_events e ON e.event_id = r.event_id
  JOIN users u ON u.user_id = e.sender
 WHERE r.user_id = $1 AND r.seen_at IS NULL
 ORDER BY e.sent_at DESC, e.event_id DESC
 LIMIT $2)";

// Counting through a LIMIT visits at most the bound's rows of the partial indexes.
const std::string count_pending_in = R"(
SELECT count(*) FROM (SELECT 1 FROM friendships
                       WHERE addressee = $1 AND accepted_at IS NULL LIMIT $2) x)";
const std::string count_pending_out = R"(
SELECT count(*) FROM (SELECT 1 FROM friendships
                       WHERE requester = $1 AND accepted_at IS NULL LIMIT $2) x)";
const std::string count_friends = R"(
SELECT count(*) FROM (SELECT 1 FROM friend_edges
                       WHERE user_id = $1 AND accepted_at IS NOT NULL LIMIT $2) x)";

const std::string row_columns = "requester, addressee, " + utc("requested_at") + ", "
                                + utc("accepted_at");

// ON CONFLICT turns "a row exists for the pair" into an empty result: one row per
// unordered pair, so a request either way while any row exists is a conflict.
const std::string insert_request = R"(
INSERT INTO friendships (user_low, user_high, requester) VALUES ($1, $2, $3)
ON CONFLICT (user_low, user_high) DO NOTHING
RETURNING )" + row_columns;

const std::string accept_request = R"(
UPDATE friendships SET accepted_at = now()
 WHERE user_low = $1 AND user_high = $2 AND requester = $3 AND accepted_at IS NULL
RETURNING )" + row_columns;

const std::string delete_request = R"(
DELETE FROM friendships
 WHERE user_low = $1 AND user_high = $2 AND requester = $3 AND accepted_at IS NULL
RETURNING 1)";

const std::string delete_pair = R"(
DELETE FROM friendships WHERE user_low = $1 AND user_high = $2 RETURNING 1)";

const std::string select_pair_accepted = R"(
SELECT accepted_at IS NOT NULL FROM friendships WHERE user_low = $1 AND user_high = $2)";

const std::string select_sender_card = "SELECT " + card_columns
                                       + " FROM users u WHERE u.user_id = $1";

const std::string user_exists = "SELECT 1 FROM users WHERE user_id = $1";

const std::string insert_event = R"(
INSERT INTO share_events (sender, url, title, sent_to) VALUES ($1, $2, $3, $4)
RETURNING event_id::text, )" + utc("sent_at");

const std::string insert_broadcast_event = R"(
INSERT INTO share_events (sender, url, title) VALUES ($1, $2, $3)
RETURNING event_id::text, )" + utc("sent_at");

const std::string insert_friend_recipients = R"(
INSERT INTO share_recipients (event_id, user_id)
SELECT $1::uuid, other_id FROM friend_edges WHERE user_id = $2 AND accepted_at IS NOT NULL
RETURNING user_id)";

const std::string insert_recipient = R"(
INSERT INTO share_recipients (event_id, user_id) VALUES ($1::uuid, $2) RETURNING user_id)";

const std::string mark_seen = R"(
UPDATE share_recipients SET seen_at = now()
 WHERE user_id = $1 AND event_id = ANY ($2::uuid[]) AND seen_at IS NULL
RETURNING event_id::text)";

// The sent list: the page of events first (share_events_sender_idx gives the order),
// then one grouped join counts the unseen recipients of just those events. A LEFT
// JOIN counts 0 for an event without recipients (the old service said 1).
const std::string select_sent = R"(
SELECT e.event_id::text, e.url, e.title, )" + utc("e.sent_at") + R"(, e.sent_to,
       count(r.event_id), t.first_name, t.last_name, t.profile_image_extension
  FROM (SELECT event_id, url, title, sent_at, sent_to FROM share_events
         WHERE sender = $1 ORDER BY sent_at DESC, event_id LIMIT $2 OFFSET $3) e
  LEFT JOIN share_recipients r ON r.event_id = e.event_id AND r.seen_at IS NULL
  LEFT JOIN users t ON t.user_id = e.sent_to
 GROUP BY e.event_id, e.url, e.title, e.sent_at, e.sent_to,
          t.first_name, t.last_name, t.profile_image_extension
 ORDER BY e.sent_at DESC, e.event_id)";

/// The searched expression, spelled exactly like the trigram indexes of table users
/// so that the planner can use them.
std::string search_expression(search_field field) {
  return field == search_field::email ? "lower(u.email)"
                                      : "lower(u.first_name || ' ' || u.last_name)";
}

/// U16/U17. `$2` is the escaped query. The caller's relations are read once (`mine`);
/// mutual friends are counted for every friend of a friend in one grouped join, never
/// by a subquery per result row. Matching is `%q%` (the trigram index); the score
/// then ranks prefix (3) over suffix (2) over infix (1) matches.
std::string search_users_sql(search_field field) {
  auto expr = search_expression(field);
  return R"(
WITH mine AS (
  SELECT other_id, accepted_at FROM friend_edges WHERE user_id = $1
), mutual AS (
  SELECT e.other_id AS user_id, count(*) AS n
    FROM mine m JOIN friend_edges e ON e.user_id = m.other_id
   WHERE m.accepted_at IS NOT NULL AND e.accepted_at IS NOT NULL
   GROUP BY e.other_id
), hits AS (
  SELECT u.*, CASE WHEN )" + expr + R"( LIKE lower($2) || '%' ESCAPE '\' THEN 3
                   WHEN )" + expr + R"( LIKE '%' || lower($2) ESCAPE '\' THEN 2
                   ELSE 1 END AS score
    FROM users u
   WHERE )" + expr + R"( LIKE '%' || lower($2) || '%' ESCAPE '\' AND u.user_id <> $1
)
SELECT )" + card_columns + R"(,
       CASE WHEN m.other_id IS NULL THEN 0 WHEN m.accepted_at IS NULL THEN 1 ELSE 2 END
         AS friendship_state,
       coalesce(mu.n, 0) AS mutual_friend_count
  FROM hits u
  LEFT JOIN mine m ON m.other_id = u.user_id
  LEFT JOIN mutual mu ON mu.user_id = u.user_id
 ORDER BY friendship_state DESC, mutual_friend_count DESC, u.score DESC, u.user_id DESC
 LIMIT $3 OFFSET $4)";
}

/// F8/F9: the caller's relations whose email or name matches; `exact` compares the
/// whole (lower-cased) email. Ordered like every friend list: first name, last name
/// (bytewise), then id.
std::string search_friends_sql(search_field field, bool exact) {
  auto match = exact ? std::string{"lower(u.email) = lower($2)"}
                     : search_expression(field) + " LIKE '%' || lower($2) || '%' ESCAPE '\\'";
  return "SELECT " + relation_columns + R"(
  FROM friend_edges e JOIN users u ON u.user_id = e.other_id
 WHERE e.user_id = $1 AND )" + match + R"(
 ORDER BY u.first_name COLLATE "C", u.last_name COLLATE "C", u.user_id
 LIMIT $3 OFFSET $4)";
}

// -- rows ---------------------------------------------------------------------------

caf::optional<std::string> nullable(const pqxx::field& f) {
  if (f.is_null())
    return caf::none;
  return f.as<std::string>();
}

user_card card_from_row(const pqxx::row& row, int first) {
  user_card c;
  c.user_id = row[first].as<std::string>();
  c.first_name = row[first + 1].as<std::string>();
  c.last_name = row[first + 2].as<std::string>();
  c.description = row[first + 3].as<std::string>();
  c.profile_image_extension = nullable(row[first + 4]);
  c.profile_image_uploaded_at = nullable(row[first + 5]);
  return c;
}

friendship_row friendship_from_row(const pqxx::row& row) {
  friendship_row r;
  r.requester = row[0].as<std::string>();
  r.addressee = row[1].as<std::string>();
  r.requested_at = row[2].as<std::string>();
  r.accepted_at = nullable(row[3]);
  return r;
}

/// A `relation_columns` row seen from `user`: friend_edges says who asked and who the
/// other is, so the addressee is whichever of the two did not ask.
relation relation_from_row(const pqxx::row& row, const std::string& user) {
  relation rel;
  rel.row.requester = row[0].as<std::string>();
  auto other = row[1].as<std::string>();
  rel.row.addressee = rel.row.requester == user ? other : user;
  rel.row.requested_at = row[2].as<std::string>();
  rel.row.accepted_at = nullable(row[3]);
  rel.user = card_from_row(row, 4);
  return rel;
}

std::vector<relation> relations_from(const pqxx::result& res, const std::string& user) {
  std::vector<relation> out;
  out.reserve(res.size());
  for (const auto& row : res)
    out.push_back(relation_from_row(row, user));
  return out;
}

std::vector<share_notification> notifications_from(const pqxx::result& res) {
  std::vector<share_notification> out;
  out.reserve(res.size());
  for (const auto& row : res) {
    share_notification n;
    n.event_id = row[0].as<std::string>();
    n.sent_at = row[1].as<std::string>();
    n.url = row[2].as<std::string>();
    n.title = row[3].as<std::string>();
    n.seen_at = nullable(row[4]);
    n.sender = card_from_row(row, 5);
    out.push_back(std::move(n));
  }
  return out;
}

/// The newest `limit` unread notifications of `user`, fetching one more to learn
/// whether that is all of them.
unread_snapshot unread_of(pqxx::work& tx, const std::string& user, int32_t limit) {
  unread_snapshot snap;
  snap.items = notifications_from(tx.exec_params(select_unread, user, int64_t{limit} + 1));
  snap.complete = snap.items.size() <= static_cast<std::size_t>(limit);
  if (!snap.complete)
    snap.items.pop_back();
  return snap;
}

caf::error user_not_found() {
  return caf::make_error(errc::not_found, "User not found");
}

int64_t count(pqxx::work& tx, const std::string& sql, const std::string& user, int32_t bound) {
  return tx.exec_params1(sql, user, bound)[0].as<int64_t>();
}

/// The pending-request bounds of a new request from `requester` to `addressee`.
caf::error check_pending_bounds(pqxx::work& tx, const std::string& requester,
                                const std::string& addressee, int32_t bound) {
  // Two requests committing at once may pass the bound by one each: it limits what a
  // user accumulates, it is not an exact quota.
  if (count(tx, count_pending_in, addressee, bound) >= bound)
    return caf::make_error(errc::rate_limited, "Too many pending friend requests for this user");
  if (count(tx, count_pending_out, requester, bound) >= bound)
    return caf::make_error(errc::rate_limited, "Too many pending friend requests");
  return caf::none;
}

caf::error check_friend_bounds(pqxx::work& tx, const friendship_command& cmd, int32_t bound) {
  for (const auto* user : {&cmd.caller, &cmd.other})
    if (count(tx, count_friends, *user, bound) >= bound)
      return caf::make_error(errc::already_exists, "Friend limit reached");
  return caf::none;
}

} // namespace

caf::expected<profile_snapshot> load_profile(pqxx::work& tx, const std::string& user) {
  auto p = users::load(tx, user);
  if (!p)
    return code_of(p.error()) == errc::not_found ? user_not_found() : std::move(p.error());
  profile_snapshot snap;
  snap.me.user_id = p->user_id;
  snap.me.first_name = p->first_name;
  snap.me.last_name = p->last_name;
  snap.me.description = p->description;
  snap.me.profile_image_extension = p->profile_image_extension;
  snap.me.profile_image_uploaded_at = p->profile_image_uploaded_at;
  snap.sharing = p->sharing;
  snap.domain_allow = std::move(p->domain_allow);
  snap.domain_deny = std::move(p->domain_deny);
  return snap;
}

caf::expected<social_snapshot> load(pqxx::work& tx, const std::string& user,
                                    int32_t unread_limit) {
  auto profile = load_profile(tx, user);
  if (!profile)
    return std::move(profile.error());
  social_snapshot snap;
  snap.profile = std::move(*profile);
  snap.relations = relations_from(tx.exec_params(select_relations, user), user);
  snap.unread = unread_of(tx, user, unread_limit);
  return snap;
}

caf::expected<friendship_change> commit(pqxx::work& tx, const friendship_command& cmd,
                                        const friendship_limits& limits) {
  const auto& [low, high] = std::minmax(cmd.caller, cmd.other);
  friendship_change change;
  std::map<std::string, user_card> cards;
  for (const auto& row : tx.exec_params(select_cards, low, high))
    cards.emplace(row[0].as<std::string>(), card_from_row(row, 0));
  if (cards.count(low) == 0 || cards.count(high) == 0)
    return user_not_found();
  change.low = std::move(cards[low]);
  change.high = std::move(cards[high]);
  switch (cmd.op) {
    case friendship_op::request: {
      if (auto err = check_pending_bounds(tx, cmd.caller, cmd.other, limits.max_pending))
        return err;
      auto res = tx.exec_params(insert_request, low, high, cmd.caller);
      if (res.empty())
        return caf::make_error(errc::already_exists, "Friendship already exists");
      change.exists = true;
      change.row = friendship_from_row(res[0]);
      return change;
    }
    case friendship_op::accept: {
      if (auto err = check_friend_bounds(tx, cmd, limits.max_friends))
        return err;
      auto res = tx.exec_params(accept_request, low, high, cmd.other);
      if (res.empty())
        return caf::make_error(errc::not_found, "Friend request not found");
      change.exists = true;
      change.row = friendship_from_row(res[0]);
      return change;
    }
    case friendship_op::decline:
      if (tx.exec_params(delete_request, low, high, cmd.other).empty())
        return caf::make_error(errc::not_found, "Friend request not found");
      return change;
    case friendship_op::remove:
      if (tx.exec_params(delete_pair, low, high).empty())
        return caf::make_error(errc::not_found, "Friendship not found");
      return change;
  }
  return caf::make_error(errc::invalid_request, "Unknown friendship operation");
}

caf::expected<share_receipt> insert_share(pqxx::work& tx, const std::string& sender,
                                          const share_request& req) {
  auto card = tx.exec_params(select_sender_card, sender);
  if (card.empty())
    return user_not_found();
  share_receipt receipt;
  receipt.note.sender = card_from_row(card[0], 0);
  receipt.note.url = req.url;
  receipt.note.title = req.title;
  pqxx::result event;
  pqxx::result recipients;
  if (req.sent_to) {
    const auto& [low, high] = std::minmax(sender, *req.sent_to);
    auto pair = tx.exec_params(select_pair_accepted, low, high);
    if (pair.empty() || !pair[0][0].as<bool>()) {
      if (tx.exec_params(user_exists, *req.sent_to).empty())
        return user_not_found();
      return caf::make_error(errc::forbidden, "You can only share with your friends");
    }
    event = tx.exec_params(insert_event, sender, req.url, req.title, *req.sent_to);
    recipients = tx.exec_params(insert_recipient, event[0][0].as<std::string>(), *req.sent_to);
  } else {
    event = tx.exec_params(insert_broadcast_event, sender, req.url, req.title);
    recipients = tx.exec_params(insert_friend_recipients, event[0][0].as<std::string>(), sender);
  }
  receipt.note.event_id = event[0][0].as<std::string>();
  receipt.note.sent_at = event[0][1].as<std::string>();
  receipt.recipients.reserve(recipients.size());
  for (const auto& row : recipients)
    receipt.recipients.push_back(row[0].as<std::string>());
  return receipt;
}

read_receipt mark_read(pqxx::work& tx, const std::string& user,
                       const std::vector<std::string>& event_ids, int32_t unread_limit) {
  read_receipt receipt;
  for (const auto& row : tx.exec_params(mark_seen, user, users::text_array_literal(event_ids)))
    receipt.marked.push_back(row[0].as<std::string>());
  receipt.unread = unread_of(tx, user, unread_limit);
  return receipt;
}

std::vector<share_notification> fetch_shares(pqxx::work& tx, const share_query& q) {
  // libpqxx 6.4 passes a null parameter as a null pointer of the parameter's type.
  const char* filter = !q.is_read ? nullptr : (*q.is_read ? "true" : "false");
  return notifications_from(
    tx.exec_params(select_received, q.user, filter, q.page.limit, q.page.offset));
}

std::vector<user_summary> search_users(pqxx::work& tx, const user_search& s) {
  static const std::string by_name = search_users_sql(search_field::name);
  static const std::string by_email = search_users_sql(search_field::email);
  const auto& sql = s.field == search_field::email ? by_email : by_name;
  std::vector<user_summary> out;
  auto res = tx.exec_params(sql, s.caller, like_escape(s.query), s.page.limit, s.page.offset);
  out.reserve(res.size());
  for (const auto& row : res) {
    user_summary sum;
    sum.user = card_from_row(row, 0);
    sum.state = static_cast<friendship_state>(row[card_width].as<int>());
    sum.mutual_friend_count = row[card_width + 1].as<int64_t>();
    out.push_back(std::move(sum));
  }
  return out;
}

std::vector<relation> search_friends(pqxx::work& tx, const user_search& s) {
  static const std::string by_name = search_friends_sql(search_field::name, false);
  static const std::string by_email = search_friends_sql(search_field::email, false);
  static const std::string by_exact_email = search_friends_sql(search_field::email, true);
  const auto& sql = s.field == search_field::name ? by_name
                                                  : (s.exact ? by_exact_email : by_email);
  // An exact comparison takes the query as it is; LIKE needs it escaped.
  auto query = s.exact ? s.query : like_escape(s.query);
  return relations_from(tx.exec_params(sql, s.caller, query, s.page.limit, s.page.offset),
                        s.caller);
}

std::vector<sent_share> sent_shares(pqxx::work& tx, const std::string& sender,
                                    const page_request& page) {
  std::vector<sent_share> out;
  auto res = tx.exec_params(select_sent, sender, page.limit, page.offset);
  out.reserve(res.size());
  for (const auto& row : res) {
    sent_share s;
    s.event_id = row[0].as<std::string>();
    s.url = row[1].as<std::string>();
    s.title = row[2].as<std::string>();
    s.sent_at = row[3].as<std::string>();
    s.sent_to = nullable(row[4]);
    s.not_seen_count = row[5].as<int64_t>();
    s.first_name = nullable(row[6]);
    s.last_name = nullable(row[7]);
    s.profile_image_extension = nullable(row[8]);
    out.push_back(std::move(s));
  }
  return out;
}

std::string like_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\' || c == '%' || c == '_')
      out += '\\';
    out += c;
  }
  return out;
}

} // namespace tandem::persistence::social
