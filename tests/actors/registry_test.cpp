// The registry template on its own, under CAF's deterministic scheduler: a placement
// policy put in front of it sends each key to the registry of the key's home node,
// which spawns, counts and answers there. Two registries in one actor system stand for
// two nodes.
#include "actors/registry.hpp"

#include <caf/all.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/users_fixture.hpp" // test_config, request_from; last: the test DSL

using namespace tandem;
using tandem_test::request_from;
using tandem_test::test_config;

namespace {

/// A keyed actor that answers with the node it runs on and its key.
using echo_actor = caf::typed_actor<caf::replies_to<atom::ping, std::string>::with<std::string>,
                                    caf::reacts_to<atom::passivate>>;

using echo_registry = caf::typed_actor<caf::replies_to<atom::ping, std::string>::with<std::string>>;

using node_map = std::map<std::string, caf::actor>;

/// A key "<node>/<name>" lives on that node; `nodes` names each node's registry.
struct prefix_placement {
  std::string here;
  std::shared_ptr<const node_map> nodes;

  std::optional<caf::actor> elsewhere(const std::string& key) const {
    auto home = key.substr(0, key.find('/'));
    if (home == here)
      return std::nullopt;
    return nodes->at(home);
  }
};

echo_actor::behavior_type echo_impl(echo_actor::pointer self, std::string node) {
  return {
    [node](atom::ping, const std::string& key) { return node + " runs " + key; },
    [self](atom::passivate) { self->quit(); },
  };
}

struct echo_registry_state {
  keyed_actors<echo_actor, prefix_placement> actors{"echo"};
  static inline const char* name = "test.echo_registry";
};

echo_registry::behavior_type
echo_registry_impl(echo_registry::stateful_pointer<echo_registry_state> self, std::string node,
                   std::shared_ptr<const node_map> nodes,
                   std::shared_ptr<registry_counters> counters) {
  self->state.actors.setup(
    [self, node](const std::string&) { return self->spawn(echo_impl, node); },
    std::move(counters), prefix_placement{node, std::move(nodes)});
  return {
    [self](atom::ping a, const std::string& key) {
      return self->state.actors.route(self, key, a, key);
    },
  };
}

struct two_nodes {
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  std::shared_ptr<node_map> nodes = std::make_shared<node_map>();
  std::map<std::string, std::shared_ptr<registry_counters>> counters;

  two_nodes() {
    for (const char* node : {"a", "b"}) {
      counters[node] = std::make_shared<registry_counters>();
      (*nodes)[node] = caf::actor_cast<caf::actor>(
        sys.spawn(echo_registry_impl, std::string{node}, nodes, counters[node]));
    }
    sched.run();
  }

  ~two_nodes() {
    for (auto& [node, registry] : *nodes)
      caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    sched.run();
  }

  echo_registry on(const std::string& node) {
    return caf::actor_cast<echo_registry>(nodes->at(node));
  }

  std::string ping(const std::string& via, const std::string& key) {
    auto r = request_from<std::string>(sys, on(via), atom::ping_v, key);
    sched.run();
    REQUIRE(r->value);
    return *r->value;
  }
};

} // namespace

TEST_CASE_METHOD(two_nodes, "a placement policy in front sends each key to its home node",
                 "[registry]") {
  CHECK(ping("a", "a/1") == "a runs a/1");
  CHECK(ping("a", "b/1") == "b runs b/1");
  CHECK(ping("b", "b/1") == "b runs b/1");
  CHECK(ping("b", "a/2") == "a runs a/2");
  // Each node spawned and counts only the keys at home there, whoever was asked.
  const auto& a = *counters["a"];
  const auto& b = *counters["b"];
  CHECK(a.live == 2);
  CHECK(a.spawned == 2);
  CHECK(a.routed == 2);
  CHECK(b.live == 1);
  CHECK(b.spawned == 1);
  CHECK(b.routed == 2);
}
