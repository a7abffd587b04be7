// Shared by the libFuzzer targets of fuzz/: inputs as text, and a CAF actor system
// under the deterministic test scheduler, so that targets reaching actor code run
// it in this thread with no worker threads, clocks or sockets.
#pragma once

#include "vocabulary/messages.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace tandem_fuzz {

inline std::string text_of(const uint8_t* data, std::size_t size) {
  return std::string{reinterpret_cast<const char*>(data), size};
}

/// A stand-in for the actors behind a handler: takes every message and answers none.
inline caf::behavior dropping_peer(caf::event_based_actor* self) {
  self->set_default_handler(caf::drop);
  return {[](tandem::atom::ping) {}};
}

/// One actor system for the whole fuzzing process, never destroyed (libFuzzer leaves
/// through exit(), and the system's destructor would wait for actors).
struct deterministic_system {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;

  deterministic_system()
    : sys{init(cfg)},
      sched{dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())} {
  }

  static deterministic_system& instance() {
    static auto* self = new deterministic_system;
    return *self;
  }

private:
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("scheduler.policy", caf::atom("testing"));
    c.set("logger.file-verbosity", caf::atom("quiet"));
    tandem::add_message_types(c);
    return c;
  }
};

} // namespace tandem_fuzz
