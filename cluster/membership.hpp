// Membership (docs/cluster.md, Membership and fencing): each node holds a lease in
// cluster_nodes, renewed on the database's clock, and learns the live set with every
// renewal. A node that could not renew for fence_after_ms stops serving (it is FENCED)
// before its lease can end, so that no two nodes act for one key at once.
#pragma once

#include "config/app_config.hpp"
#include "persistence/lease_db.hpp"
#include "vocabulary/membership_types.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace tandem::cluster {

/// What this node knows of the cluster at one moment. Never changes once published.
struct membership_view {
  node_identity self;
  /// The nodes with a live lease at the last successful renewal, by node id (this node
  /// among them), but for those leaving: where keys are placed. Empty before the first one.
  std::vector<cluster_node> live;
  /// Peers that announced their drain and still hold a lease: no key is placed on them,
  /// but they still own what they have not released and still hold sockets, so they are
  /// not gone yet.
  std::vector<cluster_node> leaving;
  /// True until the first renewal, while the last one is older than fence_after_ms, and
  /// once the node leaves: it must then serve no key.
  bool fenced = true;
  /// Grows by one at every change of `live` or `fenced`.
  uint64_t version = 0;
};

/// The latest view, written by the membership actor only and read from any thread
/// (placement on every routed message, /readyz): an atomic swap of an immutable snapshot.
class membership_board {
public:
  /// Starts with version 0: fenced, no live node.
  explicit membership_board(node_identity self);

  std::shared_ptr<const membership_view> view() const {
    return std::atomic_load(&view_);
  }

  void publish(std::shared_ptr<const membership_view> next) {
    std::atomic_store(&view_, std::move(next));
  }

  /// Whether this node may serve its keys at `now` (the actor clock's): its view is not
  /// fenced and `now` is before the fence deadline of its latest renewal. The fence
  /// timer publishes a fenced view at that deadline, but a node paused past it (SIGSTOP,
  /// a stalled VM) runs what it had pending before that timer on resuming, while others
  /// may already own its keys: the serving path asks this, not only the view.
  bool serving(caf::actor_clock::time_point now) const {
    return !view()->fenced
           && now.time_since_epoch().count() < serve_until_.load(std::memory_order_acquire);
  }

  /// The fence deadline of the latest successful renewal (the membership actor's). A
  /// board that was never given one is bounded by its view alone.
  void serve_until(caf::actor_clock::time_point deadline) {
    serve_until_.store(deadline.time_since_epoch().count(), std::memory_order_release);
  }

private:
  std::shared_ptr<const membership_view> view_;
  std::atomic<caf::actor_clock::time_point::rep> serve_until_{
    std::numeric_limits<caf::actor_clock::time_point::rep>::max()};
};

/// The timing of the lease, from cluster.*.
struct membership_settings {
  node_identity self;
  std::string address;           ///< Advertised in cluster_nodes, for operators.
  caf::timespan lease{};         ///< How long one renewal keeps the lease.
  caf::timespan renew_interval{};///< How often the node renews.
  caf::timespan fence_after{};   ///< Unrenewed this long (since the renewal was sent): fenced.
};

/// The settings of `cfg`; `config::config_error` unless renew_interval_ms <
/// fence_after_ms < lease_ms (a node must fence itself before its lease can end).
membership_settings make_membership_settings(const config::cluster_config& cfg,
                                             node_identity self, std::string address);

/// What the rest of the node does when membership changes. Every callback runs on the
/// membership actor and must not block (send messages, flip flags).
struct membership_hooks {
  /// The node went from live to fenced: stop serving every key (once per fencing).
  std::vector<std::function<void()>> on_fence;
  /// The node went from fenced to live, the first renewal included: keys are claimed
  /// again as they are used.
  std::vector<std::function<void()>> on_unfence;
  /// A new view was published (after the callbacks above).
  std::vector<std::function<void(const std::shared_ptr<const membership_view>&)>> on_view;
};

/// The membership actor: renews at once and then every renew_interval; `tick` and
/// `fence_due` are its own timers; `membership_changed` (a peer joined or left, over the
/// bus) renews at once; `membership_changed` with a peer's identity (that peer is about to
/// drain) takes it out of placement at once, until its lease is gone, and replies then. The drain: `leave_cluster` stops renewing and publishes
/// a fenced view without this node (without running the fence callbacks), so that the
/// registries hand every key over, and replies once no renewal is in flight;
/// `drop_lease` then deletes the node's row so that others may take what was not
/// released at once, replies whether there was a row, and quits.
using membership_actor = caf::typed_actor<caf::reacts_to<atom::tick>,
                                          caf::reacts_to<atom::fence_due, uint64_t>,
                                          caf::reacts_to<atom::membership_changed>,
                                          caf::replies_to<atom::membership_changed,
                                                          node_identity>::with<bool>,
                                          caf::replies_to<atom::leave_cluster>::with<bool>,
                                          caf::replies_to<atom::drop_lease>::with<bool>>;

membership_actor spawn_membership(caf::actor_system& sys, persistence::lease_db store,
                                  membership_settings settings,
                                  std::shared_ptr<membership_board> board,
                                  membership_hooks hooks);

} // namespace tandem::cluster
