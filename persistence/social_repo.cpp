#include "persistence/social_repo.hpp"

#include "persistence/users_repo.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

namespace tandem::persistence::social {

namespace {

// -- SQL ----------------------------------------------------------------------------

/// `column` rendered in UTC without an offset (docs/api.md, Conventions): the clients append
/// `Z` themselves and would misread `+00:00`.
std::string utc(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')";
}

/// `column` (a timestamptz) as Unix milliseconds, 0 for NULL.
std::string unix_ms(const std::string& column) {
  return "coalesce((extract(epoch FROM " + column + ") * 1000)::bigint, 0)";
}

/// The columns `card_from_row` reads, of the users row aliased `u`, from column
/// `first` on.
const std::string card_columns = "u.user_id, u.first_name, u.last_name, u.description, "
                                 "u.profile_image_extension, "
                                 + utc("u.profile_image_uploaded_at");
constexpr int card_width = 6;

/// A friend_edges row `e` seen from `e.user_id`, then the other user's card, then when
/// the row expires.
const std::string relation_columns = "e.requester, e.other_id, " + utc("e.requested_at")
                                     + ", " + utc("e.accepted_at") + ", " + card_columns
                                     + ", " + unix_ms("e.expires_at");

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

// Counting through a LIMIT visits at most the bound's rows of the partial indexes (and
// the expired ones the purge has not deleted yet).
const std::string count_pending_in = R"(
SELECT count(*) FROM (SELECT 1 FROM friendships
                       WHERE addressee = $1 AND accepted_at IS NULL AND expires_at > now()
                       LIMIT $2) x)";
const std::string count_pending_out = R"(
SELECT count(*) FROM (SELECT 1 FROM friendships
                       WHERE requester = $1 AND accepted_at IS NULL AND expires_at > now()
                       LIMIT $2) x)";
const std::string count_friends = R"(
SELECT count(*) FROM (SELECT 1 FROM friend_edges
                       WHERE user_id = $1 AND accepted_at IS NOT NULL LIMIT $2) x)";

const std::string row_columns = "requester, addressee, " + utc("requested_at") + ", "
                                + utc("accepted_at") + ", " + unix_ms("expires_at");

// ON CONFLICT turns "a row exists for the pair" into an empty result: one row per
// unordered pair, so a request either way while any row exists is a conflict. An
// expired request is no row: the new one (either way) takes its place.
const std::string insert_request = R"(
INSERT INTO friendships (user_low, user_high, requester, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4))
ON CONFLICT (user_low, user_high) DO UPDATE
   SET requester = EXCLUDED.requester, requested_at = EXCLUDED.requested_at,
       expires_at = EXCLUDED.expires_at
 WHERE friendships.accepted_at IS NULL AND friendships.expires_at <= now()
RETURNING )" + row_columns;

const std::string accept_request = R"(
UPDATE friendships SET accepted_at = now(), expires_at = NULL
 WHERE user_low = $1 AND user_high = $2 AND requester = $3 AND accepted_at IS NULL
   AND expires_at > now()
RETURNING )" + row_columns;

const std::string delete_request = R"(
DELETE FROM friendships
 WHERE user_low = $1 AND user_high = $2 AND requester = $3 AND accepted_at IS NULL
   AND expires_at > now()
RETURNING 1)";

const std::string delete_pair = R"(
DELETE FROM friendships
 WHERE user_low = $1 AND user_high = $2 AND (accepted_at IS NOT NULL OR expires_at > now())
RETURNING 1)";

const std::string delete_requests_to = R"(
DELETE FROM friendships WHERE addressee = $1 AND accepted_at IS NULL AND expires_at > now()
RETURNING )" + row_columns;

// SKIP LOCKED: nodes purging at once, or a write holding a row, never wait for each other.
const std::string delete_expired = R"(
DELETE FROM friendships WHERE ctid = ANY (ARRAY (
  SELECT ctid FROM friendships WHERE accepted_at IS NULL AND expires_at <= now()
   LIMIT $1 FOR UPDATE SKIP LOCKED)))";

