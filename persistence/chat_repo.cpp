#include "persistence/chat_repo.hpp"

#include "persistence/users_repo.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace tandem::persistence::chat {

namespace {

/// `column` as ISO 8601 UTC with milliseconds and Z, as the chat clients read it
/// (JavaScript's toISOString).
std::string iso(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

const std::string message_columns = "m.conversation_id::text, m.seq, m.message_id::text, "
                                    "m.sender_id, m.content, "
                                    + iso("m.sent_at") + ", coalesce(m.client_message_id, '')";

chat_message message_from_row(const pqxx::row& row) {
  return {row[0].as<std::string>(), row[1].as<int64_t>(), row[2].as<std::string>(),
          row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>(),
          row[6].as<std::string>()};
}

std::vector<chat_message> messages_from(const pqxx::result& res) {
  std::vector<chat_message> out;
  out.reserve(res.size());
  for (const auto& row : res)
    out.push_back(message_from_row(row));
  return out;
}

const std::string count_users = "SELECT count(*) FROM users WHERE user_id = ANY($1::text[])";

// ON CONFLICT waits for a concurrent creation of the same pair and then does nothing,
// so the SELECT that follows finds the one conversation of the pair.
const std::string insert_direct = R"(
INSERT INTO conversations (created_by, title, is_group, direct_key)
VALUES ($1, '', false, $2)
ON CONFLICT (direct_key) DO NOTHING
RETURNING conversation_id::text)";

const std::string select_direct
  = "SELECT conversation_id::text FROM conversations WHERE direct_key = $1";

const std::string insert_group = R"(
INSERT INTO conversations (created_by, title, is_group) VALUES ($1, $2, true)
RETURNING conversation_id::text)";

const std::string insert_participants = R"(
INSERT INTO participants (conversation_id, user_id)
SELECT $1::uuid, unnest($2::text[]))";

// C3. Unread: the member's cursor is behind the latest message (a sender's cursor
// moves to their own message when it is stored).
const std::string select_summaries = "SELECT c.conversation_id::text, coalesce(c.title, ''), "
                                     "c.is_group, "
                                     + iso("m.sent_at") + R"(, m.content, m.sender_id,
       p.last_read_seq >= m.seq,
       coalesce((SELECT min(o.user_id) FROM participants o
                  WHERE o.conversation_id = p.conversation_id AND o.user_id <> $1), ''),
       (SELECT count(*) FROM messages u
         WHERE u.conversation_id = p.conversation_id AND u.seq > p.last_read_seq
           AND u.sender_id <> $1)
  FROM participants p
  JOIN conversations c ON c.conversation_id = p.conversation_id
  JOIN LATERAL (SELECT seq, sent_at, content, sender_id FROM messages
                 WHERE conversation_id = p.conversation_id
                 ORDER BY seq DESC LIMIT 1) m ON true
 WHERE p.user_id = $1
   AND ($2::int < 0 OR (p.last_read_seq >= m.seq) = ($2::int = 1))
 ORDER BY m.sent_at DESC, c.conversation_id
 LIMIT $3 OFFSET $4)";

const std::string select_membership = R"(
SELECT c.title, c.is_group,
       EXISTS (SELECT 1 FROM participants WHERE conversation_id = c.conversation_id
                                            AND user_id = $2),
       coalesce((SELECT min(user_id) FROM participants
                  WHERE conversation_id = c.conversation_id AND user_id <> $2), '')
  FROM conversations c WHERE c.conversation_id = $1::uuid)";

const std::string select_newest_page = "SELECT " + message_columns + R"(
  FROM messages m WHERE m.conversation_id = $1::uuid
 ORDER BY m.seq DESC LIMIT $2 OFFSET $3)";

const std::string select_after = "SELECT " + message_columns + R"(
  FROM messages m WHERE m.conversation_id = $1::uuid AND m.seq > $2
 ORDER BY m.seq LIMIT $3)";

const std::string select_before = "SELECT * FROM (SELECT " + message_columns + R"(
  FROM messages m WHERE m.conversation_id = $1::uuid AND m.seq < $2
 ORDER BY m.seq DESC LIMIT $3) x ORDER BY 2)";

