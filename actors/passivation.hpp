// The passivation protocol that user and conversation actors share with their
// registries (docs/architecture.md, Life cycle): an actor counts the messages routed to it and
// reports itself idle with that count; the registry lets it go only if it routed no
// more than that meanwhile. An actor whose load failed answers with its failure and
// reports itself idle at once.
#pragma once

#include "vocabulary/messages.hpp"

#include <caf/all.hpp>

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

} // namespace tandem
