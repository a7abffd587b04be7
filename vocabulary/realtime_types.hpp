// What crosses actors for the real-time side (docs/api.md, Presence and WebSockets): the event kinds a
// WebSocket path subscribes to, the frames pushed to a user's connections, pages and
// presence as GET /presence shows them, the gateway's limits, and how a connection is named
// across the nodes of a cluster.
#pragma once

#include "vocabulary/cluster_types.hpp"
#include "vocabulary/social_types.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tandem {

/// Kinds of pushed events, as bits: a connection subscribes to a set of them.
namespace event_kind {
constexpr uint8_t presence = 1; ///< update-presence, presence-timeout
constexpr uint8_t social = 2;   ///< share-notification, friend-request, friend-accepted
constexpr uint8_t chat = 4;     ///< new-message, read-messages, read-receipt, typing
constexpr uint8_t all = presence | social | chat;
} // namespace event_kind

/// A frame rendered once: every recipient's message and send queue holds the same
/// bytes (a shared pointer), so a fan-out to N sockets copies no text.
struct ws_frame {
  std::string text;         ///< JSON text
  std::string coalesce_key; ///< non-empty: replaces a queued frame with the same key
};

using shared_frame = std::shared_ptr<const ws_frame>;

/// One frame for the connections of a user that subscribe to `kind`.
struct ws_push {
  uint8_t kind = 0;
  shared_frame frame;
  bool sheddable = false; ///< may be dropped under overload (typing: nothing depends on it)
};

/// A push of `text` (with `coalesce_key`, if any) for connections subscribing to `kind`.
inline ws_push make_push(uint8_t kind, std::string text, std::string coalesce_key = {}) {
  return {kind, std::make_shared<const ws_frame>(ws_frame{std::move(text), std::move(coalesce_key)}),
          false};
}

/// Serialized (to another node, or to a log) as its text and key; shared within a node.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ws_push& x) {
  auto text = x.frame ? x.frame->text : std::string{};
  auto key = x.frame ? x.frame->coalesce_key : std::string{};
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.frame = std::make_shared<const ws_frame>(ws_frame{std::move(text), std::move(key)});
    return caf::none;
  });
  return f(caf::meta::type_name("ws_push"), x.kind, text, key, x.sheddable, load);
}

/// A connection of a user on this node as the user registry's fan-out reaches it:
/// straight to its actor, without a hop through the user's actor. Node-local (it holds
/// an actor handle), so it stays out of the type-id block that may cross nodes.
struct live_socket {
  caf::actor connection;
  uint8_t kinds = 0; ///< the event kinds its path subscribes to

  friend bool operator==(const live_socket& a, const live_socket& b) {
    return a.connection == b.connection && a.kinds == b.kinds;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, live_socket& x) {
  return f(caf::meta::type_name("live_socket"), x.connection, x.kinds);
}

/// A page as friends see it (after the owner's privacy rules).
struct page_info {
  std::string url;
  std::string title;

