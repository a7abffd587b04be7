#include "actors/connection_directory.hpp"

#include <map>
#include <unordered_map>
#include <utility>

namespace tandem {

namespace {

struct connection_directory_state {
  node_identity node;
  node_proxy proxy;
  std::shared_ptr<connection_directory_counters> counters;
  /// The connection actors of this node by number (their actor id).
  std::unordered_map<uint64_t, connection_actor> connections;
  /// The proxy of each node messages went to, until it leaves.
  std::map<std::string, std::pair<node_identity, caf::actor>> proxies;

  static inline const char* name = "tandem.connection_directory";
};

using self_pointer = connection_directory_actor::stateful_pointer<connection_directory_state>;

/// The proxy for `node`, asked for once; null when the bus has none.
const caf::actor& proxy_of(self_pointer self, const node_identity& node) {
  auto& st = self->state;
  auto i = st.proxies.find(node.id);
  if (i == st.proxies.end() || i->second.first != node) {
    // A node's new run replaces the proxy of its previous one.
    auto& slot = st.proxies[node.id];
    slot = {node, st.proxy ? st.proxy(node) : caf::actor{}};
    return slot.second;
  }
  return i->second.second;
}

/// Hands `xs...` (the message without its ref) to the connection `ref` names: here
/// directly, elsewhere through that node's directory with the ref kept.
template <class Atom, class... Ts>
void deliver(self_pointer self, Atom a, const connection_ref& ref, Ts&&... xs) {
  auto& st = self->state;
  if (ref.node.id != st.node.id) {
    const auto& proxy = proxy_of(self, ref.node);
    if (!proxy) {
      ++st.counters->dropped;
      return;
    }
    ++st.counters->forwarded;
    self->send(caf::actor_cast<connection_directory_actor>(proxy), a, ref,
               std::forward<Ts>(xs)...);
    return;
  }
  // For this node: an old run's connection is gone with that run.
  auto i = ref.node.incarnation == st.node.incarnation ? st.connections.find(ref.id)
                                                        : st.connections.end();
  if (i == st.connections.end()) {
    ++st.counters->dropped;
    return;
  }
  ++st.counters->delivered;
  self->send(i->second, a, std::forward<Ts>(xs)...);
}

connection_directory_actor::behavior_type
connection_directory_impl(self_pointer self, node_identity node, node_proxy proxy,
                          std::shared_ptr<connection_directory_counters> counters) {
  auto& st = self->state;
  st.node = std::move(node);
  st.proxy = std::move(proxy);
  st.counters = std::move(counters);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    st.connections.erase(msg.source.id());
    st.counters->registered = st.connections.size();
  });
  return {
    [self](atom::register_connection, const connection_actor& conn) {
      auto& st = self->state;
      self->monitor(conn);
      st.connections.emplace(conn.id(), conn);
      st.counters->registered = st.connections.size();
    },
    [self](atom::push a, const connection_ref& ref, const ws_push& push) {
      deliver(self, a, ref, push);
    },
    [self](atom::evict a, const connection_ref& ref) { deliver(self, a, ref); },
    [self](atom::session_end a, const connection_ref& ref, const std::string& session) {
      deliver(self, a, ref, session);
    },
    [self](atom::connection_lost a, const connection_ref& ref) { deliver(self, a, ref); },
    [self](atom::node_gone a, const node_identity& gone) {
      auto& st = self->state;
      auto i = st.proxies.find(gone.id);
      if (i != st.proxies.end() && i->second.first == gone)
        st.proxies.erase(i);
      for (const auto& kvp : st.connections)
        self->send(kvp.second, a, gone);
    },
    [self](atom::stop_serving) {
      for (const auto& kvp : self->state.connections)
        self->send(kvp.second, atom::connection_lost_v);
    },
  };
}

} // namespace

connection_directory_actor
spawn_connection_directory(caf::actor_system& sys, node_identity self, node_proxy proxy,
                           std::shared_ptr<connection_directory_counters> counters) {
  return sys.spawn(connection_directory_impl, std::move(self), std::move(proxy),
                   std::move(counters));
}

} // namespace tandem
