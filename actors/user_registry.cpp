#include "actors/user_registry.hpp"

#include "actors/connection_actor.hpp"
#include "actors/key_sweep.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <unordered_map>
#include <utility>

namespace tandem {

namespace {

/// A user with live connections, as the user's actor last reported them.
struct live_user {
  uint8_t kinds = 0; ///< the event kinds the connections subscribe to
  /// The connections' actors when all are on this node (pushes go to them directly);
  /// empty: through the user's actor, which knows where they are.
  std::vector<live_socket> sockets;
};

struct user_registry_state {
  persistence::social_db db;
  user_settings settings;
  keyed_actors<user_actor, cluster::cluster_placement> actors{"user"};
  /// Users with live connections (from their actors, `live_connections`): pushes
  /// toward anyone else are not sent.
  std::unordered_map<std::string, live_user> connected;

  static inline const char* name = "tandem.user_registry";
};

using self_pointer = user_registry_actor::stateful_pointer<user_registry_state>;

/// Hands the request being handled to the actor of `user`, which answers the
/// original sender directly.
template <class... Ts>
auto route(self_pointer self, const std::string& user, Ts&&... xs) {
  return self->state.actors.route(self, user, std::forward<Ts>(xs)...);
}

/// Like `route` for what a user actor only needs while it lives: without one, answer
/// `fallback` here (the database already holds an update for the next load; a user
/// without an actor has no connection and no presence).
template <class Reply, class... Ts>
caf::result<Reply> route_if_live(self_pointer self, const std::string& user, Reply fallback,
                                 Ts&&... xs) {
  return self->state.actors.route_if_live(self, user, std::move(fallback),
                                          std::forward<Ts>(xs)...);
}

/// Like `route_if_live` for messages without a reply: dropped without an actor.
template <class... Ts>
void send_if_live(self_pointer self, const std::string& user, Ts&&... xs) {
  self->state.actors.send_if_live(self, user, std::forward<Ts>(xs)...);
}

/// Hands `push` to the connections of `user` that subscribe to its kind, if any;
/// returns whether there were. A user homed on another node gets it through that
/// node's registry, which knows the user's connections.
bool push_if_connected(self_pointer self, const std::string& user, const ws_push& push) {
  if (auto home = self->state.actors.home_elsewhere(self, user)) {
    self->send(caf::actor_cast<user_registry_actor>(*home), atom::push_v, user, push);
    return true;
  }
  auto i = self->state.connected.find(user);
  if (i == self->state.connected.end() || (i->second.kinds & push.kind) == 0)
    return false;
  if (i->second.sockets.empty()) {
    send_if_live(self, user, atom::push_v, user, push);
    return true;
  }
  for (const auto& socket : i->second.sockets)
    if ((socket.kinds & push.kind) != 0)
      self->send(caf::actor_cast<connection_actor>(socket.connection), atom::push_v, push);
  return true;
}

/// One frame for many users. Typing is shed while the mailbox holds more than
/// ws.fanout_backlog messages: nothing depends on it, and under that load the
/// registry must first drain what does.
void fan_out(self_pointer self, const std::vector<std::string>& to, const ws_push& push) {
  auto& gateway = self->state.settings.gateway;
  if (push.sheddable && self->state.actors.sample_mailbox(self) > gateway.fanout_backlog) {
    ++gateway.counters->fanout_shed;
    return;
  }
  uint64_t skipped = 0;
  // The users homed on another node go there in one fan-out per node.
  std::unordered_map<caf::actor_addr, std::pair<caf::actor, std::vector<std::string>>> remote;
  for (const auto& user : to) {
    if (auto home = self->state.actors.home_elsewhere(self, user)) {
      auto& batch = remote[home->address()];
      batch.first = *home;
      batch.second.push_back(user);
    } else if (!push_if_connected(self, user, push)) {
      ++skipped;
    }
  }
  gateway.counters->offline_skipped += skipped;
  for (auto& [_, batch] : remote)
    self->send(caf::actor_cast<user_registry_actor>(batch.first), atom::fanout_v,
               std::move(batch.second), push);
}

user_registry_actor::behavior_type
user_registry_impl(self_pointer self, persistence::social_db db, user_settings settings,
                   std::shared_ptr<registry_counters> counters,
                   cluster::cluster_placement placement) {
  self->state.db = std::move(db);
  self->state.settings = settings;
  self->state.actors.setup(
    [self](const std::string& user) {
      auto& st = self->state;
      return self->spawn(user_actor_impl, user, st.db, user_registry_actor{self}, st.settings);
    },
    std::move(counters), std::move(placement));
  self->set_down_handler([self](caf::down_msg& msg) {
    // A user without an actor has no connection.
    if (auto user = self->state.actors.on_down(msg))
      self->state.connected.erase(*user);
  });
  schedule_sweeps(self);
  return {
    [self](atom::lookup_friendship a, const std::string& user, const std::string& other) {
      return route(self, user, a, user, other);
    },
    [self](atom::incoming_requests a, const std::string& user) { return route(self, user, a, user); },
    [self](atom::list_friends a, const std::string& user, const std::string& target,
           list_window page) { return route(self, user, a, user, target, page); },
    [self](atom::count_friends a, const std::string& user) { return route(self, user, a, user); },
    [self](atom::mutual_friends a, const std::string& user, const std::string& target,
           list_window page) { return route(self, user, a, user, target, page); },
    [self](atom::count_mutual_friends a, const std::string& user, const std::string& target) {
      return route(self, user, a, user, target);
    },
    [self](atom::all_relations a, const std::string& user, list_window page) {
      return route(self, user, a, user, page);
    },
    [self](atom::write_friendship a, const friendship_command& cmd) {
      // The pair's owner runs every write of the pair (see user_routed).
      return route(self, std::min(cmd.caller, cmd.other), a, cmd);
    },
    [self](atom::decline_all_requests a, const std::string& user) { return route(self, user, a, user); },
    [self](atom::unread_shares a, const std::string& user, list_window page) {
      return route(self, user, a, user, page);
    },
    [self](atom::send_share a, const std::string& user, const share_request& req) {
      return route(self, user, a, user, req);
    },
    [self](atom::mark_shares_read a, const std::string& user, const std::vector<std::string>& ids) {
      return route(self, user, a, user, ids);
    },
    [self](atom::friend_ids a, const std::string& user) { return route(self, user, a, user); },
    [self](atom::friend_cards a, const std::string& user, list_window page) {
      return route(self, user, a, user, page);
    },
    [self](atom::apply_friendship_change a, const std::string& user, const friendship_change& change) {
      return route_if_live(self, user, true, a, user, change);
    },
    [self](atom::receive_share a, const std::string& user, const share_notification& note) {
      return route_if_live(self, user, true, a, user, note);
    },
    [self](atom::open_connection a, const std::string& user, uint8_t kinds, const caf::actor& conn) {
      return route(self, user, a, user, kinds, conn);
    },
    [self](atom::open_connection a, const std::string& user, uint8_t kinds,
           const connection_ref& conn) { return route(self, user, a, user, kinds, conn); },
    // A connection's messages spawn the actor if need be: one that does not know the
    // connection tells it to reconnect.
    [self](atom::update_presence a, const std::string& user, const connection_ref& conn,
           const page_info& page) { return route(self, user, a, user, conn, page); },
    [self](atom::presence_heartbeat a, const std::string& user, const connection_ref& conn) {
      return route(self, user, a, user, conn);
    },
    [self](atom::budget a, const std::string& user, const connection_ref& conn, uint8_t kind) {
      return route(self, user, a, user, conn, kind);
    },
    [self](atom::close_connection a, const std::string& user, const connection_ref& conn) {
      send_if_live(self, user, a, user, conn);
    },
    [self](atom::node_gone a, const node_identity& node) {
      self->state.actors.broadcast(self, a, node);
    },
    [self](atom::sweep_keys, const std::string& after) {
      sweep_keys(self, atom::owned_users_v, atom::release_users_v, "user", after);
    },
    [self](atom::get_presence a, const std::string& user) { return route(self, user, a, user); },
    [self](atom::peek_presence a, const std::string& user, const std::string& target) {
      return route(self, user, a, user, target);
    },
    [self](atom::presence_of a, const std::string& user) {
      return route_if_live(self, user, presence_state{user, caf::none, caf::none}, a, user);
    },
    [self](atom::push, const std::string& user, const ws_push& push) {
      self->state.actors.sample_mailbox(self);
      if (!push_if_connected(self, user, push))
        ++self->state.settings.gateway.counters->offline_skipped;
    },
    [self](atom::fanout, const std::vector<std::string>& to, const ws_push& push) {
      fan_out(self, to, push);
    },
    [self](atom::live_connections, const std::string& user, uint8_t kinds,
           std::vector<live_socket>& sockets) {
      if (!self->state.actors.from_live(self, user))
        return;
      if (kinds == 0)
        self->state.connected.erase(user);
      else
        self->state.connected[user] = {kinds, std::move(sockets)};
    },
    [self](atom::session_end a, const std::string& user, const std::string& session) {
      send_if_live(self, user, a, user, session);
    },
    [self](atom::card_changed a, const std::string& user, const user_card& card) {
      send_if_live(self, user, a, user, card);
    },
    [self](atom::resync a, const std::string& user) { send_if_live(self, user, a, user); },
    [self](atom::get_profile a, const std::string& user) { return route(self, user, a, user); },
    [self](atom::create_profile a, const std::string& user, const new_profile& p) {
      return route(self, user, a, user, p);
    },
    [self](atom::update_profile a, const std::string& user, const std::string& email,
           const profile_update& u) { return route(self, user, a, user, email, u); },
    [self](atom::set_profile_domains a, const std::string& user, domain_list which,
           const std::vector<std::string>& domains) {
      return route(self, user, a, user, which, domains);
    },
    [self](atom::set_profile_image a, const std::string& user, const std::string& ext) {
      return route(self, user, a, user, ext);
    },
    [self](atom::clear_profile_image a, const std::string& user) {
      return route(self, user, a, user);
    },
    [self](atom::idle, const std::string& user, uint64_t handled) {
      if (self->state.actors.on_idle(self, user, handled))
        self->state.connected.erase(user);
    },
    [self](atom::hand_over) {
      for (const auto& user : self->state.actors.hand_over(self))
        self->state.connected.erase(user);
      return self->state.actors.when_settled(self);
    },
    [self](atom::stop_serving) {
      self->state.actors.stop_all(self);
      self->state.connected.clear();
    },
    [self](atom::stats) {
      const auto& c = self->state.actors.counters();
      return user_registry_stats{c.live, c.spawned, c.passivated, c.died};
    },
  };
}

} // namespace

user_settings user_settings_from(const config::app_config& cfg) {
  user_settings s;
  s.idle_timeout = std::chrono::seconds(cfg.users.idle_timeout_s);
  s.unread_cache_limit = static_cast<int32_t>(cfg.users.unread_cache_limit);
  s.write_queue_limit = cfg.users.write_queue_limit;
  s.limits = {cfg.users.max_pending_requests, cfg.users.max_friends,
              cfg.users.max_outgoing_requests, cfg.users.request_ttl_s};
  s.shares_per_hour = cfg.users.shares_per_hour;
  s.shares_burst = cfg.users.shares_burst;
  s.request_timeout = std::chrono::milliseconds(cfg.http.request_timeout_ms);
  s.claim_wait = std::chrono::milliseconds(cfg.cluster.renew_interval_ms);
  s.sweep_interval = std::chrono::milliseconds(cfg.cluster.sweep_interval_ms);
  s.gateway = gateway_settings_from(cfg);
  return s;
}

user_registry_actor spawn_user_registry(caf::actor_system& sys, persistence::social_db db,
                                        user_settings settings,
                                        std::shared_ptr<registry_counters> counters,
                                        cluster::cluster_placement placement) {
  return sys.spawn(user_registry_impl, std::move(db), settings, std::move(counters),
                   std::move(placement));
}

} // namespace tandem
