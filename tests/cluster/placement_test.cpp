// Rendezvous placement: a stable weight, homes that depend on the live set alone, and the
// least movement when a node joins or leaves; and cluster_placement's choice between
// here and a proxy to the home node.
#include "cluster/placement.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tests/support/sim_fixture.hpp" // last: defines expect, _ and friends

using namespace tandem_test;
using tandem::cluster::cluster_placement;
using tandem::cluster::membership_board;
using tandem::cluster::membership_view;
using tandem::cluster::placement_weight;
using tandem::cluster::rendezvous_home;

namespace {

std::vector<cluster_node> nodes(std::initializer_list<const char*> ids) {
  std::vector<cluster_node> out;
  for (const char* id : ids)
    out.push_back(cluster_node{node_identity{id, 1}, std::string{"http://"} + id});
  return out;
}

std::vector<std::string> keys() {
  std::vector<std::string> out;
  for (int i = 0; i < 10000; ++i)
    out.push_back("user-" + std::to_string(i));
  return out;
}

std::map<std::string, std::string> homes(const std::vector<cluster_node>& live) {
  std::map<std::string, std::string> out;
  for (const auto& k : keys())
    out[k] = rendezvous_home(k, live)->identity.id;
  return out;
}

} // namespace

TEST_CASE("the placement weight is FNV-1a 64 of node id, a zero byte and key, then fmix64",
          "[placement]") {
  // Pinned values (computed apart from this code): every node and build must agree.
  CHECK(placement_weight("node-1", "u:alice") == 0xcdb6717932b385a2ull);
  CHECK(placement_weight("node-2", "u:alice") == 0x2d9498813f3b33faull);
  CHECK(placement_weight("", "") == 0xb9034ad37056f5fbull);
  // The separator keeps ("ab", "c") apart from ("a", "bc").
  CHECK(placement_weight("ab", "c") != placement_weight("a", "bc"));
}

TEST_CASE("the home of a key depends on the live set only, not on its order or on "
          "incarnations",
          "[placement]") {
  auto live = nodes({"n1", "n2", "n3"});
  auto reversed = live;
  std::reverse(reversed.begin(), reversed.end());
  auto restarted = live;
  for (auto& n : restarted)
    n.identity.incarnation = 99;
  for (const auto& k : keys()) {
    auto home = rendezvous_home(k, live)->identity.id;
    CHECK(rendezvous_home(k, reversed)->identity.id == home);
    CHECK(rendezvous_home(k, restarted)->identity.id == home);
  }
  CHECK(rendezvous_home("k", {}) == nullptr);
}

TEST_CASE("keys spread evenly over the nodes", "[placement]") {
  std::map<std::string, int> per_node;
  for (const auto& [key, node] : homes(nodes({"n1", "n2", "n3", "n4", "n5"})))
    ++per_node[node];
  REQUIRE(per_node.size() == 5);
  for (const auto& [node, n] : per_node) {
    CHECK(n > 1800);
    CHECK(n < 2200);
  }
}

TEST_CASE("a node that joins takes about 1/(N+1) of the keys, all of them from the others",
          "[placement]") {
  auto before = homes(nodes({"n1", "n2", "n3", "n4"}));
  auto after = homes(nodes({"n1", "n2", "n3", "n4", "n5"}));
  int moved = 0;
  for (const auto& [key, home] : before) {
    if (after[key] == home)
      continue;
    ++moved;
    CHECK(after[key] == "n5");
  }
  // 10,000 / 5 = 2,000 expected.
  CHECK(moved > 1800);
  CHECK(moved < 2200);
}

TEST_CASE("a node that leaves hands on only its own keys", "[placement]") {
  auto before = homes(nodes({"n1", "n2", "n3", "n4", "n5"}));
  auto after = homes(nodes({"n1", "n2", "n4", "n5"}));
  int moved = 0;
  for (const auto& [key, home] : before) {
    if (home == "n3") {
      ++moved;
      CHECK(after[key] != "n3");
    } else {
      CHECK(after[key] == home);
    }
  }
  CHECK(moved > 1800);
  CHECK(moved < 2200);
}

namespace {

struct placement_fixture : sim_fixture {
  std::shared_ptr<membership_board> board
    = std::make_shared<membership_board>(node_identity{"n1", 1});
  std::vector<node_identity> proxied; ///< every node a proxy was made for
  std::vector<caf::actor> proxies;
  caf::actor bus = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  caf::actor refuser = tandem::cluster::spawn_refuser(sys);
  cluster_placement placement{board,
                              [this](const node_identity& n) {
                                proxied.push_back(n);
                                proxies.push_back(
                                  sys.spawn([]() -> caf::behavior { return {[](int) {}}; }));
                                return proxies.back();
                              },
                              bus.address(), refuser};
  caf::strong_actor_ptr from_local = caf::actor_cast<caf::strong_actor_ptr>(
    sys.spawn([]() -> caf::behavior { return {[](int) {}}; }));

