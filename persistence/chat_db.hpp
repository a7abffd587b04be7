// The database operations of chat (docs/api.md, Chat; docs/architecture.md, Data model): the narrow
// interface conversation actors and the message writer hold (a fake in their tests),
// and the reads that routes make directly. Implemented by the database facade.
#pragma once

#include "vocabulary/messages.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::persistence {

/// What conversation actors and the message writer need. Besides the errors of every
/// database operation (see `db_actor`), `errc::not_found` "Conversation not found".
using chat_db = caf::typed_actor<
  /// Loads a conversation: members and read cursors, the latest seq and the newest
  /// `recent_limit` messages.
  caf::replies_to<atom::load_conversation, std::string, int32_t>::with<conversation_snapshot>,
  /// Inserts messages (one transaction, the group commit), moves each sender's read
  /// cursor to their message, and replies the ids of the messages inserted: one whose
  /// (sender, tempMessageId) was stored before is skipped. `errc::already_exists` when a
  /// (conversation, seq) is taken: another node acted for the conversation.
  caf::replies_to<atom::insert_messages, std::vector<chat_message>>::with<std::vector<std::string>>,
  /// Cluster only (docs/cluster.md, Ownership): inserts a batch fenced by epochs, one
  /// per message, the epoch its conversation was claimed with (see chat::insert_fenced).
  caf::replies_to<atom::insert_fenced_messages, std::vector<chat_message>,
                  std::vector<int64_t>>::with<fenced_batch>,
  /// Cluster only: claims the conversation for a node and replies the epoch;
  /// `errc::moved` while another live node owns it (see ownership::claim).
  caf::replies_to<atom::claim_conversation, std::string, node_identity>::with<int64_t>,
  /// Cluster only: frees the conversation claimed with this epoch (see
  /// ownership::release); replies whether it was.
  caf::replies_to<atom::release_conversation, std::string, node_identity, int64_t>::with<bool>,
  /// Cluster only: the conversations a node (that incarnation) still owns, with their
  /// epochs, at most `limit` after the key `after` (see ownership::owned_by).
  caf::replies_to<atom::owned_conversations, node_identity, std::string, int32_t>::with<
    std::vector<owned_key>>,
  /// Cluster only: frees those of the conversations still owned by the node with their
  /// epochs (see ownership::release_all); replies how many were.
  caf::replies_to<atom::release_conversations, std::vector<owned_key>, node_identity>::with<
    int32_t>,
  /// The message `sender` sent with this tempMessageId (conversation, sender,
  /// tempMessageId); `errc::not_found` when there is none.
  caf::replies_to<atom::find_message, std::string, std::string, std::string>::with<chat_message>,
  /// Moves a member's read cursor forward to `seq` (never back).
  caf::replies_to<atom::store_read_cursor, std::string, std::string, int64_t>::with<bool>,
  /// Removes `user` from the group conversation `id` (id, user), and the conversation
  /// with its messages once no member is left; replies whether `user` was a member.
  /// `errc::invalid_request` for a direct conversation.
  caf::replies_to<atom::remove_participant, std::string, std::string>::with<bool>,
  /// C5 and replay past a conversation actor's ring (caller, conversation id, which
  /// messages); `errc::forbidden` "Not a participant of this conversation".
  caf::replies_to<atom::message_history, std::string, std::string, message_query>::with<
    std::vector<chat_message>>>;

/// The chat reads and writes that routes make directly. `errc::forbidden` "Not a
/// participant of this conversation" for a caller who is not a member.
using chat_queries = caf::typed_actor<
  /// C1: creates a conversation (a direct one only if the pair has none) and replies
  /// its id; `errc::not_found` "User not found" for a recipient without a profile.
  caf::replies_to<atom::create_conversation, new_conversation>::with<std::string>,
  /// C2: the direct conversation of a pair, or "".
  caf::replies_to<atom::direct_conversation, std::string, std::string>::with<std::string>,
  /// C3: the caller's conversations with messages, newest first; `is_read` -1 for all,
  /// else 0 or 1 to filter; a page of `limit` from `offset`.
  caf::replies_to<atom::list_conversations, std::string, int8_t, int32_t, int32_t>::with<
    std::vector<conversation_summary>>,
  /// C4 (caller, conversation id); `errc::not_found` for an unknown conversation.
  caf::replies_to<atom::get_conversation_info, std::string, std::string>::with<conversation_info>,
  /// C6 (caller, conversation id): every member's id.
  caf::replies_to<atom::list_participants, std::string, std::string>::with<std::vector<std::string>>>;

} // namespace tandem::persistence
