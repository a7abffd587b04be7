// One actor per key, and the protocol that every registry of keyed actors runs: it
// routes each message for a key to the key's actor, spawning and monitoring the actor
// on first use, and passivates an idle actor without losing a message that races with
// that (passivation.hpp is the actor's half). The user and conversation registries hold
// one each, beside their own messages and what they know of their actors.
#pragma once

#include "common/published.hpp"
#include "config/log.hpp"
#include "vocabulary/messages.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace tandem {

/// A registry's counters: written by its actor only, read by /metrics on other threads
/// and by tests.
struct registry_counters {
  std::atomic<uint64_t> live{0};       ///< Actors registered now.
  std::atomic<uint64_t> spawned{0};    ///< Actors started since the registry started.
  std::atomic<uint64_t> passivated{0}; ///< Actors stopped after their idle time.
  std::atomic<uint64_t> died{0};       ///< Actors that terminated on their own.
  std::atomic<uint64_t> routed{0};     ///< Messages handed to an actor.
  /// Keys the sweep released: owned by this node with no actor here (actors/key_sweep.hpp).
  std::atomic<uint64_t> swept{0};
  /// Messages waiting in the registry's mailbox, as it last saw routing a request.
  std::atomic<uint64_t> mailbox{0};
};

/// Where the actor of a key lives, asked before every routed message with the key and
/// the message's sender. On one node each key's home is this node. A cluster puts a
/// policy here (cluster::cluster_placement) whose `elsewhere` names the registry of the
/// key's home node: the message goes there unchanged, and that registry, which answers
/// every routed message as this one does, routes it on its node. Its `refusal` names
/// the actor that answers instead of an actor here while the node may not serve its
/// keys (its lease lapsed).
struct local_placement {
  std::optional<caf::actor> refusal(caf::actor_clock::time_point) const {
    return std::nullopt;
  }
  std::optional<caf::actor> elsewhere(const std::string&, const caf::strong_actor_ptr&) const {
    return std::nullopt;
  }
  bool from_peer(const caf::strong_actor_ptr&) const {
    return false;
  }
};

/// The actors of a registry by key. `Actor` is their typed handle; its messages include
/// `atom::passivate`. Every function that takes `self` is called by the registry's
/// actor while it handles a message.
template <class Actor, class Placement = local_placement>
class keyed_actors {
public:
  /// Spawns the actor of a key (from the registry's actor, which monitors it).
  using spawner = std::function<Actor(const std::string& key)>;

  /// `what` names the actors in logs: "user" logs "user actor terminated" with the key
  /// as "user".
  explicit keyed_actors(const char* what) : what_(what) {
  }

  keyed_actors(const keyed_actors&) = delete;
  keyed_actors& operator=(const keyed_actors&) = delete;

  /// The registry is going away: its actors would be unreachable.
  ~keyed_actors() {
    for (auto& kvp : entries_)
      caf::anon_send_exit(kvp.second.actor, caf::exit_reason::user_shutdown);
    counters_->live = 0;
  }

  /// Called once by the registry's actor before it handles a message.
  void setup(spawner spawn, std::shared_ptr<registry_counters> counters,
             Placement placement = {}) {
    spawn_ = std::move(spawn);
    counters_ = std::move(counters);
    placement_ = std::move(placement);
  }

  /// Hands the message being handled to the actor of `key`, spawned if need be, which
  /// answers the original sender directly.
  template <class Self, class... Ts>
  auto route(Self self, const std::string& key, Ts&&... xs) {
    sample_mailbox(self);
    if (auto home = away(self, key))
      return self->delegate(caf::actor_cast<Actor>(*home), std::forward<Ts>(xs)...);
    if (auto refuser = placement_.refusal(self->clock().now()))
      return self->delegate(caf::actor_cast<Actor>(*refuser), std::forward<Ts>(xs)...);
    return self->delegate(count(entry_of(self, key)), std::forward<Ts>(xs)...);
  }

  /// Like `route` for what an actor only needs while it lives: without one, answers
  /// `fallback` here.
  template <class Reply, class Self, class... Ts>
  caf::result<Reply> route_if_live(Self self, const std::string& key, Reply fallback,
                                   Ts&&... xs) {
    sample_mailbox(self);
    if (auto home = away(self, key))
      return self->delegate(caf::actor_cast<Actor>(*home), std::forward<Ts>(xs)...);
    if (auto refuser = placement_.refusal(self->clock().now()))
      return self->delegate(caf::actor_cast<Actor>(*refuser), std::forward<Ts>(xs)...);
    auto i = entries_.find(key);
    if (i == entries_.end())
      return fallback;
    return self->delegate(count(i->second), std::forward<Ts>(xs)...);
  }

