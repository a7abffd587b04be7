// The registry template on its own, under CAF's deterministic scheduler: a placement
// policy put in front of it sends each key to the registry of the key's home node,
// which spawns, counts and answers there. Two registries in one actor system stand for
// two nodes.
#include "actors/registry.hpp"
#include "cluster/placement.hpp"

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
/// What the registries below answer besides: a hand-over, true once the actors have ended.
using handing_registry = echo_registry::extend<caf::replies_to<atom::hand_over>::with<bool>>;

using node_map = std::map<std::string, caf::actor>;

/// A key "<node>/<name>" lives on that node; `nodes` names each node's registry.
struct prefix_placement {
  std::string here;
  std::shared_ptr<const node_map> nodes;

  std::optional<caf::actor> refusal(caf::actor_clock::time_point) const {
    return std::nullopt;
  }

  std::optional<caf::actor> elsewhere(const std::string& key, const caf::strong_actor_ptr&) const {
    auto home = key.substr(0, key.find('/'));
    if (home == here)
      return std::nullopt;
    return nodes->at(home);
  }
  bool from_peer(const caf::strong_actor_ptr&) const {
    return false;
  }
};

echo_actor::behavior_type echo_impl(echo_actor::pointer self, std::string node) {
  return {
    [node](atom::ping, const std::string& key) { return node + " runs " + key; },
    [self](atom::passivate) { self->quit(); },
  };
}

template <class Placement>
struct echo_registry_state {
  keyed_actors<echo_actor, Placement> actors{"echo"};
  static inline const char* name = "test.echo_registry";
};