const std::string select_pair_accepted = R"(
SELECT accepted_at IS NOT NULL FROM friendships WHERE user_low = $1 AND user_high = $2)";

const std::string select_sender_card = "SELECT " + card_columns
                                       + " FROM users u WHERE u.user_id = $1";

const std::string user_exists = "SELECT 1 FROM users WHERE user_id = $1";

// sent_at is the statement's time, not the transaction's: the shares committed in one
// batch keep the order they were made in.
const std::string insert_event = R"(
INSERT INTO share_events (sender, url, title, sent_to, sent_at)
VALUES ($1, $2, $3, $4, clock_timestamp())
RETURNING event_id::text, )" + utc("sent_at");

// A share with every friend in one statement, one round trip where three statements
// took three (a share holds a database worker for all of its round trips): the
// sender's card, the event and a recipient per row (one row with a null recipient
// without friends; no row for a sender who does not exist). Prepared (run_prepared):
// planning it cost about as much as running it.
const char* const insert_broadcast_share_name = "insert_broadcast_share";
const std::string insert_broadcast_share = R"(
WITH snd AS (SELECT )" + card_columns + R"( FROM users u WHERE u.user_id = $1),
ev AS (
  INSERT INTO share_events (sender, url, title, sent_at)
  SELECT $1, $2, $3, clock_timestamp() FROM snd
  RETURNING event_id, sent_at),
rcp AS (
  INSERT INTO share_recipients (event_id, user_id)
  SELECT ev.event_id, f.other_id FROM ev, friend_edges f
   WHERE f.user_id = $1 AND f.accepted_at IS NOT NULL
  RETURNING user_id)
SELECT snd.*, ev.event_id::text, )" + utc("ev.sent_at") + R"(, rcp.user_id
  FROM snd CROSS JOIN ev LEFT JOIN rcp ON true)";

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

/// The caller's relations and the accepted friends of their accepted friends: the only
/// users a search can show with a friendship state or a mutual friend ("near" users).
/// `$1` is the caller.
const std::string near_ctes = R"(
WITH mine AS (
  SELECT other_id, accepted_at FROM friend_edges WHERE user_id = $1
), mutual AS (
  SELECT e.other_id AS user_id, count(*) AS n
    FROM mine m JOIN friend_edges e ON e.user_id = m.other_id
   WHERE m.accepted_at IS NOT NULL AND e.accepted_at IS NOT NULL
   GROUP BY e.other_id
))";

/// Conditions on `expr` against the escaped query `$2`.
std::string starts_with(const std::string& expr) {
  return expr + R"( LIKE lower($2) || '%' ESCAPE '\')";
}

std::string ends_with(const std::string& expr) {
  return expr + R"( LIKE '%' || lower($2) ESCAPE '\')";
}

std::string contains(const std::string& expr) {
  return expr + R"( LIKE '%' || lower($2) || '%' ESCAPE '\')";
}

/// The match score of `expr`: prefix (3) over suffix (2) over infix (1).
std::string score_of(const std::string& expr) {
  return "CASE WHEN " + starts_with(expr) + " THEN 3 WHEN " + ends_with(expr)
         + " THEN 2 ELSE 1 END";
}

/// U16/U17 ranked in one query over every match: `$2` is the escaped query, `$3` and
/// `$4` limit and offset. Mutual friends are counted for every friend of a friend in
/// one grouped join, never by a subquery per result row. With `near_only`, only near
/// users, all of them (no `$3`, `$4`): the head of the ranking.
std::string ranked_search_sql(search_field field, bool near_only) {
  auto expr = search_expression(field);
  auto scope = near_only ? std::string{" AND u.user_id IN (SELECT other_id FROM mine "
                                       "UNION SELECT user_id FROM mutual)"}
                         : std::string{};
  return near_ctes + R"(, hits AS (
  SELECT u.*, )" + score_of(expr) + R"( AS score
    FROM users u
   WHERE )" + contains(expr) + " AND u.user_id <> $1" + scope + R"(
)
SELECT )" + card_columns + R"(,
       CASE WHEN m.other_id IS NULL THEN 0 WHEN m.accepted_at IS NULL THEN 1 ELSE 2 END
         AS friendship_state,
       coalesce(mu.n, 0) AS mutual_friend_count
  FROM hits u
  LEFT JOIN mine m ON m.other_id = u.user_id
  LEFT JOIN mutual mu ON mu.user_id = u.user_id
 ORDER BY friendship_state DESC, mutual_friend_count DESC, u.score DESC, u.user_id DESC)"
         + (near_only ? "" : "\n LIMIT $3 OFFSET $4");
}