  /// Like `route_if_live` for messages without a reply: dropped without an actor.
  template <class Self, class... Ts>
  void send_if_live(Self self, const std::string& key, Ts&&... xs) {
    if (auto home = away(self, key))
      return self->send(caf::actor_cast<Actor>(*home), std::forward<Ts>(xs)...);
    if (placement_.refusal(self->clock().now()))
      return;
    auto i = entries_.find(key);
    if (i != entries_.end())
      self->send(count(i->second), std::forward<Ts>(xs)...);
  }

  /// Sends `xs...` to every live actor here, uncounted: news about the cluster (a node
  /// left it) rather than a message for a key.
  template <class Self, class... Ts>
  void broadcast(Self self, const Ts&... xs) {
    for (const auto& kvp : entries_)
      self->send(kvp.second.actor, xs...);
  }

  /// The registry of another node that `key` goes to, for a message being handled
  /// that is better sent there in one batch (a fan-out) than routed key by key.
  template <class Self>
  std::optional<caf::actor> home_elsewhere(Self self, const std::string& key) {
    return placement_.elsewhere(key, self->current_sender());
  }

  /// Whether the message being handled came from another node's registry.
  template <class Self>
  bool from_peer(Self self) const {
    return placement_.from_peer(self->current_sender());
  }

  /// The node stops serving its keys (it is fenced): every actor stops now, without
  /// passivating (a fenced node may write nothing more), and the next use of a key
  /// spawns a fresh actor, which claims the key again.
  template <class Self>
  void stop_all(Self self) {
    for (auto& kvp : entries_) {
      self->demonitor(kvp.second.actor.address());
      self->send_exit(kvp.second.actor, caf::exit_reason::user_shutdown);
    }
    entries_.clear();
    keys_.clear();
    handed_over_.clear();
    counters_->live = 0;
  }

  /// The live set changed: every actor whose key is now homed on another node
  /// passivates (after what it was routed before), which releases its key, and its
  /// key's next message goes to the new home, also one from a peer whose view is
  /// behind (see `away`). Returns the keys handed over.
  template <class Self>
  std::vector<std::string> hand_over(Self self) {
    auto now = self->clock().now();
    for (auto i = handed_over_.begin(); i != handed_over_.end();)
      i = now - i->second > handed_over_memory ? handed_over_.erase(i) : std::next(i);
    std::vector<std::string> moved;
    for (const auto& kvp : entries_)
      if (placement_.elsewhere(kvp.first, nullptr))
        moved.push_back(kvp.first);
    for (const auto& key : moved) {
      passivate(self, entries_.find(key));
      handed_over_[key] = now;
    }
    return moved;
  }

  /// Starts the actors of those `keys` that are homed here and not live yet, so that
  /// each claims its key now rather than at its next message: the keys that a node
  /// which left the live set still owned (docs/cluster.md, Unplanned moves). Nothing
  /// while this node may not serve. Returns how many were started.
  template <class Self>
  std::size_t adopt(Self self, const std::vector<std::string>& keys) {
    if (placement_.refusal(self->clock().now()))
      return 0;
    std::size_t started = 0;
    for (const auto& key : keys)
      if (entries_.count(key) == 0 && !placement_.elsewhere(key, nullptr)) {
        entry_of(self, key);
        ++started;
      }
    return started;
  }

  /// Whether the message being handled comes from the live actor of `key`: a late
  /// report of a stopped actor, or one from anyone else, is void.
  template <class Self>
  bool from_live(Self self, const std::string& key) const {
    auto i = entries_.find(key);
    return i != entries_.end()
           && i->second.actor.address()
                == caf::actor_cast<caf::actor_addr>(self->current_sender());
  }

  /// Answers true once every actor told to passivate here has ended (at once when none
  /// is left): a draining node leaves the cluster only after its actors have flushed
  /// their commits and released their keys.
  template <class Self>
  caf::result<bool> when_settled(Self self) {
    if (leaving_.empty())
      return true;
    settle_waiters_.push_back(self->template make_response_promise<bool>());
    return settle_waiters_.back();
  }

  /// The idle report of the actor of `key` after it handled `handled` messages: removes
  /// its entry, then tells it to stop, unless a message was routed to it after it
  /// counted (then it is not idle, and it will report again) or the report is not
  /// from it. Since the entry goes first, any later message spawns a fresh actor that
  /// loads what the old one stored. Returns whether the actor goes.
  template <class Self>
  bool on_idle(Self self, const std::string& key, uint64_t handled) {
    auto i = entries_.find(key);
    if (i == entries_.end() || i->second.routed != handled || !from_live(self, key))
      return false;
    passivate(self, i);
    return true;
  }

