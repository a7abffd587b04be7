// The passivation protocol that user and conversation actors share with their
// registries (docs/architecture.md, Life cycle): an actor counts the messages routed to it and
// reports itself idle with that count; the registry lets it go only if it routed no
// more than that meanwhile. An actor whose load failed answers with its failure and
// reports itself idle at once. In a cluster an actor claims its key before it loads.
#pragma once

#include "vocabulary/messages.hpp"

#include <caf/all.hpp>

#include <optional>

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

/// Starts an actor on its key: in a cluster (`node` set) it first claims the key with
/// `claim` (docs/cluster.md, Ownership), keeping the epoch in `state.epoch`, and only
/// then runs `load(self)`; a refused claim goes to `fail(self, error)`. On a single node
/// it just loads. `await` keeps everything else in the mailbox meanwhile.
template <class Self, class Atom, class Load, class Fail>
void claim_then_load(Self self, Atom claim, const std::optional<node_identity>& node, Load load,
                     Fail fail) {
  if (!node)
    return load(self);
  auto& st = self->state;
  self->request(st.db, st.settings.request_timeout, claim, st.id, *node)
    .await(
      [self, load](int64_t epoch) {
        self->state.epoch = epoch;
        load(self);
      },
      [self, fail](caf::error& err) { fail(self, std::move(err)); });
}

} // namespace tandem
