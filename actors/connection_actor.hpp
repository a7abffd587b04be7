// One actor per WebSocket (docs/architecture.md, Actors): it knows its user and the event
// kinds its path subscribes to, routes inbound frames by `action`, and owns the
// bounded, coalescing queue of frames going out. The socket itself lives in http/
// behind `ws_link`, so that no actor includes Beast.
#pragma once

#include "vocabulary/user_interface.hpp"
#include "actors/conversation_actor.hpp"
#include "auth/external_identities.hpp"
#include "wire/outbound_queue.hpp"
#include "vocabulary/realtime_types.hpp"
#include "auth/tokens.hpp"
#include "common/token_bucket.hpp"
#include "config/app_config.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tandem {

/// The socket side of a connection, implemented by the HTTP server. Every call may
/// come from any thread and must not block: the server posts it to the socket's
/// strand. A link answers the connection actor with `websocket_opened` once the handshake is
/// done, `websocket_sent` after each batch is written, `websocket_frame`/`websocket_bad_frame` per inbound frame and
/// `websocket_closed` when the socket is gone.
class ws_link {
public:
  virtual ~ws_link() = default;
  /// Completes the WebSocket handshake.
  virtual void accept() = 0;
  /// Answers the upgrade request with the HTTP error that `err` maps to instead.
  virtual void refuse(caf::error err) = 0;
  /// Writes `frames` in order, sharing their bytes (never copied); the actor gets
  /// `websocket_sent` after the last.
  virtual void write(std::vector<shared_frame> frames) = 0;
  /// One inbound frame was handled: the link may read one more.
  virtual void read_more() = 0;
  /// Closes the WebSocket with `code` and `reason`.
  virtual void close(uint16_t code, std::string reason) = 0;
  /// Sends the actor `token_expiring` once `after` has passed; replaces the alarm set before.
  /// The alarm ends with the socket (a delayed message would keep the actor until due).
  virtual void alarm(caf::timespan after) = 0;
};

using connection_actor = caf::typed_actor<
  /// A frame for this connection (from its user's actor).
  caf::reacts_to<atom::push, ws_push>,
  /// From the link: handshake done, a text frame, a frame refused by the socket layer
  /// (too large, binary: the detail), the last batch written, the socket gone.
  caf::reacts_to<atom::websocket_opened>,
  caf::reacts_to<atom::websocket_frame, std::string>,
  caf::reacts_to<atom::websocket_bad_frame, std::string>,
  caf::reacts_to<atom::websocket_sent>,
  caf::reacts_to<atom::websocket_closed>,
  /// From the user actor: the user opened more than ws.max_connections.
  caf::reacts_to<atom::evict>,
  /// From the user actor: this session ended (its id); the socket closes if it is its own.
  caf::reacts_to<atom::session_end, std::string>,
  /// From the link's alarm: the token is about to expire, or its grace period is over.
  caf::reacts_to<atom::token_expiring>,
  /// An external token of an authenticate frame, mapped: the identity (empty user id
  /// when it failed), its expiry, and the client-safe failure.
  caf::reacts_to<atom::reauthenticated, identity, int64_t, std::string>,
  /// Cluster: the user actor does not know this connection (it was replaced): the socket
  /// closes and the client reconnects, registering afresh.
  caf::reacts_to<atom::connection_lost>,
  /// Cluster, from the directory: a node left the live set; the socket closes if its
  /// user actor was there.
  caf::reacts_to<atom::node_gone, node_identity>>;

/// The connection directory of a node (actors/connection_directory.hpp): it knows the
/// node's connection actors by number and delivers what user actors anywhere send to
/// a `connection_ref`, forwarding what is for another node to that node's directory.
using connection_directory_actor = caf::typed_actor<
  /// From a connection actor of this node as it starts (never crosses nodes): its
  /// number is its actor id; it is forgotten when it terminates (monitored).
  caf::reacts_to<atom::register_connection, connection_actor>,
  /// What a user actor sends a connection, addressed by ref.
  caf::reacts_to<atom::push, connection_ref, ws_push>,
  caf::reacts_to<atom::evict, connection_ref>,
  caf::reacts_to<atom::session_end, connection_ref, std::string>,
  caf::reacts_to<atom::connection_lost, connection_ref>,
  /// A node left the live set: its forwarding proxy goes, and the connections of this
  /// node hear of it (those whose user actor was there close).
  caf::reacts_to<atom::node_gone, node_identity>,
  /// This node is fenced (docs/cluster.md): every connection of this node closes (1011),
  /// wherever its user actor is, so that its client reconnects to a node that serves.
  caf::reacts_to<atom::stop_serving>>;

/// Cluster mode for connections and user actors (cluster.enabled): this node's
/// identity and connection directory. Empty on a single node, where connections and
/// user actors talk through direct handles as they always did.
struct cluster_link {
  connection_directory_actor directory;
  node_identity node;

  explicit operator bool() const {
    return static_cast<bool>(directory);
  }
};

/// Which event kinds a WebSocket path subscribes to (`/ws`, `/ws/chat`,
/// `/ws/presence`); 0 for any other path.
uint8_t subscriptions_of(const std::string& path);

/// The WebSocket paths, in the order of `subscriptions_of`'s table.
std::vector<std::string> ws_paths();

/// The `action`s a connection accepts in inbound frames (its routing table's names).
std::vector<std::string> ws_actions();

/// The gateway's limits from the ws.* keys.
gateway_settings gateway_settings_from(const config::app_config& cfg);

/// Everything a connection needs besides its link.
struct connection_params {
  std::string user_id;
  uint8_t kinds = event_kind::all;
  user_registry_actor registry;
  gateway_settings settings;
  caf::timespan request_timeout = std::chrono::seconds(5);
  /// Where chat actions go, and the longest message they may carry.
  conversation_registry_actor chats;
  std::size_t max_message_length = 1000;
  /// The session (`sid`) and expiry (`exp`, seconds since the epoch) of the token the
  /// socket was opened with; 0: a token that never expires (tests only).
  std::string session;
  int64_t expires_at = 0;
  /// Verify and map the tokens of authenticate frames.
  std::shared_ptr<const token_service> tokens;
  std::shared_ptr<external_identity_map> identities;
  /// Cluster mode: the connection registers with the directory and speaks to its
  /// user actor through `registry` only (see `user_routed`).
  cluster_link cluster = {};
};

struct connection_state {
  connection_params params;
  std::shared_ptr<ws_link> link;
  user_actor user;                ///< set once registered (single node)
  connection_ref ref;             ///< this connection (cluster)
  node_identity home;             ///< the node of its user actor, once registered (cluster)
  outbound_queue queue{0};
  bool open = false;              ///< handshake done
  bool writing = false;           ///< a batch is with the link
  bool closing = false;           ///< close asked; nothing more is sent
  token_bucket frames;            ///< inbound frames (ws.rate_per_s, ws.rate_burst)
  int strikes = 0;                ///< bad frames in a row
  bool warned = false;            ///< token-expiring sent for the current token

  static inline const char* name = "tandem.connection";
};

/// Spawns the actor of a new WebSocket; it registers with the user's actor and then
/// tells the link to accept (or refuse) the handshake.
connection_actor spawn_connection(caf::actor_system& sys, connection_params params,
                                  std::shared_ptr<ws_link> link);

/// The behavior (for tests that spawn it under a test scheduler).
connection_actor::behavior_type
connection_impl(connection_actor::stateful_pointer<connection_state> self,
                connection_params params, std::shared_ptr<ws_link> link);

} // namespace tandem
