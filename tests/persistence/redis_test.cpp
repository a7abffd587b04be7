// The Redis facade and its detached workers against a real Redis: command round
// trips, error replies, and reconnecting after a restart.
#include "persistence/redis.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

using namespace tandem;
using namespace tandem::persistence;
using namespace std::chrono_literals;

namespace {

struct redis_fixture : test::actor_system_fixture {
  redis_actor redis;
  /// Keys of this process only: other test runs may share the server.
  std::string prefix = "tandem-test:" + std::to_string(::getpid()) + ":";

  redis_fixture() {
    auto cfg = test::redis_config();
    cfg.queue_limit = 16;
    cfg.timeout_ms = 1000;
    redis = spawn_redis(sys, cfg);
  }

  ~redis_fixture() {
    caf::anon_send_exit(redis, caf::exit_reason::user_shutdown);
  }

  caf::expected<redis_reply> cmd(std::vector<std::string> args) {
    return ask<redis_reply>(redis, 10s, atom::command_v, std::move(args));
  }

  caf::expected<bool> ping() {
    return ask<bool>(redis, 10s, atom::ping_v);
  }
};

} // namespace

TEST_CASE_METHOD(redis_fixture, "redis commands round-trip through the pool", "[redis]") {
  auto key = prefix + "greeting";
  auto counter = prefix + "counter";
  auto list = prefix + "list";
  REQUIRE(cmd({"DEL", key, counter, list}));

  auto set = cmd({"SET", key, "hello"});
  REQUIRE(set);
  CHECK(set->kind == redis_reply::status);
  CHECK(set->str == "OK");

  auto get = cmd({"GET", key});
  REQUIRE(get);
  CHECK(get->kind == redis_reply::string);
  CHECK(get->str == "hello");

  // Arguments and replies are binary safe.
  std::string binary{"a\0b\r\nc", 6};
  REQUIRE(cmd({"SET", key, binary}));
  auto get_binary = cmd({"GET", key});
  REQUIRE(get_binary);
  CHECK(get_binary->str == binary);

  auto first = cmd({"INCR", counter});
  auto second = cmd({"INCR", counter});
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->kind == redis_reply::integer);
  CHECK(first->integer_value == 1);
  CHECK(second->integer_value == 2);

  REQUIRE(cmd({"RPUSH", list, "x", "y"}));
  auto range = cmd({"LRANGE", list, "0", "-1"});
  REQUIRE(range);
  CHECK(range->kind == redis_reply::array);
  CHECK(range->items == std::vector<std::string>{"x", "y"});

  auto deleted = cmd({"DEL", key, counter, list});
  REQUIRE(deleted);
  CHECK(deleted->integer_value == 3);
  auto missing = cmd({"GET", key});
  REQUIRE(missing);
  CHECK(missing->kind == redis_reply::nil);

  auto pong = ping();
  REQUIRE(pong);
  CHECK(*pong);
}

TEST_CASE_METHOD(redis_fixture, "an error reply is redis_error with the server's message",
                 "[redis]") {
  auto key = prefix + "not-a-number";
  REQUIRE(cmd({"SET", key, "abc"}));
  auto incr = cmd({"INCR", key});
  REQUIRE_FALSE(incr);
  CHECK(code_of(incr.error()) == errc::redis_error);
  CHECK_THAT(describe(incr.error()), Catch::Contains("not an integer"));

  auto unknown = cmd({"NO-SUCH-COMMAND"});
  REQUIRE_FALSE(unknown);
  CHECK(code_of(unknown.error()) == errc::redis_error);

  auto empty = cmd({});
  REQUIRE_FALSE(empty);
  CHECK(code_of(empty.error()) == errc::invalid_request);

  // Error replies leave the connection in use.
  auto deleted = cmd({"DEL", key});
  REQUIRE(deleted);
  CHECK(deleted->integer_value == 1);
}

TEST_CASE_METHOD(redis_fixture, "a pipeline answers each command in order, error replies in place",
                 "[redis]") {
  auto key = prefix + "pipelined";
  using commands = std::vector<std::vector<std::string>>;
  auto replies = ask<std::vector<redis_reply>>(
    redis, 10s, atom::command_v,
    commands{{"DEL", key}, {"SET", key, "abc"}, {"INCR", key}, {"GET", key}, {"DEL", key}});
  REQUIRE(replies);
  REQUIRE(replies->size() == 5);
  CHECK((*replies)[1].kind == redis_reply::status);
  CHECK((*replies)[2].kind == redis_reply::error);
  CHECK_THAT((*replies)[2].str, Catch::Contains("not an integer"));
  // The error reply did not stop the commands after it.
  CHECK((*replies)[3].kind == redis_reply::string);
  CHECK((*replies)[3].str == "abc");
  CHECK((*replies)[4].integer_value == 1);

  auto empty = ask<std::vector<redis_reply>>(redis, 10s, atom::command_v, commands{});
  REQUIRE_FALSE(empty);
  CHECK(code_of(empty.error()) == errc::invalid_request);
  auto empty_command = ask<std::vector<redis_reply>>(redis, 10s, atom::command_v,
                                                     commands{{"PING"}, {}});
  REQUIRE_FALSE(empty_command);
  CHECK(code_of(empty_command.error()) == errc::invalid_request);
  // Nothing was written for a refused pipeline: the connection is still in step.
  auto pong = cmd({"PING"});
  REQUIRE(pong);
  CHECK(pong->str == "PONG");
}

TEST_CASE_METHOD(redis_fixture, "the redis pool reconnects after a Redis restart",
                 "[redis][restart]") {
  REQUIRE(ping());

  test::stopped_service server{"redis"};
  auto started = std::chrono::steady_clock::now();
  auto down = ping();
  auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(down);
  CHECK(code_of(down.error()) == errc::redis_unavailable);
  CHECK(took < 2s);

  server.start();
  CHECK(test::eventually(20s, [&] {
    auto r = ping();
    return r && *r;
  }));
  auto key = prefix + "after-restart";
  REQUIRE(cmd({"SET", key, "v"}));
  CHECK(cmd({"DEL", key}));
}