/// Strangers (`$1` is the caller, `$3` the near matches as a text[]) among the newest
/// `$4` users that contain the escaped query `$2`, with their score, in rank order. The
/// newest users are a contiguous run of ids, so the matches of each score found here
/// are that score's highest ids overall.
std::string probe_sql(search_field field) {
  auto expr = search_expression(field);
  return R"(
SELECT u.user_id, )" + score_of(expr) + R"( AS score
  FROM (SELECT * FROM users ORDER BY user_id DESC LIMIT $4) u
 WHERE )" + contains(expr) + R"( AND u.user_id <> $1 AND u.user_id <> ALL($3::text[])
 ORDER BY score DESC, u.user_id DESC)";
}

enum class match_tier { prefix, suffix, infix };

/// The ids of strangers (as in `probe_sql`) whose match has the score of `tier`, by id
/// descending, at most `$4`; `$5` (suffix only) is the escaped query reversed. Each
/// tier is read through an index of its own (the prefix and reversed-prefix indexes,
/// or the trigram index) rather than by walking the primary key, which the planner
/// would otherwise pick where it overestimates the matches.
std::string tier_sql(search_field field, match_tier tier) {
  auto expr = search_expression(field);
  std::string where;
  switch (tier) {
    case match_tier::prefix:
      where = starts_with(expr);
      break;
    case match_tier::suffix:
      where = "reverse(" + expr + R"() LIKE lower($5) || '%' ESCAPE '\' AND NOT )"
              + starts_with(expr);
      break;
    case match_tier::infix:
      where = contains(expr) + " AND NOT " + starts_with(expr) + " AND NOT " + ends_with(expr);
      break;
  }
  return R"(
WITH tier AS MATERIALIZED (
  SELECT u.user_id FROM users u
   WHERE )" + where + R"( AND u.user_id <> $1 AND u.user_id <> ALL($3::text[])
)
SELECT user_id FROM tier ORDER BY user_id DESC LIMIT $4)";
}

const std::string cards_by_id = "SELECT " + card_columns
                                + " FROM users u WHERE u.user_id = ANY($1::text[])";

/// The search statements of one field, built once.
struct search_statements {
  std::string near;   ///< the near matches, ranked
  std::string ranked; ///< every match, ranked, one page
  std::string probe;
  std::string tiers[3]; ///< by `match_tier`

  explicit search_statements(search_field field)
    : near(ranked_search_sql(field, true)), ranked(ranked_search_sql(field, false)),
      probe(probe_sql(field)),
      tiers{tier_sql(field, match_tier::prefix), tier_sql(field, match_tier::suffix),
            tier_sql(field, match_tier::infix)} {
  }
};

const search_statements& statements_for(search_field field) {
  static const search_statements by_name{search_field::name};
  static const search_statements by_email{search_field::email};
  return field == search_field::email ? by_email : by_name;
}