const std::string select_sent = "SELECT " + message_columns + R"(
  FROM messages m
 WHERE m.conversation_id = $1::uuid AND m.sender_id = $2 AND m.client_message_id = $3)";

const std::string select_members = R"(
SELECT user_id, last_read_seq FROM participants WHERE conversation_id = $1::uuid
 ORDER BY user_id)";

const std::string select_last_seq
  = "SELECT coalesce(max(seq), 0) FROM messages WHERE conversation_id = $1::uuid";

// The group commit: one statement for the whole batch. A (sender, tempMessageId)
// stored before is skipped rather than failing everyone else's messages.
const std::string insert_messages = R"(
INSERT INTO messages (conversation_id, seq, message_id, sender_id, content, sent_at,
                      client_message_id)
SELECT c::uuid, s, m::uuid, snd, txt, t::timestamptz, nullif(cm, '')
  FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[]) AS x(c, s, m, snd, txt, t, cm)
ON CONFLICT ON CONSTRAINT messages_idempotent_send DO NOTHING
RETURNING message_id::text)";

// The fenced group commit, one statement. `owned` locks (in key order, as every
// writer does) each batch conversation's key_owners row that still has the writer's
// epoch: under READ COMMITTED a row a claim changed meanwhile is judged again in its
// new version after the claim commits, so a takeover either waits for this batch or
// fences its rows. Rows of conversations not owned are never inserted, each inserted row
// keeps its epoch, and cursors move only to messages inserted (never back).
const std::string insert_fenced_messages = R"(
WITH batch AS (
  SELECT c COLLATE "C" AS c, s, m, snd, txt, t, cm, e
    FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::bigint[]) AS x(c, s, m, snd, txt, t, cm, e)
), owned AS (
  SELECT k.key FROM key_owners k
   WHERE k.kind = 'c' AND k.node_id <> '' AND (k.key, k.epoch) IN (SELECT c, e FROM batch)
   ORDER BY k.key
     FOR UPDATE OF k
), ins AS (
  INSERT INTO messages (conversation_id, seq, message_id, sender_id, content, sent_at,
                        client_message_id, epoch)
  SELECT c::uuid, s, m::uuid, snd, txt, t::timestamptz, nullif(cm, ''), e
    FROM batch WHERE c IN (SELECT key FROM owned)
  ON CONFLICT ON CONSTRAINT messages_idempotent_send DO NOTHING
  RETURNING conversation_id, sender_id, seq, message_id::text AS id
), cursors AS (
  UPDATE participants p SET last_read_seq = GREATEST(p.last_read_seq, x.s)
    FROM (SELECT conversation_id, sender_id, max(seq) AS s FROM ins
           GROUP BY conversation_id, sender_id) x
   WHERE p.conversation_id = x.conversation_id AND p.user_id = x.sender_id
)
SELECT id, '' FROM ins UNION ALL SELECT '', key FROM owned)";

const std::string move_cursors = R"(
UPDATE participants p SET last_read_seq = GREATEST(p.last_read_seq, x.s)
  FROM unnest($1::text[], $2::text[], $3::bigint[]) AS x(c, u, s)
 WHERE p.conversation_id = x.c::uuid AND p.user_id = x.u)";

const std::string move_cursor_sql = R"(
UPDATE participants SET last_read_seq = GREATEST(last_read_seq, $3)
 WHERE conversation_id = $1::uuid AND user_id = $2)";

const std::string select_is_group
  = "SELECT is_group FROM conversations WHERE conversation_id = $1::uuid FOR UPDATE";

const std::string delete_participant = R"(
DELETE FROM participants WHERE conversation_id = $1::uuid AND user_id = $2 RETURNING 1)";

// The row lock taken by select_is_group orders the leaves of one conversation, so the
// last one out sees no member left and deletes it.
const std::string delete_if_empty = R"(
DELETE FROM conversations c WHERE c.conversation_id = $1::uuid
   AND NOT EXISTS (SELECT 1 FROM participants p WHERE p.conversation_id = c.conversation_id))";

std::string bigint_array_literal(const std::vector<int64_t>& xs) {
  std::string out = "{";
  for (auto x : xs)
    out += (out.size() > 1 ? "," : "") + std::to_string(x);
  return out + "}";
}

