#include "cluster/membership.hpp"

#include "config/log.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace tandem::cluster {

membership_board::membership_board(node_identity self) {
  auto first = std::make_shared<membership_view>();
  first->self = std::move(self);
  view_ = std::move(first);
}

membership_settings make_membership_settings(const config::cluster_config& cfg,
                                             node_identity self, std::string address) {
  if (!(cfg.renew_interval_ms < cfg.fence_after_ms && cfg.fence_after_ms < cfg.lease_ms))
    throw config::config_error(
      "cluster: renew_interval_ms < fence_after_ms < lease_ms is required (a node must stop "
      "serving before its lease can end), got "
      + std::to_string(cfg.renew_interval_ms) + ", " + std::to_string(cfg.fence_after_ms) + ", "
      + std::to_string(cfg.lease_ms));
  membership_settings out;
  out.self = std::move(self);
  out.address = std::move(address);
  out.lease = std::chrono::milliseconds{cfg.lease_ms};
  out.renew_interval = std::chrono::milliseconds{cfg.renew_interval_ms};
  out.fence_after = std::chrono::milliseconds{cfg.fence_after_ms};
  return out;
}

namespace {

using time_point = caf::actor_clock::time_point;

struct membership_state {
  membership_settings settings;
  persistence::lease_db store;
  std::shared_ptr<membership_board> board;
  membership_hooks hooks;
  bool live = false;     ///< Renewed within fence_after, and not leaving.
  bool renewing = false; ///< A renewal is in flight: the next tick does not add one.
  bool leaving = false;
  /// Successful renewals so far. Each sets a fence deadline of its own, fence_after from
  /// when it was sent on the monotonic clock: its lease lasts at least `lease` from then
  /// on the database's clock, which cannot have started the transaction earlier. Only
  /// the deadline of the latest one counts.
  uint64_t renewals = 0;
  bool failing = false;       ///< The last renewal failed (logged once per run of failures).
  std::vector<cluster_node> nodes;
  /// Peers that announced their drain, until a renewal no longer lists them.
  std::vector<node_identity> leaving_peers;
  /// The drain's reply, waiting for the renewal in flight: a renewal that committed
  /// after the row was deleted would put it back.
  std::optional<caf::typed_response_promise<bool>> leaving_reply;
  static inline const char* name = "tandem.membership";
};

using membership_self = membership_actor::stateful_pointer<membership_state>;

/// Publishes a new view when the live set, the leaving peers or the fenced flag changed.
/// A leaving node's view no longer lists it: every key's home is another node (the
/// registries hand their keys over and pass on what still comes in). Peers that announced
/// their drain are listed as leaving, not live.
void publish(membership_self self) {
  auto& st = self->state;
  std::vector<cluster_node> live;
  std::vector<cluster_node> leaving;
  for (const auto& n : st.nodes) {
    if (n.identity.id == st.settings.self.id && st.leaving)
      continue;
    bool announced = std::find(st.leaving_peers.begin(), st.leaving_peers.end(), n.identity)
                     != st.leaving_peers.end();
    (announced ? leaving : live).push_back(n);
  }
  auto current = st.board->view();
  if (current->fenced == !st.live && current->live == live && current->leaving == leaving)
    return;
  auto next = std::make_shared<membership_view>();
  next->self = st.settings.self;
  next->live = std::move(live);
  next->leaving = std::move(leaving);
  next->fenced = !st.live;
  next->version = current->version + 1;
  std::shared_ptr<const membership_view> view = std::move(next);
  st.board->publish(view);
  for (auto& f : st.hooks.on_view)
    f(view);
}

void on_renewed(membership_self self, time_point sent, lease_renewal& renewal) {
  auto& st = self->state;
  // The request's timeout is fence_after: a renewal answers before its fence deadline.
  auto now = self->clock().now();
  ++st.renewals;
  st.board->serve_until(sent + st.settings.fence_after);
  self->delayed_send(self, sent + st.settings.fence_after - now, atom::fence_due_v, st.renewals);
  if (renewal.displaced != 0)
    log::write(st.renewals == 1 ? log::level::info : log::level::error,
               st.renewals == 1 ? "took over the lease of this node's previous run"
                                : "another node runs with this node id",
               {{"node", st.settings.self.id}, {"displaced", renewal.displaced}});
  if (st.failing)
    log::info("lease renewed again", {{"node", st.settings.self.id}});
  st.failing = false;
  st.nodes = std::move(renewal.live);
  // A peer whose lease is gone (or that runs again, another incarnation) left.
  auto listed = [&](const node_identity& peer) {
    return std::any_of(st.nodes.begin(), st.nodes.end(),
                       [&](const cluster_node& n) { return n.identity == peer; });
  };
  st.leaving_peers.erase(
    std::remove_if(st.leaving_peers.begin(), st.leaving_peers.end(),
                   [&](const node_identity& peer) { return !listed(peer); }),
    st.leaving_peers.end());
  auto was_live = std::exchange(st.live, true);
  publish(self);
  if (!was_live) {
    log::info("cluster member live", {{"node", st.settings.self.id},
                                      {"nodes", st.nodes.size()}});
    for (auto& f : st.hooks.on_unfence)
      f();
  }
}

/// Deletes the node's row, answers the drain, and quits.
void drop(membership_self self, caf::typed_response_promise<bool> rp) {
  auto& st = self->state;
  self->request(st.store, st.settings.lease, atom::drop_lease_v, st.settings.self)
    .then(
      [self, rp](bool dropped) mutable {
        rp.deliver(dropped);
        self->quit();
      },
      [self, rp](caf::error& err) mutable {
        log::warn("could not delete this node's lease; it ends by itself",
                  {{"node", self->state.settings.self.id}, {"error", describe(err)}});
        rp.deliver(std::move(err));
        self->quit();
      });
}

/// The renewal in flight answered: a drain that waited for it goes on.
void renewal_done(membership_self self) {
  auto& st = self->state;
  st.renewing = false;
  if (st.leaving_reply)
    std::exchange(st.leaving_reply, std::nullopt)->deliver(true);
}

void renew(membership_self self) {
  auto& st = self->state;
  auto sent = self->clock().now();
  st.renewing = true;
  auto lease_ms = static_cast<int32_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(st.settings.lease).count());
  // A reply later than fence_after would come after its own fence deadline.
  self
    ->request(st.store, st.settings.fence_after, atom::renew_lease_v, st.settings.self,
              st.settings.address, lease_ms)
    .then(
      [self, sent](lease_renewal& renewal) {
        if (!self->state.leaving)
          on_renewed(self, sent, renewal);
        renewal_done(self);
      },
      [self](caf::error& err) {
        auto& st = self->state;
        if (!st.failing && !st.leaving)
          log::warn("lease renewal failed", {{"node", st.settings.self.id},
                                             {"error", describe(err)}});
        st.failing = true;
        renewal_done(self);
      });
}

