#include "cluster/placement.hpp"

#include <algorithm>
#include <iterator>

namespace tandem::cluster {

namespace {

constexpr uint64_t fnv_offset = 14695981039346656037ull;
constexpr uint64_t fnv_prime = 1099511628211ull;

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= fnv_prime;
  }
  return h;
}

uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

} // namespace

uint64_t placement_weight(std::string_view node_id, std::string_view key) {
  auto h = fnv1a(fnv_offset, node_id);
  h = fnv1a(h, std::string_view{"\0", 1});
  return fmix64(fnv1a(h, key));
}

const cluster_node* rendezvous_home(std::string_view key, const std::vector<cluster_node>& live) {
  const cluster_node* best = nullptr;
  uint64_t best_weight = 0;
  for (const auto& node : live) {
    auto w = placement_weight(node.identity.id, key);
    if (!best || w > best_weight || (w == best_weight && node.identity.id < best->identity.id)) {
      best = &node;
      best_weight = w;
    }
  }
  return best;
}

cluster_placement::cluster_placement(std::shared_ptr<const membership_board> board,
                                     proxy_factory proxy, caf::actor_addr bus_endpoint,
                                     caf::actor refuser)
    : board_(std::move(board)),
      proxy_(std::move(proxy)),
      bus_endpoint_(std::move(bus_endpoint)),
      refuser_(std::move(refuser)) {
}

std::optional<caf::actor> cluster_placement::elsewhere(const std::string& key,
                                                       const caf::strong_actor_ptr& sender) {
  if (!board_)
    return std::nullopt;
  auto view = board_->view();
  const auto* home = rendezvous_home(key, view->live);
  bool here = !home || home->identity.id == view->self.id;
  auto member = [&](const cluster_node& n) { return n.identity.id == view->self.id; };
  if (from_peer(sender) && std::any_of(view->live.begin(), view->live.end(), member)) {
    // The sender's view named this node the home, this node's does not. Passed on, the
    // message could ping-pong while the views differ; served by an actor spawned here,
    // the key would be claimed by a node whose hand-over has already run, and the home
    // could never claim it until that actor idles. Refused (the client retries) until
    // the views agree, one renewal at most. A node leaving the cluster (not in its own
    // live set) passes on what its peers still send it instead: it serves nothing more.
    if (here)
      return std::nullopt;
    return refuser_;
  }
  if (here)
    return std::nullopt;
  if (view->version != proxies_version_) {
    // A node that left takes its proxy along; one that restarted gets a new one below.
    for (auto i = proxies_.begin(); i != proxies_.end();) {
      auto in = [&](const cluster_node& n) { return n.identity.id == i->first; };
      i = std::any_of(view->live.begin(), view->live.end(), in) ? std::next(i) : proxies_.erase(i);
    }
    proxies_version_ = view->version;
  }
  auto& slot = proxies_[home->identity.id];
  if (slot.first != home->identity.incarnation || !slot.second) {
    slot.first = home->identity.incarnation;
    slot.second = proxy_(home->identity);
  }
  return slot.second;
}

caf::actor spawn_refuser(caf::actor_system& sys) {
  return sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    self->set_default_handler(
      [](caf::scheduled_actor* me, caf::message_view&) -> caf::result<caf::message> {
        // An error answering a one-way message would reach its sender as a message.
        if (me->current_message_id().is_async())
          return caf::message{};
        return caf::make_error(errc::moved, "This node is not serving: its cluster lease "
                                            "was not renewed in time");
      });
    // Everything goes to the default handler; a behavior keeps the actor alive.
    return {[](atom::stop_serving) {}};
  });
}

} // namespace tandem::cluster
