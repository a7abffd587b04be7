// Connection actors in virtual time, with a stand-in for the socket (`ws_link`) that
// records what the actor asks of it: registration, inbound frame routing and errors,
// strikes, the rate limit, one write in flight with coalescing, and the send bound.
#include "actors/connection_actor.hpp"

#include "tests/support/recording_link.hpp"
#include "tests/support/users_fixture.hpp"

#include <nlohmann/json.hpp>

using namespace tandem_test;
using json = nlohmann::json;

namespace {

struct connection_fixture : users_fixture {
  gateway_settings settings;
  std::shared_ptr<recording_link> link = std::make_shared<recording_link>();
  connection_actor conn;

  connection_fixture() {
    settings.rate_per_s = 5;
    settings.rate_burst = 5;
    settings.max_strikes = 3;
    settings.send_queue_limit = 4;
  }

  ~connection_fixture() {
    // The actor system waits for every actor when it ends.
    caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void open(const std::string& user, uint8_t kinds = event_kind::all) {
    // No chat here: the chat registry stays unset.
    connection_params params{user, kinds, registry, settings, 5s, {}, 1000,
                             {}, 0, nullptr, nullptr};
    conn = sys.spawn(connection_impl, std::move(params), std::shared_ptr<ws_link>{link});
    sched.run();
    if (link->accepted) {
      caf::anon_send(conn, atom::websocket_opened_v);
      sched.run();
    }
  }

  void frame(const std::string& text) {
    caf::anon_send(conn, atom::websocket_frame_v, text);
    sched.run();
  }

  /// The socket wrote the batch it had.
  void written() {
    caf::anon_send(conn, atom::websocket_sent_v);
    sched.run();
  }

  void push(const std::string& frame_text, const std::string& key = {}) {
    caf::anon_send(conn, atom::push_v, make_push(event_kind::presence, frame_text, key));
    sched.run();
  }
};

} // namespace

TEST_CASE_METHOD(connection_fixture, "a connection registers before the handshake completes",
                 "[connections]") {
  SECTION("a user with a profile is accepted") {
    open("ann");
    CHECK(link->accepted);
    CHECK(!link->refused);
  }
  SECTION("a user without a profile yet is accepted too (PageNow's extension connects before sign-up)") {
    open("nobody");
    CHECK(link->accepted);
    CHECK(!link->refused);
  }
  SECTION("a failed registration is refused with its error, which the link maps") {
    store.fail_next_load = caf::make_error(errc::db_unavailable, "could not connect to 10.0.0.7");
    open("ann");
    CHECK(!link->accepted);
    REQUIRE(link->refused);
    CHECK(code_of(*link->refused) == errc::db_unavailable);
  }
}

TEST_CASE_METHOD(connection_fixture,
                 "bad frames get error frames and the socket stays until too many in a row",
                 "[connections]") {
  open("ann");
  frame("not json");
  frame("[1,2]");
  REQUIRE(link->batches.size() == 1);  // one write in flight: the second error waits
  written();
  auto errors = link->frames();
  REQUIRE(errors.size() == 2);
  CHECK(errors[0]["type"] == "error");
  CHECK(errors[0]["detail"] == "A frame must be a JSON object");
  CHECK(errors[1]["type"] == "error");
  frame(R"({"action":"heartbeat"})");  // a good frame resets the count
  frame(R"({"action":"dance"})");
  frame(R"({"action":"update-presence","url":5,"title":""})");
  CHECK(!link->closed);
  written();
  auto all = link->frames();
  REQUIRE(all.size() == 4);
  CHECK(all[2]["detail"] == "Unknown action 'dance'");
  CHECK(all[2]["action"] == "dance");
  CHECK(all[3]["detail"] == "'url' must be a string");
  caf::anon_send(conn, atom::websocket_bad_frame_v, std::string{"Frame larger than 16 bytes"});
  sched.run();
  REQUIRE(link->closed);
  CHECK(*link->closed == close_code::policy_violation);
  CHECK(link->reads == 6);  // every frame handled gives the socket a read back
}

TEST_CASE_METHOD(connection_fixture,
                 "the end of a session closes its user's connections of that session only",
                 "[connections]") {
  auto other_link = std::make_shared<recording_link>();
  connection_params mine{"ann", event_kind::all, registry, settings, 5s, {}, 1000,
                         "s1", 0, nullptr, nullptr};
  auto theirs = mine;
  theirs.session = "s2";
  conn = sys.spawn(connection_impl, std::move(mine), std::shared_ptr<ws_link>{link});
  auto other = sys.spawn(connection_impl, std::move(theirs), std::shared_ptr<ws_link>{other_link});
  sched.run();
  REQUIRE(link->accepted);
  REQUIRE(other_link->accepted);
  // Another user's session of the same name closes nothing of ann's.
  caf::anon_send(registry, atom::session_end_v, std::string{"bob"}, std::string{"s1"});
  sched.run();
  CHECK_FALSE(link->closed);
  caf::anon_send(registry, atom::session_end_v, std::string{"ann"}, std::string{"s1"});
  sched.run();
  CHECK(link->closed == close_code::session_ended);
  CHECK_FALSE(other_link->closed);
  caf::anon_send_exit(other, caf::exit_reason::user_shutdown);
  sched.run();
}

TEST_CASE_METHOD(connection_fixture, "update-presence is refused on a chat-only path",
                 "[connections]") {
  open("ann", event_kind::chat);
  frame(R"({"action":"update-presence","url":"","title":""})");
  auto frames = link->frames();
  REQUIRE(frames.size() == 1);
  CHECK(frames[0]["action"] == "update-presence");
}

TEST_CASE_METHOD(connection_fixture, "frames past the rate limit are refused until tokens refill",
                 "[connections]") {
  open("ann");
  for (int i = 0; i < 5; ++i)
    frame(R"({"action":"heartbeat"})");
  CHECK(link->batches.empty());
  frame(R"({"action":"heartbeat"})");
  REQUIRE(link->batches.size() == 1);
  CHECK(link->frames()[0]["detail"].get<std::string>().rfind("Rate limit exceeded", 0) == 0);
  written();
  sched.advance_time(1s);  // five more tokens
  for (int i = 0; i < 5; ++i)
    frame(R"({"action":"heartbeat"})");
  CHECK(link->batches.size() == 1);
  CHECK(!link->closed);
}

TEST_CASE_METHOD(connection_fixture,
                 "frames queued behind a write coalesce by key and go out as one batch",
                 "[connections]") {
  open("ann");
  push(R"({"n":1})");
  REQUIRE(link->batches.size() == 1);
  push(R"({"who":"bob","n":2})", "presence:bob");
  push(R"({"n":3})");
  push(R"({"who":"bob","n":4})", "presence:bob");  // replaces n=2 in place
  CHECK(link->batches.size() == 1);
  written();
  REQUIRE(link->batches.size() == 2);
  CHECK(link->batches[1] == std::vector<std::string>{R"({"who":"bob","n":4})", R"({"n":3})"});
}

TEST_CASE_METHOD(connection_fixture, "a consumer over its send bound is closed, not buffered",
                 "[connections]") {
  open("ann");
  push(R"({"n":0})");  // in flight, never acknowledged
  for (int i = 1; i <= 4; ++i)
    push(R"({"n":)" + std::to_string(i) + "}");
  CHECK(!link->closed);
  push(R"({"n":5})");
  REQUIRE(link->closed);
  CHECK(*link->closed == close_code::try_again_later);
}
