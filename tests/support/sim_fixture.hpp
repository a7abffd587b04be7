// The base fixture of every deterministic actor test: an actor system under CAF's
// test scheduler (nothing runs until the test runs it, timers fire when the test says,
// on one thread), and requests whose replies the test reads afterwards.
#pragma once

#include "vocabulary/messages.hpp"

#include <caf/all.hpp>

#include <memory>
#include <optional>
#include <utility>

#include "tests/support/caf_catch_dsl.hpp" // last: defines expect, _ and friends

namespace tandem_test {

using namespace tandem;
using namespace std::chrono_literals;

struct test_config : caf::actor_system_config {
  test_config() {
    set("scheduler.policy", caf::atom("testing"));
    set("logger.file-verbosity", caf::atom("quiet"));
    tandem::add_message_types(*this);
  }
};

/// What one request got.
template <class T>
struct reply {
  std::optional<T> value;
  std::optional<caf::error> error;

  errc code() const {
    return error ? code_of(*error) : errc::none;
  }
};

/// Spawns an actor that sends `xs...` to `target` and records the reply; nothing runs
/// until the test scheduler does.
template <class T, class Handle, class... Ts>
std::shared_ptr<reply<T>> request_from(caf::actor_system& sys, const Handle& target, Ts... xs) {
  auto out = std::make_shared<reply<T>>();
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(target, caf::infinite, xs...)
      .then([=](T& value) { out->value = std::move(value); },
            [=](caf::error& err) { out->error = std::move(err); });
  });
  return out;
}

struct sim_fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());

  /// Runs everything, firing due timers (a group commit's, a timeout's) until none is left.
  void settle() {
    sched.run();
    while (sched.trigger_timeouts() > 0)
      sched.run();
  }
};

} // namespace tandem_test