  bool blank() const {
    return url.empty();
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, page_info& x) {
  return f(caf::meta::type_name("page_info"), x.url, x.title);
}

/// A user's presence: online while `page` is set (docs/api.md: a blank page is
/// "online but hiding"); `latest` is the latest non-blank page while online.
struct presence_state {
  std::string user_id;
  caf::optional<page_info> page;
  caf::optional<page_info> latest;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_state& x) {
  return f(caf::meta::type_name("presence_state"), x.user_id, x.page, x.latest);
}

/// GET /presence: the user's own presence, each accepted friend's (by name), and the
/// cards of all of them.
struct presence_overview {
  presence_state me;
  std::vector<presence_state> friends;
  std::vector<user_card> cards; ///< the user's first, then the friends'
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_overview& x) {
  return f(caf::meta::type_name("presence_overview"), x.me, x.friends, x.cards);
}

/// Per-user budgets a connection asks its user actor for (`atom::budget`).
namespace flood_budget {
constexpr uint8_t typing = 1;
constexpr uint8_t receipts = 2;
} // namespace flood_budget

/// What the WebSocket gateway's actors counted, for /metrics: presence updates, pushes
/// handed to connections, and what the per-user budgets and the fan-out coalesced, shed
/// or skipped. Shared by every actor of a node; relaxed increments only.
struct gateway_counters {
  /// update-presence frames that reached their user's actor (coalesced ones included).
  std::atomic<uint64_t> presence_received{0};
  /// Pages published to the user's friends and own connections: an update that went
  /// out, or a page blanked by new privacy settings.
  std::atomic<uint64_t> presence_published{0};
  /// Users gone offline (presence-timeout to their friends).
  std::atomic<uint64_t> presence_offline{0};
  /// Pushes a connection took into its send queue, by event_kind.
  std::atomic<uint64_t> pushed_presence{0};
  std::atomic<uint64_t> pushed_social{0};
  std::atomic<uint64_t> pushed_chat{0};
  /// update-presence replaced by a later one before its fan-out went out.
  std::atomic<uint64_t> presence_coalesced{0};
  std::atomic<uint64_t> typing_shed{0};
  std::atomic<uint64_t> receipts_shed{0};
  /// Typing fan-outs the user registry shed past ws.fanout_backlog.
  std::atomic<uint64_t> fanout_shed{0};
  /// Recipients of pushes and fan-outs without a live connection for the kind: no
  /// message was sent toward them.
  std::atomic<uint64_t> offline_skipped{0};
};

/// How a connection actor and the user actors treat WebSockets (ws.* keys).
struct gateway_settings {
  std::size_t max_connections = 8;
  std::size_t send_queue_limit = 256;
  int rate_per_s = 20;
  int rate_burst = 40;
  int max_strikes = 10;
  caf::timespan presence_timeout = std::chrono::seconds(180);
  /// Longest a closing socket stays open (ws.close_timeout_ms): the longest a new
  /// connection waits for the seat of the one it evicts.
  caf::timespan close_timeout = std::chrono::seconds(3);
  /// Per-user budgets (ws.presence_*, ws.typing_*, ws.receipts_*), all sockets together.
  int presence_per_s = 2;
  int presence_burst = 10;
  int typing_per_s = 2;
  int typing_burst = 10;
  int receipts_per_s = 5;
  int receipts_burst = 20;
  std::size_t fanout_backlog = 100000;
  /// Shared by every actor of a node; never null.
  std::shared_ptr<gateway_counters> counters = std::make_shared<gateway_counters>();
  /// How long past its token's expiry a socket may stay open without re-authenticating
  /// (ws.reauth_grace_s), and how long before it the client is warned (ws.expiry_notice_s).
  caf::timespan reauth_grace = std::chrono::seconds(60);
  caf::timespan expiry_notice = std::chrono::seconds(60);
};

/// A WebSocket connection anywhere in a cluster (docs/cluster.md, Connections on other
/// nodes): the run of the node that holds its socket, and its number there (the id of
/// its actor, unique within that run). Value-typed, so that it may cross nodes where an
/// actor handle may not. Empty (no node) on a single node, where handles do.
struct connection_ref {
  node_identity node;
  uint64_t id = 0;

  /// Whether this names a connection (cluster mode).
  explicit operator bool() const {
    return !node.id.empty();
  }
};

inline bool operator==(const connection_ref& x, const connection_ref& y) {
  return x.id == y.id && x.node == y.node;
}

inline bool operator!=(const connection_ref& x, const connection_ref& y) {
  return !(x == y);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_ref& x) {
  return f(caf::meta::type_name("connection_ref"), x.node, x.id);
}

/// WebSocket close codes the gateway uses.
namespace close_code {
constexpr uint16_t going_away = 1001;       ///< the node shuts down
constexpr uint16_t policy_violation = 1008; ///< garbage or flood
constexpr uint16_t internal_error = 1011;   ///< the user's actor went away: reconnect
constexpr uint16_t try_again_later = 1013;  ///< slow consumer: its send queue overflowed
constexpr uint16_t token_expired = 4001;    ///< no fresh token within ws.reauth_grace_s: reconnect
constexpr uint16_t session_ended = 4002;    ///< its session was signed out (or revoked)
constexpr uint16_t replaced = 4008;         ///< the user opened more than max_connections
} // namespace close_code

} // namespace tandem
