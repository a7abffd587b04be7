// The SQL of chat (tables conversations, participants, messages): free functions
// over an open transaction, run by the database facade's workers. Inputs are validated
// by the routes and actors; the tables' constraints are the last line of defence.
#pragma once

#include "vocabulary/messages.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::persistence::chat {

/// C1 (see `chat_queries`).
caf::expected<std::string> create(pqxx::work& tx, const new_conversation& c);

/// C2: the direct conversation of the pair, or "".
std::string find_direct(pqxx::work& tx, const std::string& a, const std::string& b);

/// C3: `is_read` -1 for every conversation, else 0 or 1; the page `limit` from `offset`.
std::vector<conversation_summary> list(pqxx::work& tx, const std::string& user, int8_t is_read,
                                       int32_t limit, int32_t offset);

/// C4.
caf::expected<conversation_info> info(pqxx::work& tx, const std::string& caller,
                                      const std::string& id);

/// C5.
caf::expected<std::vector<chat_message>> page(pqxx::work& tx, const std::string& caller,
                                              const std::string& id, const message_query& q);

/// C6.
caf::expected<std::vector<std::string>> participants(pqxx::work& tx, const std::string& caller,
                                                     const std::string& id);

/// What a conversation actor loads.
caf::expected<conversation_snapshot> load(pqxx::work& tx, const std::string& id,
                                          int32_t recent_limit);

/// The group commit: inserts `batch` and moves each sender's cursor to their message.
/// Returns the ids of the messages inserted; one whose (sender, tempMessageId) was
/// stored before is skipped.
std::vector<std::string> insert(pqxx::work& tx, const std::vector<chat_message>& batch);

/// The fenced group commit of a cluster (docs/cluster.md, Ownership): `epochs[i]` is the
/// epoch that `batch[i]`'s conversation was claimed with. One statement locks the
/// key_owners row of each conversation still owned with its epoch, inserts the rows of
/// those conversations only (a resent tempMessageId skipped, as by `insert`), and moves
/// their senders' cursors; every other conversation is reported fenced.
fenced_batch insert_fenced(pqxx::work& tx, const std::vector<chat_message>& batch,
                           const std::vector<int64_t>& epochs);

/// The message `sender` sent to `id` with `temp_id`; `errc::not_found`.
caf::expected<chat_message> find_sent(pqxx::work& tx, const std::string& id,
                                      const std::string& sender, const std::string& temp_id);

/// Removes `user` from the group `id` (see `chat_db`'s `remove_participant`).
caf::expected<bool> leave(pqxx::work& tx, const std::string& id, const std::string& user);

/// Moves a member's read cursor forward to `seq`.
void move_cursor(pqxx::work& tx, const std::string& id, const std::string& user, int64_t seq);

} // namespace tandem::persistence::chat
