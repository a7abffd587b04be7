// The bus between nodes (cluster/bus.hpp) against the Redis of the run: two actor
// systems in this process act as two nodes, each with its own bus.
#include "cluster/bus.hpp"

#include "cluster/bus_codec.hpp"
#include "persistence/redis.hpp"
#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <random>

#include <unistd.h>

using namespace tandem;
using namespace tandem::cluster;
using namespace std::chrono_literals;

namespace {

user_card ada() {
  user_card card;
  card.user_id = "ada";
  card.first_name = "Ada";
  card.last_name = "Lovelace";
  card.profile_image_extension = std::string{"png"};
  return card;
}

/// What a node's endpoint does in these tests: answers, fails, stays silent, tells a
/// probe about one-way messages, or answers too much.
caf::behavior test_endpoint(caf::event_based_actor* self, caf::actor probe) {
  return {
    [](atom::ping) { return std::string{"pong"}; },
    [](const std::string& text) { return text; },
    [](atom::get_profile, const std::string& id) -> caf::result<user_card> {
      if (id == "ada")
        return ada();
      return caf::make_error(errc::not_found, "no user " + id);
    },
    [probe](atom::push, const std::string& text) { caf::anon_send(probe, atom::push_v, text); },
    [self](atom::idle) -> caf::result<std::string> {
      return self->make_response_promise<std::string>(); // never delivered
    },
    [](atom::fanout, int32_t size) { return std::string(static_cast<size_t>(size), 'x'); },
  };
}

config::cluster_config bus_config() {
  config::cluster_config cfg;
  cfg.enabled = true;
  cfg.request_timeout_ms = 1000;
  cfg.bus_message_limit = 4096;
  cfg.bus_queue_limit = 2;
  return cfg;
}

/// One node: an actor system, its bus and a "test" endpoint whose one-way messages
/// reach `self` (the probe).
struct test_node : test::actor_system_fixture {
  node_identity id;
  std::unique_ptr<bus> node_bus;
  caf::actor endpoint;

  test_node(const std::string& name, const config::cluster_config& cfg) {
    static std::atomic<int> counter{0};
    id.id = "bus-test-" + name + "-" + std::to_string(::getpid()) + "-"
            + std::to_string(counter++);
    id.incarnation = std::random_device{}() + 1;
    node_bus = std::make_unique<bus>(sys, id, cfg, test::redis_config());
    endpoint = sys.spawn(test_endpoint, caf::actor_cast<caf::actor>(self));
    node_bus->register_endpoint("test", endpoint);
  }

  ~test_node() {
    node_bus.reset();
    caf::anon_send_exit(endpoint, caf::exit_reason::user_shutdown);
  }

  bool subscribed() const {
    return node_bus->counters().subscribed.load();
  }
};

struct two_nodes {
  config::cluster_config cfg = bus_config();
  test_node a{"a", cfg};
  test_node b{"b", cfg};

  two_nodes() {
    REQUIRE(test::eventually(10s, [&] { return a.subscribed() && b.subscribed(); }));
  }

  caf::actor b_test() {
    return a.node_bus->proxy(b.id, "test");
  }

  template <class T, class... Ts>
  caf::expected<T> ask_b(Ts&&... xs) {
    return a.ask<T>(b_test(), 10s, std::forward<Ts>(xs)...);
  }

  /// How long `f` took.
  template <class F>
  static std::chrono::milliseconds timed(F f) {
    auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now()
                                                                 - start);
  }
};

} // namespace

TEST_CASE_METHOD(two_nodes, "bus: a request crosses to the other node and its reply comes back",
                 "[bus]") {
  auto pong = ask_b<std::string>(atom::ping_v);
  REQUIRE(pong);
  CHECK(*pong == "pong");
  auto card = ask_b<user_card>(atom::get_profile_v, std::string{"ada"});
  REQUIRE(card);
  CHECK(caf::deep_to_string(*card) == caf::deep_to_string(ada()));
  // One proxy per node and endpoint.
  CHECK(b_test() == b_test());
  CHECK(b.node_bus->counters().received >= 2);
  // A node counts a publish when Redis confirms it, which may come after the reply.
  CHECK(test::eventually(5s, [&] {
    return a.node_bus->counters().published >= 2 && b.node_bus->counters().published >= 2;
  }));
}

TEST_CASE_METHOD(two_nodes, "bus: an error reply keeps its code and text", "[bus]") {
  auto missing = ask_b<user_card>(atom::get_profile_v, std::string{"bob"});
  REQUIRE_FALSE(missing);
  CHECK(code_of(missing.error()) == errc::not_found);
  CHECK_THAT(describe(missing.error()), Catch::Contains("no user bob"));
}

