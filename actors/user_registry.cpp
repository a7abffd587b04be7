#include "actors/user_registry.hpp"

#include "config/log.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <unordered_map>
#include <utility>

namespace tandem {

namespace {

struct user_registry_state {
  /// A live user actor and how many messages the registry routed to it.
  struct entry {
    user_actor actor;
    uint64_t routed = 0;
  };

  persistence::social_db db;
  user_settings settings;
  std::unordered_map<std::string, entry> entries;
  /// The user of each live actor, to match a down message to its entry.
  std::unordered_map<caf::actor_addr, std::string> users;
  /// Users with live connections, and the event kinds those subscribe to (from their
  /// actors, `live_connections`): pushes toward anyone else are not sent.
  std::unordered_map<std::string, uint8_t> connected;
  user_registry_stats stats;

  user_registry_state() = default;
  user_registry_state(const user_registry_state&) = delete;
  user_registry_state& operator=(const user_registry_state&) = delete;

  ~user_registry_state() {
    // The registry is going away: its actors would be unreachable.
    for (auto& kvp : entries)
      caf::anon_send_exit(kvp.second.actor, caf::exit_reason::user_shutdown);
  }

  static inline const char* name = "tandem.user_registry";
};

using self_pointer = user_registry_actor::stateful_pointer<user_registry_state>;

/// The entry of `user`, spawning (and monitoring) its actor on first use.
user_registry_state::entry& entry_of(self_pointer self, const std::string& user) {
  auto& st = self->state;
  if (auto i = st.entries.find(user); i != st.entries.end())
    return i->second;
  auto actor = self->spawn(user_actor_impl, user, st.db, user_registry_actor{self}, st.settings);
  self->monitor(actor);
  st.users.emplace(actor.address(), user);
  ++st.stats.spawned;
  return st.entries.emplace(user, user_registry_state::entry{actor, 0}).first->second;
}

/// Hands the request being handled to the actor of `user`, which answers the
/// original sender directly.
template <class... Ts>
auto route(self_pointer self, const std::string& user, Ts&&... xs) {
  auto& e = entry_of(self, user);
  ++e.routed;
  return self->delegate(e.actor, std::forward<Ts>(xs)...);
}

/// Like `route` for what a user actor only needs while it lives: without one, answer
/// `fallback` here (the database already holds an update for the next load; a user
/// without an actor has no connection and no presence).
template <class Reply, class... Ts>
caf::result<Reply> route_if_live(self_pointer self, const std::string& user, Reply fallback,
                                 Ts&&... xs) {
  auto i = self->state.entries.find(user);
  if (i == self->state.entries.end())
    return fallback;
  ++i->second.routed;
  return self->delegate(i->second.actor, std::forward<Ts>(xs)...);
}

/// Like `route_if_live` for messages without a reply.
template <class... Ts>
void send_if_live(self_pointer self, const std::string& user, Ts&&... xs) {
  auto i = self->state.entries.find(user);
  if (i == self->state.entries.end())
    return;
  ++i->second.routed;
  self->send(i->second.actor, std::forward<Ts>(xs)...);
}

/// Routes `push` to the actor of `user` if the user has a live connection for its
/// kind; returns whether it did.
bool push_if_connected(self_pointer self, const std::string& user, const ws_push& push) {
  auto i = self->state.connected.find(user);
  if (i == self->state.connected.end() || (i->second & push.kind) == 0)
    return false;
  send_if_live(self, user, atom::push_v, user, push);
  return true;
}

/// One frame for many users. Typing is shed while the mailbox holds more than
/// ws.fanout_backlog messages: nothing depends on it, and under that load the
/// registry must first drain what does.
void fan_out(self_pointer self, const std::vector<std::string>& to, const ws_push& push) {
  auto& gateway = self->state.settings.gateway;
  if (push.sheddable && self->mailbox().size() > gateway.fanout_backlog) {
    ++gateway.counters->fanout_shed;
    return;
  }
  uint64_t skipped = 0;
  for (const auto& user : to)
    if (!push_if_connected(self, user, push))
      ++skipped;
  gateway.counters->offline_skipped += skipped;
}

/// Removes the entry of an actor that reported itself idle, then tells it to stop,
/// unless a message was routed to it after it counted: then it is not idle, and it
/// will report again. Since the entry goes first, any later message spawns a fresh
/// actor that loads from the database, which has every write the old one made.
void on_idle(self_pointer self, const std::string& user, uint64_t handled) {
  auto& st = self->state;
  auto i = st.entries.find(user);
  if (i == st.entries.end() || i->second.routed != handled
      || i->second.actor.address() != caf::actor_cast<caf::actor_addr>(self->current_sender()))
    return;
  auto actor = i->second.actor;
  st.entries.erase(i);
  st.users.erase(actor.address());
  st.connected.erase(user);
  self->demonitor(actor.address());
  ++st.stats.passivated;
  self->send(actor, atom::passivate_v);
}

void on_down(self_pointer self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto i = st.users.find(msg.source);
  if (i == st.users.end())
    return;
  log::warn("user actor terminated", {{"user", i->second}, {"reason", describe(msg.reason)}});
  st.entries.erase(i->second);
  st.connected.erase(i->second);
  st.users.erase(i);
  ++st.stats.died;
}

user_registry_actor::behavior_type user_registry_impl(self_pointer self,
                                                      persistence::social_db db,
                                                      user_settings settings) {
  self->state.db = std::move(db);
  self->state.settings = settings;
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
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
    [self](atom::get_presence a, const std::string& user) { return route(self, user, a, user); },
    [self](atom::peek_presence a, const std::string& user, const std::string& target) {
      return route(self, user, a, user, target);
    },
    [self](atom::presence_of a, const std::string& user) {
      return route_if_live(self, user, presence_state{user, caf::none, caf::none}, a, user);
    },
    [self](atom::push, const std::string& user, const ws_push& push) {
      if (!push_if_connected(self, user, push))
        ++self->state.settings.gateway.counters->offline_skipped;
    },
    [self](atom::fanout, const std::vector<std::string>& to, const ws_push& push) {
      fan_out(self, to, push);
    },
    [self](atom::live_connections, const std::string& user, uint8_t kinds) {
      // Only from the user's current actor: a late report of a stopped one is void.
      auto i = self->state.entries.find(user);
      if (i == self->state.entries.end()
          || i->second.actor.address()
               != caf::actor_cast<caf::actor_addr>(self->current_sender()))
        return;
      if (kinds == 0)
        self->state.connected.erase(user);
      else
        self->state.connected[user] = kinds;
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
      on_idle(self, user, handled);
    },
    [self](atom::stats) {
      auto st = self->state.stats;
      st.live = self->state.entries.size();
      return st;
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
  s.gateway = gateway_settings_from(cfg);
  return s;
}

user_registry_actor spawn_user_registry(caf::actor_system& sys, persistence::social_db db,
                                        user_settings settings) {
  return sys.spawn(user_registry_impl, std::move(db), settings);
}

} // namespace tandem