template <class Placement>
handing_registry::behavior_type
echo_registry_impl(handing_registry::stateful_pointer<echo_registry_state<Placement>> self,
                   std::string node, std::shared_ptr<registry_counters> counters,
                   Placement placement) {
  self->state.actors.setup(
    [self, node](const std::string&) { return self->spawn(echo_impl, node); },
    std::move(counters), std::move(placement));
  self->set_down_handler([self](caf::down_msg& msg) { self->state.actors.on_down(msg); });
  return {
    [self](atom::ping a, const std::string& key) {
      return self->state.actors.route(self, key, a, key);
    },
    [self](atom::hand_over) {
      self->state.actors.hand_over(self);
      return self->state.actors.when_settled(self);
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
        sys.spawn(echo_registry_impl<prefix_placement>, std::string{node}, counters[node],
                  prefix_placement{node, nodes}));
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

TEST_CASE_METHOD(two_nodes, "a registry shows what waits in its mailbox as it routes",
                 "[registry]") {
  const auto& a = *counters["a"];
  for (int i = 0; i < 5; ++i)
    caf::anon_send(on("a"), atom::ping_v, "a/" + std::to_string(i));
  // The registry takes the first ping: four more wait behind it.
  sched.run_once();
  CHECK(a.mailbox == 4);
  CHECK(a.routed == 1);
  // The last ping of the burst saw an empty mailbox.
  sched.run();
  CHECK(a.mailbox == 0);
  CHECK(a.routed == 5);
}

namespace {

using tandem::cluster::cluster_placement;
using tandem::cluster::membership_board;
using tandem::cluster::membership_view;

/// The proxy that a bus would give for node b: it records each message and hands it to
/// b's registry unchanged (delegated, so b answers the original requester).
echo_registry::behavior_type recording_proxy(echo_registry::pointer self, echo_registry target,
                                             std::shared_ptr<std::vector<std::string>> seen) {
  return {
    [=](atom::ping a, const std::string& key) {
      seen->push_back(key);
      return self->delegate(target, a, key);
    },
  };
}

/// What a bus endpoint does with an inbound request: asks the registry and answers.
echo_registry::behavior_type bus_endpoint(echo_registry::pointer self,
                                          std::shared_ptr<echo_registry> registry) {
  return {
    [=](atom::ping a, const std::string& key) -> caf::result<std::string> {
      auto rp = self->make_response_promise<std::string>();
      self->request(*registry, caf::infinite, a, key)
        .then([rp](std::string& s) mutable { rp.deliver(std::move(s)); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
  };
}

/// Node a's registry with cluster placement over a view of a and b; b's registry on its
/// own; the proxy to b, and a's bus endpoint.
struct clustered_nodes : tandem_test::sim_fixture {
  std::shared_ptr<registry_counters> a_counters = std::make_shared<registry_counters>();
  std::shared_ptr<registry_counters> b_counters = std::make_shared<registry_counters>();
  std::shared_ptr<std::vector<std::string>> proxied = std::make_shared<std::vector<std::string>>();
  std::shared_ptr<echo_registry> a_slot = std::make_shared<echo_registry>();
  std::shared_ptr<membership_board> board
    = std::make_shared<membership_board>(node_identity{"a", 1});
  echo_registry b = sys.spawn(echo_registry_impl<local_placement>, std::string{"b"}, b_counters,
                              local_placement{});
  echo_registry proxy = sys.spawn(recording_proxy, b, proxied);
  echo_registry bus = sys.spawn(bus_endpoint, a_slot);
  caf::actor refuser = tandem::cluster::spawn_refuser(sys);
  echo_registry a;

  clustered_nodes() {
    auto view = std::make_shared<membership_view>();
    view->self = node_identity{"a", 1};
    view->live = {cluster_node{node_identity{"a", 1}, "http://a"},
                  cluster_node{node_identity{"b", 1}, "http://b"}};
    view->fenced = false;
    view->version = 1;
    board->publish(view);
    auto to_b = [this](const node_identity& n) {
      REQUIRE(n.id == "b");
      return caf::actor_cast<caf::actor>(proxy);
    };
    a = sys.spawn(echo_registry_impl<cluster_placement>, std::string{"a"}, a_counters,
                  cluster_placement{board, to_b, bus.address(), refuser});
    *a_slot = a;
    sched.run();
  }

  ~clustered_nodes() {
    for (auto& x : {a, b, proxy, bus})
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(refuser, caf::exit_reason::user_shutdown);
    sched.run();
  }

  std::string key_at(const std::string& node) {
    for (int i = 0;; ++i) {
      auto key = "k" + std::to_string(i);
      if (tandem::cluster::rendezvous_home(key, board->view()->live)->identity.id == node)
        return key;
    }
  }

  std::string ping(const echo_registry& via, const std::string& key) {
    auto r = request_from<std::string>(sys, via, atom::ping_v, key);
    sched.run();
    REQUIRE(r->value);
    return *r->value;
  }
};

} // namespace

TEST_CASE_METHOD(clustered_nodes,
                 "cluster placement hands a key homed elsewhere to the proxy unchanged, and "
                 "the reply reaches the requester",
                 "[registry]") {
  auto key = key_at("b");
  CHECK(ping(a, key) == "b runs " + key);
  CHECK(*proxied == std::vector<std::string>{key});
  CHECK(a_counters->spawned == 0);
  CHECK(b_counters->spawned == 1);
  // A key homed here stays here.
  auto here = key_at("a");
  CHECK(ping(a, here) == "a runs " + here);
  CHECK(proxied->size() == 1);
}

TEST_CASE_METHOD(clustered_nodes,
                 "cluster placement serves a message from the bus endpoint here when the key "
                 "is homed here, and refuses it (errc::moved) without an actor otherwise",
                 "[registry]") {
  auto here = key_at("a");
  CHECK(ping(bus, here) == "a runs " + here);
  auto key = key_at("b");
  auto r = request_from<std::string>(sys, bus, atom::ping_v, key);
  sched.run();
  CHECK(r->code() == errc::moved);
  CHECK(proxied->empty());
  CHECK(a_counters->spawned == 1);
}

TEST_CASE_METHOD(clustered_nodes,
                 "past the fence deadline of its latest renewal a node refuses the keys homed "
                 "here with errc::moved, before any actor, and still passes on the others",
                 "[registry]") {
  auto here = key_at("a");
  CHECK(ping(a, here) == "a runs " + here);
  // The view still says live (its fence timer has not run: the node was paused).
  board->serve_until(sched.clock().now());
  for (const auto& via : {a, bus}) {
    auto r = request_from<std::string>(sys, via, atom::ping_v, here);
    sched.run();
    CHECK(r->code() == errc::moved);
  }
  auto fresh = key_at("a") + "/fresh";
  while (tandem::cluster::rendezvous_home(fresh, board->view()->live)->identity.id != "a")
    fresh += "x";
  auto r = request_from<std::string>(sys, a, atom::ping_v, fresh);
  sched.run();
  CHECK(r->code() == errc::moved);
  CHECK(a_counters->spawned == 1);
  CHECK(a_counters->routed == 1);
  auto there = key_at("b");
  CHECK(ping(a, there) == "b runs " + there);
  // Renewed again: served.
  board->serve_until(sched.clock().now() + std::chrono::seconds(1));
  CHECK(ping(a, here) == "a runs " + here);
}

TEST_CASE_METHOD(clustered_nodes,
                 "a key handed over goes on to its new home, also from the bus, and the "
                 "hand-over answers once its actor has ended",
                 "[registry]") {
  auto alone = std::make_shared<membership_view>(*board->view());
  alone->live = {alone->live.front()};
  alone->version = 2;
  board->publish(alone);
  auto both = std::make_shared<membership_view>(*board->view());
  both->live.push_back(cluster_node{node_identity{"b", 1}, "http://b"});
  both->version = 3;
  // A key homed on b once b joins, served on a until then.
  std::string moving;
  for (int i = 0; moving.empty(); ++i) {
    auto k = "k" + std::to_string(i);
    if (tandem::cluster::rendezvous_home(k, both->live)->identity.id == "b")
      moving = k;
  }
  CHECK(ping(a, moving) == "a runs " + moving);
  board->publish(both);
  auto handed = request_from<bool>(sys, caf::actor_cast<handing_registry>(a), atom::hand_over_v);
  sched.run();
  REQUIRE(handed->value);
  CHECK(*handed->value);
  CHECK(a_counters->live == 0);
  CHECK(a_counters->died == 0);
  // A peer whose view is behind still sends it to a: a passes it on to b.
  CHECK(ping(bus, moving) == "b runs " + moving);
  CHECK(*proxied == std::vector<std::string>{moving});
  CHECK(a_counters->spawned == 1);
}

TEST_CASE_METHOD(clustered_nodes,
                 "a leaving node (not in its own view) passes on messages from the bus",
                 "[registry]") {
  auto leaving = std::make_shared<membership_view>(*board->view());
  leaving->live = {leaving->live.back()};
  leaving->fenced = true;
  leaving->version = 2;
  board->publish(leaving);
  CHECK(ping(bus, "k1") == "b runs k1");
  CHECK(a_counters->spawned == 0);
}