TEST_CASE_METHOD(two_nodes, "bus: a one-way message stays one-way and arrives", "[bus]") {
  a.self->send(b_test(), atom::push_v, std::string{"hello"});
  std::string got;
  b.self->receive([&](atom::push, std::string& text) { got = std::move(text); },
                  caf::after(10s) >> [] { FAIL("the one-way message did not arrive"); });
  CHECK(got == "hello");
}

TEST_CASE_METHOD(two_nodes, "bus: a request to a node nobody listens for fails at once",
                 "[bus]") {
  auto ghost = a.node_bus->proxy(node_identity{"bus-test-nobody-" + a.id.id, 42}, "test");
  caf::expected<std::string> reply{std::string{}};
  auto took = timed([&] { reply = a.ask<std::string>(ghost, 10s, atom::ping_v); });
  REQUIRE_FALSE(reply);
  CHECK(code_of(reply.error()) == errc::peer_unavailable);
  CHECK(took < std::chrono::milliseconds{cfg.request_timeout_ms});
  CHECK(a.node_bus->counters().unavailable >= 1);
}

TEST_CASE_METHOD(two_nodes, "bus: a request nobody answers fails after request_timeout_ms",
                 "[bus]") {
  caf::expected<std::string> reply{std::string{}};
  auto took = timed([&] { reply = ask_b<std::string>(atom::idle_v); });
  REQUIRE_FALSE(reply);
  CHECK(code_of(reply.error()) == errc::peer_unavailable);
  CHECK_THAT(describe(reply.error()), Catch::Contains("request_timeout_ms"));
  CHECK(took >= std::chrono::milliseconds{cfg.request_timeout_ms});
  CHECK(took < 5s);
  CHECK(a.node_bus->counters().timeouts == 1);
}

TEST_CASE_METHOD(two_nodes, "bus: a request addressed to a previous incarnation is refused",
                 "[bus]") {
  auto old = a.node_bus->proxy(node_identity{b.id.id, b.id.incarnation + 1}, "test");
  auto reply = a.ask<std::string>(old, 10s, atom::ping_v);
  REQUIRE_FALSE(reply);
  CHECK(code_of(reply.error()) == errc::peer_unavailable);
  // Node b says so, from its own incarnation: the answer of another one than asked.
  CHECK_THAT(describe(reply.error()), Catch::Contains("another incarnation"));
  // The proxy of the incarnation asked last replaces the other one.
  CHECK(b_test() != old);
  CHECK(ask_b<std::string>(atom::ping_v));
}

TEST_CASE_METHOD(two_nodes, "bus: an unknown endpoint answers peer_unavailable", "[bus]") {
  auto nowhere = a.node_bus->proxy(b.id, "no-such-endpoint");
  auto reply = a.ask<std::string>(nowhere, 10s, atom::ping_v);
  REQUIRE_FALSE(reply);
  CHECK(code_of(reply.error()) == errc::peer_unavailable);
  CHECK_THAT(describe(reply.error()), Catch::Contains("no endpoint 'no-such-endpoint'"));
}

TEST_CASE_METHOD(two_nodes, "bus: a message carrying an actor handle is refused at the sender",
                 "[bus]") {
  auto reply = ask_b<std::string>(atom::open_connection_v, a.endpoint);
  REQUIRE_FALSE(reply);
  CHECK(code_of(reply.error()) == errc::invalid_request);
  CHECK_THAT(describe(reply.error()), Catch::Contains("cannot cross nodes"));
  CHECK(a.node_bus->counters().refused_values == 1);
  CHECK(b.node_bus->counters().received == 0);
}

TEST_CASE_METHOD(two_nodes, "bus: a message at cluster.bus_message_limit passes, one byte more "
                            "is refused",
                 "[bus]") {
  // The envelope's size for a text of 3000 bytes, as this request will be encoded.
  bus_codec codec{a.sys};
  envelope probe{envelope_kind::request, a.id, b.id.incarnation, 1, "test",
                 caf::make_message(std::string(3000, 'y'))};
  auto encoded = codec.encode(probe);
  REQUIRE(encoded);
  auto at_limit = 3000 + (cfg.bus_message_limit - encoded->size());

  auto echoed = ask_b<std::string>(std::string(at_limit, 'y'));
  REQUIRE(echoed);
  CHECK(echoed->size() == at_limit);
  CHECK(a.node_bus->counters().refused_size == 0);

  auto over = ask_b<std::string>(std::string(at_limit + 1, 'y'));
  REQUIRE_FALSE(over);
  CHECK(code_of(over.error()) == errc::payload_too_large);
  CHECK(a.node_bus->counters().refused_size == 1);

  // A reply over the limit comes back as that error rather than as a timeout.
  auto big_reply = ask_b<std::string>(atom::fanout_v, int32_t{5000});
  REQUIRE_FALSE(big_reply);
  CHECK(code_of(big_reply.error()) == errc::payload_too_large);
  CHECK(b.node_bus->counters().refused_size == 1);
}

