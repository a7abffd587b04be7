// One actor per conversation (docs/architecture.md, Actors): its members and their read
// cursors, the next seq, a ring of the newest messages (replay without a query) and
// the tempMessageIds in it (idempotent sends). It is the only writer of its
// conversation's seq: sends run one at a time, each committed (through the message
// writer's group commit) before anyone sees it. Reached only through its registry.
#pragma once

#include "vocabulary/user_interface.hpp"
#include "config/app_config.hpp"
#include "persistence/chat_db.hpp"
#include "persistence/message_writer.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tandem {

/// What conversation actors answer; everyone sends these to the registry, which
/// passes each to the actor of the conversation named first. Errors: `errc::forbidden`
/// "Not a participant of this conversation", `errc::not_found` "Conversation not found",
/// database errors.
using conversation_routed = caf::typed_actor<
  /// send-message (conversation, sender, tempMessageId, content trimmed and checked):
  /// the message once committed and pushed to every member; for a tempMessageId the
  /// sender used before, the original, pushed again to the sender only.
  /// `errc::rate_limited` past the sender's chat rate (decided by the registry).
  caf::replies_to<atom::send_message, std::string, std::string, std::string, std::string>::with<
    chat_message>,
  /// read-messages (conversation, reader): moves the reader's cursor to the latest seq
  /// and replies it; read-messages to the reader's sockets, read-receipt to the others'.
  /// With nothing new (the cursor, or a read in flight, is at the latest seq) it only
  /// replies: no write, no frames.
  caf::replies_to<atom::mark_read, std::string, std::string>::with<int64_t>,
  /// Leaving a group (conversation, user): the member is removed from the database,
  /// then from the actor (no message, typing or receipt of the conversation reaches
  /// them from then on), and participant-left goes to the remaining members and the
  /// leaver's own sockets. `errc::invalid_request` for a direct conversation.
  caf::replies_to<atom::leave_conversation, std::string, std::string>::with<bool>,
  /// typing (conversation, user): pushed to the other members, never stored.
  caf::replies_to<atom::typing, std::string, std::string>::with<bool>,
  /// Replay (conversation, caller, after_seq, limit): from the ring when it covers the
  /// gap, else from the database.
  caf::replies_to<atom::messages_after, std::string, std::string, int64_t, int32_t>::with<
    std::vector<chat_message>>>;

using conversation_actor = conversation_routed::extend<caf::reacts_to<atom::tick, bool>,
                                                       caf::reacts_to<atom::passivate>>;

using conversation_registry_actor = conversation_routed::extend<
  /// Takes a token of a user's budget for creating a conversation (the database creates
  /// it; chat.conversations_per_hour, chat.conversations_burst): true, or
  /// `errc::rate_limited` with the seconds to wait.
  caf::replies_to<atom::create_conversation, std::string>::with<bool>,
  /// From a conversation actor idle for chat.idle_timeout_s with nothing in flight: the
  /// conversation and how many routed messages it has handled. Void unless it comes
  /// from the conversation's live actor and the registry routed exactly that many.
  caf::reacts_to<atom::idle, std::string, uint64_t>,
  /// The node is fenced (docs/cluster.md): every conversation actor stops at once.
  caf::reacts_to<atom::stop_serving>,
  /// The live set changed: the actors of conversations now homed on another node
  /// passivate, releasing them to the new home; true once every passivated actor has
  /// ended.
  caf::replies_to<atom::hand_over>::with<bool>,
  /// A node left the live set: the conversations it still owned and that are homed
  /// here now are activated at once (each claims its key as it starts).
  caf::reacts_to<atom::node_gone, node_identity>,
  /// Cluster only, sent by the registry to itself (actors/key_sweep.hpp): the page of
  /// the conversations this node owns after that key is swept ("" starts a sweep).
  caf::reacts_to<atom::sweep_keys, std::string>>;

/// The chat.* keys, and http.request_timeout_ms for the requests actors make.
struct chat_settings {
  std::size_t max_message_length = 1000;
  int rate_per_s = 10;
  int rate_burst = 20;
  int conversations_per_hour = 60;
  int conversations_burst = 20;
  std::size_t ring_size = 256;
  std::size_t send_queue_limit = 256;
  caf::timespan idle_timeout = std::chrono::minutes(10);
  caf::timespan request_timeout = std::chrono::seconds(5);
  /// In a cluster (cluster.enabled), the node that conversation actors claim their
  /// conversation for before loading it, and whose claim fences their commits
  /// (docs/cluster.md, Ownership); none on a single node: no claim, no fence.
  std::optional<node_identity> cluster_node;
  /// Most conversations of a node that left which this node activates at once
  /// (cluster.takeover_limit); the rest are claimed as they are used.
  int32_t takeover_limit = 10000;
  /// How long a refused claim is tried again (user_settings::claim_wait).
  caf::timespan claim_wait{};
  /// How often the registry releases keys this node owns without an actor
  /// (user_settings::sweep_interval).
  caf::timespan sweep_interval{};
};

chat_settings chat_settings_from(const config::app_config& cfg);

persistence::message_writer_settings message_writer_settings_from(const config::app_config& cfg);

struct conversation_state {
  struct pending_send {
    std::string sender;
    std::string temp_id;
    std::string content;
    caf::typed_response_promise<chat_message> rp;
  };

  // -- wiring
  std::string id;
  persistence::chat_db db;
  persistence::message_writer_actor writer;
  user_registry_actor users;
  conversation_registry_actor registry;
  chat_settings settings;
  // -- what the actor knows (valid once loaded)
  std::map<std::string, int64_t> cursors; ///< every member's last read seq
  std::map<std::string, int64_t> reading; ///< the seq of a member's read being stored
  int64_t last_seq = 0;
  std::deque<chat_message> ring;          ///< the newest messages, oldest first
  /// The ring's messages by sender and tempMessageId (`sent_key`): a send checks for a
  /// resend without scanning the ring. Kept by `install` and `remember` (deque elements
  /// stay put while others are added at the back or taken from the front).
  std::unordered_map<std::string, const chat_message*> sent;
  caf::error failure;                     ///< the load failed: answered to everyone
  int64_t epoch = 0;                      ///< the claim's, in a cluster (else 0)
  // -- sends, one at a time
  std::deque<pending_send> sends;
  bool sending = false;
  bool reload_before_send = false;        ///< a commit's outcome is unknown
  // -- life cycle
  uint64_t received = 0;
  caf::actor_clock::time_point last_active;
  std::size_t reads_in_flight = 0;
  bool passivating = false;               ///< told to go: finishes what is in flight first

  static inline const char* name = "tandem.conversation";

  bool is_member(const std::string& user) const {
    return cursors.count(user) != 0;
  }

  /// The message of `sender`'s `temp_id` if the ring holds it.
  const chat_message* find_sent(const std::string& sender, const std::string& temp_id) const;

  /// Installs a loaded snapshot.
  void install(conversation_snapshot snap);

  /// A read of `reader` up to `seq` was stored or failed: a later one may be in flight.
  void done_reading(const std::string& reader, int64_t seq);

  /// Appends a committed message, keeping at most ring_size.
  void remember(const chat_message& m);

private:
  void index(const chat_message& m);
};

/// The behavior of the actor of conversation `id`; spawned by the registry only
/// (conversation_registry.hpp).
conversation_actor::behavior_type
conversation_impl(conversation_actor::stateful_pointer<conversation_state> self, std::string id,
                  persistence::chat_db db, persistence::message_writer_actor writer,
                  user_registry_actor users, chat_settings settings,
                  conversation_registry_actor registry);

} // namespace tandem