/// F8/F9: the caller's relations whose email or name matches; `exact` compares the
/// whole (lower-cased) email. Ordered like every friend list: first name, last name
/// (bytewise), then id.
std::string search_friends_sql(search_field field, bool exact) {
  auto match = exact ? std::string{"lower(u.email) = lower($2)"}
                     : contains(search_expression(field));
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
  r.expires_at = row[4].as<int64_t>();
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
  rel.row.expires_at = row[4 + card_width].as<int64_t>();
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

/// The pending-request bounds of a new request from `requester` to `addressee`. No
/// Retry-After: only the other users (accepting, declining) or time (expiry) free one.
caf::error check_pending_bounds(pqxx::work& tx, const std::string& requester,
                                const std::string& addressee, const friendship_limits& limits) {
  // Two requests committing at once may pass a bound by one each: it limits what a
  // user accumulates, it is not an exact quota.
  if (count(tx, count_pending_in, addressee, limits.max_pending) >= limits.max_pending)
    return caf::make_error(errc::rate_limited, "Too many pending friend requests for this user");
  if (count(tx, count_pending_out, requester, limits.max_outgoing) >= limits.max_outgoing)
    return caf::make_error(errc::rate_limited,
                           "Too many pending friend requests sent: at most "
                             + std::to_string(limits.max_outgoing)
                             + " wait at once, until accepted, declined, cancelled or expired");
  return caf::none;
}

caf::error check_friend_bounds(pqxx::work& tx, const friendship_command& cmd, int32_t bound) {
  for (const auto* user : {&cmd.caller, &cmd.other})
    if (count(tx, count_friends, *user, bound) >= bound)
      return caf::make_error(errc::already_exists, "Friend limit reached");
  return caf::none;
}

/// Runs `sql` as the prepared statement `name` of the transaction's connection, which
/// prepares it on its first use there (and again on a new connection).
template <class... Args>
pqxx::result run_prepared(pqxx::work& tx, const char* name, const std::string& sql,
                          Args&&... args) {
  tx.conn().prepare(name, sql); // nothing to do once defined alike
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

} // namespace

caf::expected<social_snapshot> load(pqxx::work& tx, const std::string& user,
                                    int32_t unread_limit) {
  auto profile = users::load(tx, user);
  if (!profile)
    return code_of(profile.error()) == errc::not_found ? user_not_found()
                                                       : std::move(profile.error());
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
      if (auto err = check_pending_bounds(tx, cmd.caller, cmd.other, limits))
        return err;
      auto res = tx.exec_params(insert_request, low, high, cmd.caller, limits.request_ttl_s);
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

std::vector<friendship_change> decline_all(pqxx::work& tx, const std::string& user) {
  auto rows = tx.exec_params(delete_requests_to, user);
  std::vector<std::string> ids{user};
  for (const auto& row : rows)
    ids.push_back(row[0].as<std::string>());
  std::map<std::string, user_card> cards;
  for (const auto& row : tx.exec_params(cards_by_id, users::text_array_literal(ids)))
    cards.emplace(row[0].as<std::string>(), card_from_row(row, 0));
  std::vector<friendship_change> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    friendship_change change;
    change.row = friendship_from_row(row);
    const auto& [low, high] = std::minmax(change.row.requester, user);
    change.low = cards[low];
    change.high = cards[high];
    out.push_back(std::move(change));
  }
  return out;
}

int64_t purge_expired(pqxx::work& tx, int32_t batch) {
  return static_cast<int64_t>(tx.exec_params(delete_expired, batch).affected_rows());
}

caf::expected<share_receipt> insert_share(pqxx::work& tx, const std::string& sender,
                                          const share_request& req) {
  share_receipt receipt;
  receipt.note.url = req.url;
  receipt.note.title = req.title;
  if (!req.sent_to) {
    auto rows = run_prepared(tx, insert_broadcast_share_name, insert_broadcast_share, sender,
                             req.url, req.title);
    if (rows.empty())
      return user_not_found();
    receipt.note.sender = card_from_row(rows[0], 0);
    receipt.note.event_id = rows[0][card_width].as<std::string>();
    receipt.note.sent_at = rows[0][card_width + 1].as<std::string>();
    receipt.recipients.reserve(rows.size());
    for (const auto& row : rows)
      if (!row[card_width + 2].is_null())
        receipt.recipients.push_back(row[card_width + 2].as<std::string>());
    return receipt;
  }
  auto card = tx.exec_params(select_sender_card, sender);
  if (card.empty())
    return user_not_found();
  receipt.note.sender = card_from_row(card[0], 0);
  const auto& [low, high] = std::minmax(sender, *req.sent_to);
  auto pair = tx.exec_params(select_pair_accepted, low, high);
  if (pair.empty() || !pair[0][0].as<bool>()) {
    if (tx.exec_params(user_exists, *req.sent_to).empty())
      return user_not_found();
    return caf::make_error(errc::forbidden, "You can only share with your friends");
  }
  auto event = tx.exec_params(insert_event, sender, req.url, req.title, *req.sent_to);
  auto recipient = tx.exec_params(insert_recipient, event[0][0].as<std::string>(), *req.sent_to);
  receipt.note.event_id = event[0][0].as<std::string>();
  receipt.note.sent_at = event[0][1].as<std::string>();
  receipt.recipients.push_back(recipient[0][0].as<std::string>());
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

namespace {

std::vector<user_summary> summaries_of(const pqxx::result& res) {
  std::vector<user_summary> out;
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

/// `text` reversed by code points, as PostgreSQL's reverse() does.
std::string utf8_reverse(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  auto end = text.size();
  while (end > 0) {
    auto begin = end - 1;
    while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80)
      --begin;
    out.append(text, begin, end - begin);
    end = begin;
  }
  return out;
}

} // namespace

std::vector<user_summary> search_users(pqxx::work& tx, const user_search& s,
                                       int probe_size) {
  // Ranking every match costs as many rows as match, and a query like "a" matches
  // nearly everyone. Near users (few) are ranked in full; every other user has state 0
  // and no mutual friend, so strangers follow by score, then id: a page needs only the
  // first rows of each score's tier. A probe of the newest users tells whether the
  // matches are dense enough for that to pay; sparse queries are ranked in one query.
  const auto& sql = statements_for(s.field);
  auto query = like_escape(s.query);
  auto near = summaries_of(tx.exec_params(sql.near, s.caller, query));
  auto wanted = static_cast<std::size_t>(s.page.offset) + static_cast<std::size_t>(s.page.limit);
  if (near.size() < wanted) {
    std::vector<std::string> near_ids;
    for (const auto& n : near)
      near_ids.push_back(n.user.user_id);
    auto excluded = users::text_array_literal(near_ids);
    auto probe = tx.exec_params(sql.probe, s.caller, query, excluded, probe_size);
    auto need = wanted - near.size();
    if (probe.size() < need)
      return summaries_of(
        tx.exec_params(sql.ranked, s.caller, query, s.page.limit, s.page.offset));
    // The probe's matches of one score are that score's highest ids: enough of them
    // answer the tier without reading it whole. Score 3 is the prefix tier (index 0).
    std::vector<std::string> probed_by_tier[3];
    for (const auto& row : probe)
      probed_by_tier[3 - row[1].as<int>()].push_back(row[0].as<std::string>());
    std::vector<std::string> ids;
    auto reversed = like_escape(utf8_reverse(s.query));
    for (auto tier : {match_tier::prefix, match_tier::suffix, match_tier::infix}) {
      const auto& probed = probed_by_tier[static_cast<int>(tier)];
      auto missing = need - ids.size();
      if (probed.size() >= missing) {
        ids.insert(ids.end(), probed.begin(), probed.begin() + static_cast<long>(missing));
        break;
      }
      const auto& stmt = sql.tiers[static_cast<int>(tier)];
      auto limit = static_cast<int64_t>(missing);
      auto rows = tier == match_tier::suffix
                    ? tx.exec_params(stmt, s.caller, query, excluded, limit, reversed)
                    : tx.exec_params(stmt, s.caller, query, excluded, limit);
      for (const auto& row : rows)
        ids.push_back(row[0].as<std::string>());
      if (ids.size() == need)
        break;
    }
    std::map<std::string, user_card> cards;
    for (const auto& row : tx.exec_params(cards_by_id, users::text_array_literal(ids)))
      cards.emplace(row[0].as<std::string>(), card_from_row(row, 0));
    for (const auto& id : ids)
      near.push_back(user_summary{cards.at(id), friendship_state::none, int64_t{0}});
  }
  auto first = std::min(near.size(), static_cast<std::size_t>(s.page.offset));
  auto last = std::min(near.size(), wanted);
  return {std::make_move_iterator(near.begin() + static_cast<long>(first)),
          std::make_move_iterator(near.begin() + static_cast<long>(last))};
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
                                    const list_window& page) {
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
