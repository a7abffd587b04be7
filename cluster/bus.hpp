// The bus between nodes: Redis pub/sub, one channel per node (docs/cluster.md, "The
// bus"). A node reaches another node's endpoints ("users", "conversations",
// "connections") through proxies: local actors that forward whatever they are sent or
// asked, so that the sender's code does not change when the receiver lives elsewhere.
#pragma once

#include "config/app_config.hpp"
#include "vocabulary/messages.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace tandem::cluster {

/// What the bus counts, readable from any thread (/metrics).
struct bus_counters {
  std::atomic<uint64_t> published{0};       ///< envelopes handed to Redis
  std::atomic<uint64_t> flushes{0};         ///< round trips that published them (pipelined)
  std::atomic<uint64_t> received{0};        ///< envelopes read from this node's channel
  std::atomic<uint64_t> refused_size{0};    ///< over cluster.bus_message_limit (either way)
  std::atomic<uint64_t> refused_queue{0};   ///< over cluster.bus_queue_limit (either way)
  std::atomic<uint64_t> refused_values{0};  ///< carried actor handles or unregistered types
  std::atomic<uint64_t> timeouts{0};        ///< requests unanswered after request_timeout_ms
  std::atomic<uint64_t> unavailable{0};     ///< failed at once: bus down, nobody subscribed
  std::atomic<uint64_t> decode_errors{0};   ///< garbled or foreign envelopes
  std::atomic<uint64_t> inbound_queued{0};  ///< read, not yet handled by the bus actor
  std::atomic<bool> subscribed{false};      ///< this node's channel is being listened to
};

/// One node's end of the bus: the `bus` actor (publishing, pending requests, inbound
/// dispatch) and its subscriber, a detached actor on a blocking hiredis connection
/// that reconnects with backoff and subscribes again. Thread-safe.
class bus {
public:
  /// Starts the bus of node `self` (channel `tandem:node:<id>`), publishing through a
  /// Redis connection of its own.
  bus(caf::actor_system& sys, node_identity self, const config::cluster_config& cluster,
      const config::redis_config& redis);

  bus(const bus&) = delete;
  bus& operator=(const bus&) = delete;

  /// Calls stop().
  ~bus();

  /// Stops the bus actor, its subscriber, its publisher and its proxies (their
  /// senders then get errors). For shutdown: the actor system waits for them.
  void stop();

  /// Inbound messages for `name` go to `handle`: one-way ones as `send`, requests
  /// as `request` with cluster.request_timeout_ms, their results published back.
  void register_endpoint(const std::string& name, caf::actor handle);

  /// A local actor forwarding anything it is sent or asked to `endpoint` on `node`:
  /// one-way stays one-way; a request gets the remote reply or error, or
  /// `errc::peer_unavailable` after cluster.request_timeout_ms (at once when the bus is
  /// down or nobody listens for `node`), `errc::payload_too_large` over
  /// cluster.bus_message_limit, `errc::overloaded` when the publish queue is full,
  /// `errc::invalid_request` for a message carrying an actor handle. One proxy per
  /// node and endpoint, kept until that node comes back under a new incarnation.
  caf::actor proxy(const node_identity& node, const std::string& endpoint);

  /// The bus actor: inbound messages come from it (placement treats them as local).
  const caf::actor& handle() const {
    return actor_;
  }

  const bus_counters& counters() const {
    return *counters_;
  }

  /// This node's channel name.
  static std::string channel_of(const std::string& node_id);

private:
  caf::actor_system& sys_;
  std::shared_ptr<bus_counters> counters_;
  caf::actor actor_;
  std::mutex proxies_mutex_;
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, caf::actor>> proxies_;
};

} // namespace tandem::cluster