TEST_CASE_METHOD(two_nodes, "bus: beyond cluster.bus_queue_limit publishes are refused",
                 "[bus]") {
  // Redis holds every client's commands for a while: the publishes of node a wait.
  auto admin = persistence::spawn_redis(a.sys, test::redis_config());
  REQUIRE(a.ask<redis_reply>(admin, 10s, atom::command_v,
                             std::vector<std::string>{"CLIENT", "PAUSE", "1500", "ALL"}));
  a.self->send(b_test(), atom::push_v, std::string{"first"});
  a.self->send(b_test(), atom::push_v, std::string{"second"});
  caf::expected<std::string> refused{std::string{}};
  auto took = timed([&] { refused = ask_b<std::string>(atom::ping_v); });
  REQUIRE_FALSE(refused);
  CHECK(code_of(refused.error()) == errc::overloaded);
  CHECK(took < 1s);
  CHECK(a.node_bus->counters().refused_queue == 1);
  // Both queued messages arrive once Redis goes on, in order.
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i)
    b.self->receive([&](atom::push, std::string& text) { got.push_back(std::move(text)); },
                    caf::after(10s) >> [] { FAIL("a queued message did not arrive"); });
  CHECK(got == std::vector<std::string>{"first", "second"});
  CHECK(ask_b<std::string>(atom::ping_v));
  caf::anon_send_exit(admin, caf::exit_reason::user_shutdown);
}

TEST_CASE("bus: publishes waiting for Redis go out together in one pipelined flush, in order",
          "[bus]") {
  auto cfg = bus_config();
  cfg.bus_queue_limit = 100;
  test_node a{"a", cfg};
  test_node b{"b", cfg};
  REQUIRE(test::eventually(10s, [&] { return a.subscribed() && b.subscribed(); }));
  auto to_b = a.node_bus->proxy(b.id, "test");
  auto flushes = a.node_bus->counters().flushes.load();
  auto published = a.node_bus->counters().published.load();
  // Redis holds node a's first flush; the messages sent meanwhile wait for the next one.
  auto admin = persistence::spawn_redis(a.sys, test::redis_config());
  REQUIRE(a.ask<redis_reply>(admin, 10s, atom::command_v,
                             std::vector<std::string>{"CLIENT", "PAUSE", "500", "ALL"}));
  constexpr int sent = 20;
  for (int i = 0; i < sent; ++i)
    a.self->send(to_b, atom::push_v, std::to_string(i));
  std::vector<std::string> got;
  for (int i = 0; i < sent; ++i)
    b.self->receive([&](atom::push, std::string& text) { got.push_back(std::move(text)); },
                    caf::after(10s) >> [] { FAIL("a message did not arrive"); });
  std::vector<std::string> expected;
  for (int i = 0; i < sent; ++i)
    expected.push_back(std::to_string(i));
  CHECK(got == expected);
  CHECK(test::eventually(5s, [&] {
    return a.node_bus->counters().published.load() == published + sent;
  }));
  // The first alone, the other 19 together.
  CHECK(a.node_bus->counters().flushes.load() - flushes <= 2);
  caf::anon_send_exit(admin, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(two_nodes, "bus: after a Redis restart the bus recovers by itself",
                 "[bus][restart]") {
  REQUIRE(ask_b<std::string>(atom::ping_v));
  {
    test::stopped_service server{"redis"};
    REQUIRE(test::eventually(10s, [&] { return !a.subscribed(); }));
    caf::expected<std::string> down{std::string{}};
    auto took = timed([&] { down = ask_b<std::string>(atom::ping_v); });
    REQUIRE_FALSE(down);
    CHECK(code_of(down.error()) == errc::peer_unavailable);
    CHECK(took < 500ms);
    server.start();
  }
  REQUIRE(test::eventually(20s, [&] { return a.subscribed() && b.subscribed(); }));
  auto pong = ask_b<std::string>(atom::ping_v);
  REQUIRE(pong);
  CHECK(*pong == "pong");
}