  ~placement_fixture() {
    caf::anon_send_exit(bus, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(refuser, caf::exit_reason::user_shutdown);
    for (auto& p : proxies)
      caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(caf::actor_cast<caf::actor>(from_local), caf::exit_reason::user_shutdown);
    sched.run();
  }

  void publish(std::vector<cluster_node> live, uint64_t version) {
    auto v = std::make_shared<membership_view>();
    v->self = node_identity{"n1", 1};
    v->live = std::move(live);
    v->fenced = false;
    v->version = version;
    board->publish(v);
  }

  /// A key whose home among n1..n3 is `node`.
  std::string key_at(const std::string& node) {
    auto live = nodes({"n1", "n2", "n3"});
    for (const auto& k : keys())
      if (rendezvous_home(k, live)->identity.id == node)
        return k;
    FAIL("no key for " << node);
    return {};
  }
};

} // namespace

TEST_CASE_METHOD(placement_fixture,
                 "cluster placement keeps keys homed here, and every key before the first "
                 "view, here",
                 "[placement]") {
  CHECK_FALSE(placement.elsewhere(key_at("n2"), from_local).has_value());
  publish(nodes({"n1", "n2", "n3"}), 1);
  CHECK_FALSE(placement.elsewhere(key_at("n1"), from_local).has_value());
  CHECK(proxied.empty());
  CHECK_FALSE(cluster_placement{}.elsewhere(key_at("n2"), from_local).has_value());
}

TEST_CASE_METHOD(placement_fixture,
                 "cluster placement sends a key homed elsewhere to that node's proxy, made "
                 "once per node and incarnation",
                 "[placement]") {
  publish(nodes({"n1", "n2", "n3"}), 1);
  auto to_n2 = placement.elsewhere(key_at("n2"), from_local);
  REQUIRE(to_n2);
  CHECK(placement.elsewhere(key_at("n2"), from_local) == to_n2);
  auto to_n3 = placement.elsewhere(key_at("n3"), from_local);
  REQUIRE(to_n3);
  CHECK(*to_n3 != *to_n2);
  CHECK(proxied == std::vector<node_identity>{{"n2", 1}, {"n3", 1}});
  // n2 restarted: a proxy for its new incarnation.
  auto live = nodes({"n1", "n2", "n3"});
  live[1].identity.incarnation = 2;
  publish(live, 2);
  auto again = placement.elsewhere(key_at("n2"), from_local);
  REQUIRE(again);
  CHECK(*again != *to_n2);
  CHECK(proxied.back() == node_identity{"n2", 2});
}

TEST_CASE_METHOD(placement_fixture,
                 "cluster placement never passes a message from the bus endpoint on: it is "
                 "handled here when the key is homed here, refused otherwise",
                 "[placement]") {
  publish(nodes({"n1", "n2", "n3"}), 1);
  auto from_bus = caf::actor_cast<caf::strong_actor_ptr>(bus);
  CHECK_FALSE(placement.elsewhere(key_at("n1"), from_bus).has_value());
  CHECK(placement.elsewhere(key_at("n2"), from_bus) == refuser);
  CHECK(placement.elsewhere(key_at("n3"), from_bus) == refuser);
  CHECK(proxied.empty());
  // A message without a sender (anon_send) is not from the bus.
  CHECK(placement.elsewhere(key_at("n2"), caf::strong_actor_ptr{}).has_value());
}

TEST_CASE_METHOD(placement_fixture,
                 "cluster placement refuses while the node is fenced or past the fence "
                 "deadline of its latest renewal, and the refuser answers errc::moved",
                 "[placement]") {
  auto now = sched.clock().now();
  CHECK(placement.refusal(now) == refuser); // the first view: fenced
  publish(nodes({"n1", "n2", "n3"}), 1);
  CHECK_FALSE(placement.refusal(now).has_value());
  board->serve_until(now + 2s);
  CHECK_FALSE(placement.refusal(now + 1999ms).has_value());
  CHECK(placement.refusal(now + 2s) == refuser);
  CHECK_FALSE(cluster_placement{}.refusal(now + 2s).has_value());
  auto asked = request_from<std::string>(sys, refuser, atom::ping_v);
  sched.run();
  CHECK(asked->code() == errc::moved);
  // A one-way message is dropped: an error sent back would stop its sender.
  auto errors = std::make_shared<int>(0);
  auto sender = sys.spawn([=](caf::event_based_actor* self) -> caf::behavior {
    self->set_error_handler([errors](caf::scheduled_actor*, caf::error&) { ++*errors; });
    self->send(refuser, atom::ping_v);
    return {[](int) {}};
  });
  sched.run();
  CHECK(*errors == 0);
  caf::anon_send_exit(sender, caf::exit_reason::user_shutdown);
  sched.run();
}
