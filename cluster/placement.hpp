// Placement (docs/cluster.md, Placement): which node is the home of a key. Every node
// computes it alone from the live set of its membership view, by rendezvous hashing:
// the home is the live node with the highest weight for the key. A node that joins
// takes about 1/N of the keys, from every node alike; a node that leaves hands on only
// its own keys.
#pragma once

#include "cluster/membership.hpp"
#include "vocabulary/membership_types.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::cluster {

/// The weight of `node_id` for `key`: 64-bit FNV-1a over the node id's bytes, one zero
/// byte (no node id contains one) and the key's bytes, then MurmurHash3's 64-bit
/// finalizer (fmix64) so that keys differing in their last bytes spread over all 64
/// bits. Defined by its bytes alone: every node, build and platform agrees on it.
uint64_t placement_weight(std::string_view node_id, std::string_view key);

/// The home of `key` among `live`: the node of highest weight (ties, which need equal
/// 64-bit weights, go to the smaller node id); nullptr when `live` is empty. Depends on
/// node ids only, not incarnations: a restarted node keeps its keys.
const cluster_node* rendezvous_home(std::string_view key, const std::vector<cluster_node>& live);

/// The Placement of `keyed_actors` (actors/registry.hpp) on a cluster: a key whose home
/// is another live node goes to that node's registry through a proxy, unchanged; the
/// proxy's reply reaches the original sender. A key homed here and an empty live set
/// (not yet joined) stay here. A message that came in over the bus is never passed on
/// again by a member (that could ping-pong while two nodes' views differ): handled here
/// when this node's view agrees that the key is homed here, refused (`errc::moved`)
/// otherwise. A node that is leaving (its own view no longer lists it) passes everything
/// on, messages from the bus too: it serves nothing more.
class cluster_placement {
public:
  /// The actor on this node that forwards to a registry of another node (the bus's
  /// proxy to the matching endpoint).
  using proxy_factory = std::function<caf::actor(const node_identity&)>;

  /// Routes every key here (a registry before setup).
  cluster_placement() = default;

  /// `bus_endpoint`: the actor that delivers the messages arriving over the bus;
  /// `refuser`: the one that answers while this node may not serve (spawn_refuser).
  cluster_placement(std::shared_ptr<const membership_board> board, proxy_factory proxy,
                    caf::actor_addr bus_endpoint, caf::actor refuser);

  /// While this node may not serve keys at `now` (membership_board::serving: fenced, or
  /// past the fence deadline of its latest renewal), the actor that refuses every
  /// message instead of any actor here or elsewhere; none while it may.
  std::optional<caf::actor> refusal(caf::actor_clock::time_point now) const {
    if (board_ && !board_->serving(now))
      return refuser_;
    return std::nullopt;
  }

  /// Where the message being handled (from `sender`) goes instead of here.
  std::optional<caf::actor> elsewhere(const std::string& key, const caf::strong_actor_ptr& sender);

  /// Whether `sender` is the bus endpoint: the message came from another node, which
  /// already did what the first node to see a request does (budgets, for one).
  bool from_peer(const caf::strong_actor_ptr& sender) const {
    return board_ && sender && sender->address() == bus_endpoint_;
  }

private:
  std::shared_ptr<const membership_board> board_;
  proxy_factory proxy_;
  caf::actor_addr bus_endpoint_;
  caf::actor refuser_;
  /// The proxy of each node (by id) made so far, with the incarnation it was made for;
  /// pruned to the live nodes of view `proxies_version_`.
  std::map<std::string, std::pair<int64_t, caf::actor>> proxies_;
  uint64_t proxies_version_ = 0;
};

/// The actor that answers for a node that may not serve keys: every request gets
/// `errc::moved` (503: the client retries, and reaches a node that serves), every
/// one-way message is dropped.
caf::actor spawn_refuser(caf::actor_system& sys);

} // namespace tandem::cluster
