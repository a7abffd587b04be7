// The connection directory of a node (docs/cluster.md, Connections on other nodes): in a
// cluster a user's actor lives on the user's home node while the user's WebSockets land
// on any node, and no actor handle crosses nodes. The directory names each connection
// actor of its node by a `connection_ref` and delivers what user actors send to such a
// ref, here or, through the proxy of the bus, on the ref's node.
#pragma once

#include "actors/connection_actor.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace tandem {

/// A directory's counters: written by its actor only, read by /metrics and tests.
struct connection_directory_counters {
  std::atomic<uint64_t> registered{0}; ///< Connection actors of this node now.
  std::atomic<uint64_t> delivered{0};  ///< Messages handed to a connection of this node.
  std::atomic<uint64_t> forwarded{0};  ///< Messages sent on to another node's directory.
  /// Messages for a connection of this node that has ended, or for a previous run of
  /// this node (its incarnation): nobody is there to take them.
  std::atomic<uint64_t> dropped{0};
};

/// The proxy actor that forwards any message to the directory (the "connections"
/// endpoint) of another node; given by the bus.
using node_proxy = std::function<caf::actor(const node_identity&)>;

/// Spawns the directory of the node `self`. Proxies are asked for once per node and
/// kept until that node leaves the live set (`atom::node_gone`).
connection_directory_actor spawn_connection_directory(
  caf::actor_system& sys, node_identity self, node_proxy proxy,
  std::shared_ptr<connection_directory_counters> counters
  = std::make_shared<connection_directory_counters>());

} // namespace tandem