/// A batch's columns as the array literals of the insert statements' $1 to $7.
struct batch_arrays {
  std::string conversations, seqs, ids, senders, contents, times, temps;
};

batch_arrays arrays_of(const std::vector<chat_message>& batch) {
  std::vector<std::string> conv, ids, senders, contents, times, temps;
  std::vector<int64_t> seqs;
  for (const auto& m : batch) {
    conv.push_back(m.conversation_id);
    seqs.push_back(m.seq);
    ids.push_back(m.message_id);
    senders.push_back(m.sender_id);
    contents.push_back(m.content);
    times.push_back(m.sent_at);
    temps.push_back(m.client_message_id);
  }
  using users::text_array_literal;
  return {text_array_literal(conv),     bigint_array_literal(seqs), text_array_literal(ids),
          text_array_literal(senders),  text_array_literal(contents), text_array_literal(times),
          text_array_literal(temps)};
}

caf::error not_a_member() {
  return caf::make_error(errc::forbidden, "Not a participant of this conversation");
}

caf::error no_conversation() {
  return caf::make_error(errc::not_found, "Conversation not found");
}

/// The membership row of `caller` in `id`: not_found or forbidden, else the row.
caf::expected<pqxx::row> membership(pqxx::work& tx, const std::string& caller,
                                    const std::string& id) {
  auto res = tx.exec_params(select_membership, id, caller);
  if (res.empty())
    return no_conversation();
  if (!res[0][2].as<bool>())
    return not_a_member();
  return res[0];
}

} // namespace

caf::expected<std::string> create(pqxx::work& tx, const new_conversation& c) {
  auto everyone = c.recipients;
  everyone.push_back(c.creator);
  auto found = tx.exec_params(count_users, users::text_array_literal(everyone))[0][0].as<size_t>();
  if (found != everyone.size())
    return caf::make_error(errc::not_found, "User not found");
  std::string id;
  if (!c.is_group) {
    auto key = std::min(c.creator, c.recipients[0]) + "|" + std::max(c.creator, c.recipients[0]);
    auto res = tx.exec_params(insert_direct, c.creator, key);
    if (res.empty())
      return tx.exec_params(select_direct, key)[0][0].as<std::string>();
    id = res[0][0].as<std::string>();
  } else {
    id = tx.exec_params(insert_group, c.creator, c.title)[0][0].as<std::string>();
  }
  tx.exec_params(insert_participants, id, users::text_array_literal(everyone));
  return id;
}

std::string find_direct(pqxx::work& tx, const std::string& a, const std::string& b) {
  auto res = tx.exec_params(select_direct, std::min(a, b) + "|" + std::max(a, b));
  return res.empty() ? std::string{} : res[0][0].as<std::string>();
}

std::vector<conversation_summary> list(pqxx::work& tx, const std::string& user, int8_t is_read,
                                       int32_t limit, int32_t offset) {
  std::vector<conversation_summary> out;
  for (const auto& row : tx.exec_params(select_summaries, user, int{is_read}, limit, offset))
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<bool>(),
                   row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>(),
                   row[6].as<bool>(), row[7].as<std::string>(), row[8].as<int64_t>()});
  return out;
}

caf::expected<conversation_info> info(pqxx::work& tx, const std::string& caller,
                                      const std::string& id) {
  auto row = membership(tx, caller, id);
  if (!row)
    return row.error();
  return conversation_info{id, (*row)[0].is_null() ? "" : (*row)[0].as<std::string>(),
                           (*row)[1].as<bool>(), (*row)[3].as<std::string>()};
}

caf::expected<std::vector<chat_message>> page(pqxx::work& tx, const std::string& caller,
                                              const std::string& id, const message_query& q) {
  if (auto row = membership(tx, caller, id); !row)
    return row.error();
  switch (q.mode) {
    case message_query::after_seq:
      return messages_from(tx.exec_params(select_after, id, q.seq, q.limit));
    case message_query::before_seq:
      return messages_from(tx.exec_params(select_before, id, q.seq, q.limit));
    default: {
      auto out = messages_from(tx.exec_params(select_newest_page, id, q.limit, q.offset));
      if (q.ascending)
        std::reverse(out.begin(), out.end());
      return out;
    }
  }
}

