// The passivation protocol that user and conversation actors share with their
// registries (docs/architecture.md, Life cycle): an actor counts the messages routed to it and
// reports itself idle with that count; the registry lets it go only if it routed no
// more than that meanwhile. An actor whose load failed answers with its failure and
// reports itself idle at once. In a cluster an actor claims its key before it loads.
#pragma once

#include "config/log.hpp"
#include "vocabulary/messages.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace tandem {

/// Asks the registry to let this actor go, with the count of messages it handled.
/// `Self` is a stateful actor whose state has `registry`, `id` and `received`.
template <class Self>
void report_idle(Self self) {
  auto& st = self->state;
  self->send(st.registry, atom::idle_v, st.id, st.received);
}

/// Counts a routed message as activity and tells whether the actor can serve it: a
/// failed actor answers everything with its failure and asks again to be removed, now
/// that the registry's count of routed messages may match its own. The state also has
/// `last_active` and `failure`.
template <class Self>
caf::error count_routed(Self self) {
  auto& st = self->state;
  ++st.received;
  st.last_active = self->clock().now();
  if (st.failure) {
    report_idle(self);
    return st.failure;
  }
  return caf::none;
}

/// Answers its one request after `delay`: lets an actor wait inside `await`, its mailbox
/// held, as a claim waiting for the previous owner's release does.
inline caf::behavior answer_after(caf::event_based_actor* self, caf::timespan delay) {
  return {
    [self, delay](atom::tick) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      self->delayed_send(self, delay, atom::tick_v, true);
      self->become([self, rp](atom::tick, bool) mutable {
        rp.deliver(true);
        self->quit();
      });
      return rp;
    },
  };
}

/// Claims the key for `claim_then_load`. A claim refused because another live node owns
/// the key is tried again, 10 ms doubling to 100 ms apart, while `wait` lasts: in a
/// planned move the previous owner releases the key as soon as it has flushed, and the
/// views of the nodes differ for moments, so a request reaching the new home first waits
/// for the release here instead of failing to its client.
template <class Self, class Atom, class Load, class Fail>
void claim_key(Self self, Atom claim, node_identity node, Load load, Fail fail,
               caf::timespan wait, caf::timespan pause) {
  auto& st = self->state;
  self->request(st.db, st.settings.request_timeout, claim, st.id, node)
    .await(
      [self, load](int64_t epoch) {
        self->state.epoch = epoch;
        load(self);
      },
      [self, claim, node, load, fail, wait, pause](caf::error& err) {
        if (code_of(err) != errc::moved || wait <= caf::timespan{})
          return fail(self, std::move(err));
        auto timer = self->spawn(answer_after, pause);
        self->request(timer, caf::infinite, atom::tick_v)
          .await(
            [self, claim, node, load, fail, wait, pause](bool) {
              claim_key(self, claim, node, load, fail, wait - pause,
                        std::min<caf::timespan>(pause * 2, std::chrono::milliseconds(100)));
            },
            [self, fail](caf::error& e) { fail(self, std::move(e)); });
      });
}

/// Starts an actor on its key: in a cluster (`node` set) it first claims the key with
/// `claim` (docs/cluster.md, Ownership), keeping the epoch in `state.epoch`, and only
/// then runs `load(self)`; a claim still refused after `settings.claim_wait` goes to
/// `fail(self, error)`. On a single node it just loads. `await` keeps everything else in
/// the mailbox meanwhile.
template <class Self, class Atom, class Load, class Fail>
void claim_then_load(Self self, Atom claim, const std::optional<node_identity>& node, Load load,
                     Fail fail) {
  if (!node)
    return load(self);
  claim_key(self, claim, *node, load, fail, self->state.settings.claim_wait,
            std::chrono::milliseconds(10));
}

/// Tries of a release before it is given up (about 11 s: 100 ms doubling to 2 s apart).
inline constexpr int release_attempts = 10;

/// The actor of `release_key`: asks `db` to release `key` (`release`: release_user or
/// release_conversation) and, when that fails, asks again after a pause.
template <class Db, class Atom>
caf::behavior key_releaser(caf::event_based_actor* self, caf::actor registry, Db db, Atom release,
                           std::string key, node_identity node, int64_t epoch,
                           caf::timespan timeout) {
  self->link_to(registry);
  auto left = std::make_shared<int>(release_attempts);
  auto pause = std::make_shared<caf::timespan>(std::chrono::milliseconds(100));
  self->send(self, atom::tick_v);
  return {
    [=](atom::tick) {
      self->request(db, timeout, release, key, node, epoch)
        .then([self](bool) { self->quit(); },
              [=](caf::error& err) {
                if (--*left == 0) {
                  log::warn("key not released; it stays this node's until its lease ends",
                            {{"key", key}, {"error", describe(err)}});
                  return self->quit();
                }
                self->delayed_send(self, *pause, atom::tick_v);
                *pause = std::min<caf::timespan>(*pause * 2, std::chrono::seconds(2));
              });
    },
  };
}

/// Releases the key an actor claimed with `epoch`, so that its next owner claims it at
/// once, trying again while the database fails: a lost release leaves the key owned by
/// this node, which no actor here holds any more, and every other node's claim refused for
/// as long as this node's lease lives, i.e. as long as it runs. Harmless once the key moved
/// on (the release is guarded by the epoch), so also after a failed load. The releasing
/// actor is linked to the actor's `registry`: it stops with the node.
template <class Self, class Atom>
void release_key(Self self, Atom release) {
  auto& st = self->state;
  if (st.epoch == 0)
    return;
  self->system().spawn(key_releaser<decltype(st.db), Atom>,
                       caf::actor_cast<caf::actor>(st.registry), st.db, release, st.id,
                       *st.settings.cluster_node, st.epoch, st.settings.request_timeout);
}

} // namespace tandem
