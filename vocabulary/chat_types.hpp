// The chat types that cross actors (docs/api.md, Chat):
// messages with their per-conversation seq, conversations as C3 and C4 show them,
// what a conversation actor loads, and how a message page is asked for.
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

/// One chat message. `seq` numbers a conversation's messages from 1 in commit order.
struct chat_message {
  std::string conversation_id;
  int64_t seq = 0;
  std::string message_id;
  std::string sender_id;
  std::string content;
  std::string sent_at;           ///< ISO 8601 UTC with milliseconds and Z
  std::string client_message_id; ///< the sender's tempMessageId
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chat_message& x) {
  return f(caf::meta::type_name("chat_message"), x.conversation_id, x.seq, x.message_id,
           x.sender_id, x.content, x.sent_at, x.client_message_id);
}

/// C1: who creates a conversation with whom. `recipients` exclude the creator, once each.
struct new_conversation {
  std::string creator;
  std::vector<std::string> recipients;
  bool is_group = false;
  std::string title;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_conversation& x) {
  return f(caf::meta::type_name("new_conversation"), x.creator, x.recipients, x.is_group,
           x.title);
}

/// C3 entry: a conversation of the caller with its latest message.
struct conversation_summary {
  std::string conversation_id;
  std::string title;
  bool is_group = false;
  std::string sent_at;
  std::string latest_content;
  std::string sender_id;
  bool is_read = false;
  std::string participant_id;
  int64_t unread_count = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conversation_summary& x) {
  return f(caf::meta::type_name("conversation_summary"), x.conversation_id, x.title, x.is_group,
           x.sent_at, x.latest_content, x.sender_id, x.is_read, x.participant_id,
           x.unread_count);
}

/// C4: a conversation and one participant other than the caller.
struct conversation_info {
  std::string conversation_id;
  std::string title;
  bool is_group = false;
  std::string participant_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conversation_info& x) {
  return f(caf::meta::type_name("conversation_info"), x.conversation_id, x.title, x.is_group,
           x.participant_id);
}

/// Which messages of a conversation C5 asks for.
struct message_query {
  enum mode_t : uint8_t {
    newest_page, ///< compat: `limit` from `offset` back from the newest
    after_seq,   ///< the first `limit` with seq > `seq`, ascending
    before_seq,  ///< the last `limit` with seq < `seq`, ascending
  };
  uint8_t mode = newest_page;
  int32_t limit = 100;
  int32_t offset = 0;
  int64_t seq = 0;
  bool ascending = false; ///< newest_page only: old to new instead of new to old
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_query& x) {
  return f(caf::meta::type_name("message_query"), x.mode, x.limit, x.offset, x.seq,
           x.ascending);
}

/// What a conversation actor loads: members with their read cursors, the latest seq
/// and the newest messages (oldest first).
struct conversation_snapshot {
  std::vector<std::string> members;
  std::vector<int64_t> last_read; ///< parallel to `members`
  int64_t last_seq = 0;
  std::vector<chat_message> recent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conversation_snapshot& x) {
  return f(caf::meta::type_name("conversation_snapshot"), x.members, x.last_read, x.last_seq,
           x.recent);
}

} // namespace tandem