caf::expected<std::vector<std::string>> participants(pqxx::work& tx, const std::string& caller,
                                                     const std::string& id) {
  if (auto row = membership(tx, caller, id); !row)
    return row.error();
  std::vector<std::string> out;
  for (const auto& row : tx.exec_params(select_members, id))
    out.push_back(row[0].as<std::string>());
  return out;
}

caf::expected<conversation_snapshot> load(pqxx::work& tx, const std::string& id,
                                          int32_t recent_limit) {
  conversation_snapshot snap;
  for (const auto& row : tx.exec_params(select_members, id)) {
    snap.members.push_back(row[0].as<std::string>());
    snap.last_read.push_back(row[1].as<int64_t>());
  }
  if (snap.members.empty())
    return no_conversation();
  snap.last_seq = tx.exec_params(select_last_seq, id)[0][0].as<int64_t>();
  snap.recent = messages_from(
    tx.exec_params(select_before, id, snap.last_seq + 1, recent_limit));
  return snap;
}

std::vector<std::string> insert(pqxx::work& tx, const std::vector<chat_message>& batch) {
  // Each sender's cursor moves to their newest message of the batch.
  std::map<std::pair<std::string, std::string>, int64_t> cursors;
  for (const auto& m : batch) {
    auto& c = cursors[{m.conversation_id, m.sender_id}];
    c = std::max(c, m.seq);
  }
  using users::text_array_literal;
  auto a = arrays_of(batch);
  std::vector<std::string> inserted;
  for (const auto& row : tx.exec_params(insert_messages, a.conversations, a.seqs, a.ids,
                                        a.senders, a.contents, a.times, a.temps))
    inserted.push_back(row[0].as<std::string>());
  std::vector<std::string> cur_conv, cur_user;
  std::vector<int64_t> cur_seq;
  for (const auto& [key, seq] : cursors) {
    cur_conv.push_back(key.first);
    cur_user.push_back(key.second);
    cur_seq.push_back(seq);
  }
  tx.exec_params(move_cursors, text_array_literal(cur_conv), text_array_literal(cur_user),
                 bigint_array_literal(cur_seq));
  return inserted;
}

fenced_batch insert_fenced(pqxx::work& tx, const std::vector<chat_message>& batch,
                           const std::vector<int64_t>& epochs) {
  auto a = arrays_of(batch);
  fenced_batch out;
  std::set<std::string> owned;
  for (const auto& row : tx.exec_params(insert_fenced_messages, a.conversations, a.seqs, a.ids,
                                        a.senders, a.contents, a.times, a.temps,
                                        bigint_array_literal(epochs))) {
    if (auto id = row[0].as<std::string>(); !id.empty())
      out.inserted.push_back(std::move(id));
    else
      owned.insert(row[1].as<std::string>());
  }
  std::set<std::string> conversations;
  for (const auto& m : batch)
    conversations.insert(m.conversation_id);
  for (const auto& c : conversations)
    if (owned.count(c) == 0)
      out.fenced.push_back(c);
  return out;
}

caf::expected<chat_message> find_sent(pqxx::work& tx, const std::string& id,
                                      const std::string& sender, const std::string& temp_id) {
  auto res = tx.exec_params(select_sent, id, sender, temp_id);
  if (res.empty())
    return caf::make_error(errc::not_found, "Message not found");
  return message_from_row(res[0]);
}

caf::expected<bool> leave(pqxx::work& tx, const std::string& id, const std::string& user) {
  auto kind = tx.exec_params(select_is_group, id);
  if (kind.empty())
    return no_conversation();
  // A direct conversation is the pair's one and only (C1 and C2 hand it out again):
  // someone who left it could never talk to that person again.
  if (!kind[0][0].as<bool>())
    return caf::make_error(errc::invalid_request, "A direct conversation cannot be left");
  auto was_member = !tx.exec_params(delete_participant, id, user).empty();
  tx.exec_params(delete_if_empty, id);
  return was_member;
}

void move_cursor(pqxx::work& tx, const std::string& id, const std::string& user, int64_t seq) {
  tx.exec_params(move_cursor_sql, id, user, seq);
}

} // namespace tandem::persistence::chat