  /// Those of `owned` (keys the database says this node owns) that no actor here holds:
  /// none is live for the key, and none is passivating (it releases its key itself once
  /// it has flushed). What the sweep releases (actors/key_sweep.hpp).
  std::vector<owned_key> unheld(const std::vector<owned_key>& owned) const {
    std::unordered_set<std::string> passivating;
    for (const auto& kvp : leaving_)
      passivating.insert(kvp.second);
    std::vector<owned_key> out;
    for (const auto& k : owned)
      if (entries_.count(k.key) == 0 && passivating.count(k.key) == 0)
        out.push_back(k);
    return out;
  }

  /// Counts keys the sweep released.
  void count_swept(uint64_t keys) {
    counters_->swept += keys;
  }

  /// A monitored actor terminated on its own: its key, no longer registered, or none
  /// when it was not one of these actors.
  std::optional<std::string> on_down(const caf::down_msg& msg) {
    if (leaving_.erase(msg.source) == 1) {
      if (leaving_.empty())
        for (auto& waiter : std::exchange(settle_waiters_, {}))
          waiter.deliver(true);
      return std::nullopt;
    }
    auto k = keys_.find(msg.source);
    if (k == keys_.end())
      return std::nullopt;
    auto key = k->second;
    log::warn(std::string{what_} + " actor terminated",
              {{what_, key}, {"reason", describe(msg.reason)}});
    forget(entries_.find(key));
    ++counters_->died;
    return key;
  }

  const registry_counters& counters() const {
    return *counters_;
  }

  /// Samples the registry's mailbox into its counters, for a handler that routes no
  /// request (`route` and `route_if_live` sample on their own).
  template <class Self>
  uint64_t sample_mailbox(Self self) {
    tandem::sample_mailbox(self, counters_->mailbox);
    return counters_->mailbox.load(std::memory_order_relaxed);
  }

private:
  /// A live actor and how many messages the registry routed to it.
  struct entry {
    Actor actor;
    uint64_t routed = 0;
  };

  using entry_map = std::unordered_map<std::string, entry>;

  /// How long a handed-over key's messages from peers are passed on to its new home:
  /// far longer than the nodes' views take to agree again (about one renewal).
  static constexpr std::chrono::seconds handed_over_memory{10};

  /// Where the message being handled goes instead of here (see the Placement's
  /// `elsewhere`, which refuses a peer's message for a key this node's view homes
  /// elsewhere), except for a key this node handed over lately: the peer's view is
  /// behind, and the message goes on to the new home, which keeps it (it took the key
  /// because its view names itself).
  template <class Self>
  std::optional<caf::actor> away(Self self, const std::string& key) {
    const auto& sender = self->current_sender();
    if (placement_.from_peer(sender)) {
      if (auto i = handed_over_.find(key); i != handed_over_.end()) {
        if (self->clock().now() - i->second <= handed_over_memory)
          if (auto home = placement_.elsewhere(key, nullptr))
            return home;
        handed_over_.erase(i);
      }
    }
    return placement_.elsewhere(key, sender);
  }

  template <class Self>
  entry& entry_of(Self self, const std::string& key) {
    if (auto i = entries_.find(key); i != entries_.end())
      return i->second;
    handed_over_.erase(key);
    auto actor = spawn_(key);
    self->monitor(actor);
    keys_.emplace(actor.address(), key);
    ++counters_->spawned;
    auto& e = entries_.emplace(key, entry{actor, 0}).first->second;
    counters_->live = entries_.size();
    return e;
  }

  const Actor& count(entry& e) {
    ++e.routed;
    ++counters_->routed;
    return e.actor;
  }

  /// Removes the entry first (a later message spawns a fresh actor that loads what this
  /// one stored), then tells its actor to stop; still monitored until it has.
  template <class Self>
  void passivate(Self self, typename entry_map::iterator i) {
    auto actor = i->second.actor;
    leaving_.emplace(actor.address(), i->first);
    forget(i);
    ++counters_->passivated;
    self->send(actor, atom::passivate_v);
  }

  void forget(typename entry_map::iterator i) {
    keys_.erase(i->second.actor.address());
    entries_.erase(i);
    counters_->live = entries_.size();
  }

  const char* what_;
  spawner spawn_;
  std::shared_ptr<registry_counters> counters_ = std::make_shared<registry_counters>();
  Placement placement_;
  entry_map entries_;
  /// The key of each live actor, to match a down message to its entry.
  std::unordered_map<caf::actor_addr, std::string> keys_;
  /// Actors told to passivate that have not ended yet, with their keys, and who waits
  /// for none to be left.
  std::unordered_map<caf::actor_addr, std::string> leaving_;
  std::vector<caf::typed_response_promise<bool>> settle_waiters_;
  /// Keys handed over to another node, and when (see `away`).
  std::unordered_map<std::string, caf::actor_clock::time_point> handed_over_;
};

} // namespace tandem