membership_actor::behavior_type membership_impl(membership_self self, persistence::lease_db store,
                                                membership_settings settings,
                                                std::shared_ptr<membership_board> board,
                                                membership_hooks hooks) {
  auto& st = self->state;
  st.settings = std::move(settings);
  st.store = std::move(store);
  st.board = std::move(board);
  st.hooks = std::move(hooks);
  self->send(self, atom::tick_v);
  return {
    [self](atom::tick) {
      auto& st = self->state;
      if (st.leaving)
        return;
      self->delayed_send(self, st.settings.renew_interval, atom::tick_v);
      if (!st.renewing)
        renew(self);
    },
    [self](atom::fence_due, uint64_t renewal) {
      auto& st = self->state;
      if (renewal != st.renewals || !st.live || st.leaving)
        return;
      st.live = false;
      log::warn("cluster member fenced: its lease was not renewed in time",
                {{"node", st.settings.self.id},
                 {"fence_after_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                      st.settings.fence_after)
                                      .count()}});
      publish(self);
      for (auto& f : st.hooks.on_fence)
        f();
    },
    [self](atom::leave_cluster) -> caf::result<bool> {
      auto& st = self->state;
      st.leaving = true;
      st.live = false;
      publish(self);
      if (!st.renewing)
        return true;
      st.leaving_reply = self->make_response_promise<bool>();
      return *st.leaving_reply;
    },
    [self](atom::drop_lease) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      drop(self, rp);
      return rp;
    },
    [self](atom::membership_changed) {
      // A peer joined or left: renew now rather than at the next tick, so that the
      // views of the nodes agree again within a database round trip.
      auto& st = self->state;
      if (!st.leaving && !st.renewing)
        renew(self);
    },
    [self](atom::membership_changed, const node_identity& peer) {
      // A peer is about to drain: from now on its keys are placed on the others, which
      // claim each once the peer has released it. Its lease still holds them meanwhile.
      auto& st = self->state;
      auto listed = [&](const cluster_node& n) { return n.identity == peer; };
      // At most one entry per live peer: the renewals prune it.
      if (std::any_of(st.nodes.begin(), st.nodes.end(), listed)
          && std::find(st.leaving_peers.begin(), st.leaving_peers.end(), peer)
               == st.leaving_peers.end()) {
        st.leaving_peers.push_back(peer);
        publish(self);
      }
      return true;
    },
  };
}

} // namespace

membership_actor spawn_membership(caf::actor_system& sys, persistence::lease_db store,
                                  membership_settings settings,
                                  std::shared_ptr<membership_board> board,
                                  membership_hooks hooks) {
  return sys.spawn(membership_impl, std::move(store), std::move(settings), std::move(board),
                   std::move(hooks));
}

} // namespace tandem::cluster
