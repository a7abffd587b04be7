// Presence and pushes of the user actors in virtual time: who receives which frame,
// privacy on the server, several connections, the presence timeout, and friendship
// changes while online. Connections are stand-ins that record what they are sent.
#include "wire/ws_frames.hpp"
#include "tests/support/users_fixture.hpp"

#include <nlohmann/json.hpp>

#include <set>

using namespace tandem_test;
using json = nlohmann::json;

namespace {

/// What a stand-in connection received.
struct inbox {
  std::vector<json> frames;
  std::vector<const ws_frame*> bytes; ///< where each frame's text lives
  bool evicted = false;

  std::vector<json> of_type(const std::string& type) const {
    std::vector<json> out;
    for (const auto& f : frames)
      if (f.at("type") == type)
        out.push_back(f);
    return out;
  }
};

struct presence_fixture : users_fixture {
  std::map<std::string, caf::actor> user_actors;
  std::vector<caf::actor> connections;

  ~presence_fixture() {
    // The actor system waits for every actor when it ends.
    for (const auto& conn : connections)
      caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// A stand-in connection recording into `box`; on evict it records and stays open
  /// (its socket closes later, or never, as the test decides).
  caf::actor stand_in(inbox* box) {
    auto conn = sys.spawn([box](caf::event_based_actor*) -> caf::behavior {
      return {
        [box](atom::push, const ws_push& p) {
          box->frames.push_back(json::parse(p.frame->text));
          box->bytes.push_back(p.frame.get());
        },
        [box](atom::evict) { box->evicted = true; },
      };
    });
    connections.push_back(conn);
    return conn;
  }

  /// Opens a connection of `user` subscribing to `kinds`; returns its handle.
  caf::actor connect(const std::string& user, inbox* box, uint8_t kinds = event_kind::all) {
    auto conn = stand_in(box);
    auto r = ask<caf::actor>(atom::open_connection_v, user, kinds, conn);
    REQUIRE(r.value);
    user_actors[user] = *r.value;
    return conn;
  }

  void disconnect(const caf::actor& conn) {
    caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void update(const std::string& user, const std::string& url, const std::string& title) {
    caf::anon_send(caf::actor_cast<user_actor>(user_actors.at(user)), atom::update_presence_v,
                   page_info{url, title});
    sched.run();
  }

  void heartbeat(const std::string& user) {
    caf::anon_send(caf::actor_cast<user_actor>(user_actors.at(user)), atom::presence_heartbeat_v);
    sched.run();
  }

  void befriend(const std::string& a, const std::string& b) {
    REQUIRE(write(friendship_op::request, a, b).value == true);
    REQUIRE(write(friendship_op::accept, b, a).value == true);
  }

  /// Sets the user to share every page, as the database has it before their actor loads.
  void share_all(const std::string& user) {
    store.users.at(user).sharing = share_mode::default_all;
  }

  /// Advances virtual time, firing the timers due, and runs what they cause.
  void wait(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }
};

} // namespace

TEST_CASE_METHOD(presence_fixture,
                 "an update reaches the friends' connections and the user's own, never a stranger's",
                 "[presence]") {
  share_all("ann");
  befriend("ann", "bob");
  inbox ann_box, bob_box, bob_chat_box, cid_box;
  connect("ann", &ann_box);
  connect("bob", &bob_box);
  connect("bob", &bob_chat_box, event_kind::chat);
  connect("cid", &cid_box);
  update("ann", "https://www.example.co.uk/page", "Example");
  auto seen = bob_box.of_type("update-presence");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == json{{"type", "update-presence"}, {"userId", "ann"},
                        {"url", "https://www.example.co.uk/page"}, {"title", "Example"},
                        {"domain", "example.co.uk"}, {"latestUrl", "https://www.example.co.uk/page"},
                        {"latestTitle", "Example"}, {"latestDomain", "example.co.uk"}});
  CHECK(ann_box.of_type("update-presence").size() == 1);
  CHECK(bob_chat_box.frames.empty());
  CHECK(cid_box.frames.empty());
}

TEST_CASE_METHOD(presence_fixture, "a page on a domain the user does not share goes out blank",
                 "[presence]") {
  befriend("ann", "bob");
  inbox ann_box, bob_box;
  connect("ann", &ann_box);
  connect("bob", &bob_box);
  SECTION("default_none shares only allowed domains") {
    update("ann", "https://news.example.com/a", "Secret");
    REQUIRE(bob_box.frames.size() == 1);
    CHECK(bob_box.frames[0]["url"] == "");
    CHECK(bob_box.frames[0]["title"] == "");
    CHECK(bob_box.frames[0]["latestUrl"] == "");
    REQUIRE(ask<user_profile>(atom::set_profile_domains_v, std::string{"ann"}, domain_list::allow,
                              std::vector<std::string>{"example.com"})
              .value);
    update("ann", "https://news.example.com/a", "Shared");
    REQUIRE(bob_box.frames.size() == 2);
    CHECK(bob_box.frames[1]["url"] == "https://news.example.com/a");
    CHECK(bob_box.frames[1]["domain"] == "example.com");
  }
  SECTION("default_all hides denied domains, and a new deny blanks the current page at once") {
    REQUIRE(update_profile("ann", [](profile_update& u) {
              u.sharing = share_mode::default_all;
              u.domain_deny = {"bank.com"};
            }).value);
    update("ann", "https://www.bank.com/account", "Balance");
    REQUIRE(bob_box.frames.size() == 1);
    CHECK(bob_box.frames[0]["url"] == "");
    update("ann", "https://github.com/", "GitHub");
    REQUIRE(bob_box.frames.size() == 2);
    CHECK(bob_box.frames[1]["url"] == "https://github.com/");
    REQUIRE(ask<user_profile>(atom::set_profile_domains_v, std::string{"ann"}, domain_list::deny,
                              std::vector<std::string>{"bank.com", "github.com"})
              .value);
    REQUIRE(bob_box.frames.size() == 3);
    CHECK(bob_box.frames[2]["url"] == "");
    CHECK(bob_box.frames[2]["latestUrl"] == "");
  }
}

TEST_CASE_METHOD(presence_fixture,
                 "an update is rendered once: the friends' connections and the user's own share its bytes",
                 "[presence]") {
  share_all("ann");
  befriend("ann", "bob");
  befriend("ann", "cid");
  inbox ann_box, bob_box, cid_box;
  connect("ann", &ann_box);
  connect("bob", &bob_box);
  connect("cid", &cid_box);
  update("ann", "https://example.org/", "Example");
  REQUIRE(ann_box.bytes.size() == 1);
  REQUIRE(bob_box.bytes.size() == 1);
  REQUIRE(cid_box.bytes.size() == 1);
  CHECK(bob_box.bytes[0] == ann_box.bytes[0]);
  CHECK(cid_box.bytes[0] == ann_box.bytes[0]);
}

TEST_CASE_METHOD(presence_fixture,
                 "the registry hands a friend's update to the connections, not to the friend's actor",
                 "[presence]") {
  share_all("ann");
  befriend("ann", "bob");
  inbox ann_box, bob_tab, bob_chat;
  connect("ann", &ann_box);
  connect("bob", &bob_tab);
  connect("bob", &bob_chat, event_kind::chat);
  auto bob = user_actors.at("bob")->id();
  caf::anon_send(caf::actor_cast<user_actor>(user_actors.at("ann")), atom::update_presence_v,
                 page_info{"https://example.org/", "Example"});
  std::set<caf::actor_id> ran;
  while (!sched.jobs.empty()) {
    ran.insert(dynamic_cast<caf::abstract_actor*>(sched.jobs.front())->id());
    sched.run_once();
  }
  CHECK(bob_tab.of_type("update-presence").size() == 1);
  CHECK(bob_chat.frames.empty());
  CHECK(ran.count(bob) == 0);
}

TEST_CASE_METHOD(presence_fixture,
                 "closing one of two connections keeps the user online; closing the last does not",
                 "[presence]") {
  share_all("ann");
  befriend("ann", "bob");
  inbox ann_tab1, ann_tab2, bob_box;
  auto tab1 = connect("ann", &ann_tab1);
  auto tab2 = connect("ann", &ann_tab2);
  connect("bob", &bob_box);
  update("ann", "https://example.org/", "Example");
  CHECK(ann_tab1.frames.size() == 1);
  CHECK(ann_tab2.frames.size() == 1);
  disconnect(tab1);
  CHECK(bob_box.of_type("presence-timeout").empty());
  auto still = ask<presence_state>(atom::peek_presence_v, std::string{"bob"}, std::string{"ann"});
  REQUIRE(still.value);
  CHECK(still.value->page);
  disconnect(tab2);
  auto gone = bob_box.of_type("presence-timeout");
  REQUIRE(gone.size() == 1);
  CHECK(gone[0] == json{{"type", "presence-timeout"}, {"userId", "ann"}});
  auto after = ask<presence_state>(atom::peek_presence_v, std::string{"bob"}, std::string{"ann"});
  REQUIRE(after.value);
  CHECK(!after.value->page);
}

TEST_CASE_METHOD(presence_fixture,
                 "a user silent for the presence timeout goes offline; heartbeats keep them online",
                 "[presence]") {
  share_all("ann");
  befriend("ann", "bob");
  inbox ann_box, bob_box;
  connect("ann", &ann_box);
  connect("bob", &bob_box);
  update("ann", "https://example.org/", "Example");
  wait(presence_timeout - 1s);
  heartbeat("ann");
  wait(2s);  // past the first deadline, but a heartbeat came in between
  CHECK(bob_box.of_type("presence-timeout").empty());
  wait(presence_timeout);
  CHECK(bob_box.of_type("presence-timeout").size() == 1);
  // The socket stays; the next update brings the user back.
  update("ann", "https://example.org/b", "B");
  CHECK(bob_box.of_type("update-presence").size() == 2);
}

TEST_CASE_METHOD(presence_fixture,
                 "befriending shows the current page at once; unfriending takes the user away",
                 "[presence]") {
  share_all("ann");
  inbox ann_box, bob_box;
  connect("ann", &ann_box);
  connect("bob", &bob_box);
  update("ann", "https://example.org/", "Example");
  CHECK(bob_box.frames.empty());
  REQUIRE(write(friendship_op::request, "bob", "ann").value == true);
  auto requests = ann_box.of_type("friend-request");
  REQUIRE(requests.size() == 1);
  CHECK(requests[0]["user_id"] == "bob");
  CHECK(requests[0]["first_name"] == "Bob");
  CHECK(bob_box.of_type("update-presence").empty());  // not friends yet
  REQUIRE(write(friendship_op::accept, "ann", "bob").value == true);
  auto accepted = bob_box.of_type("friend-accepted");
  REQUIRE(accepted.size() == 1);
  CHECK(accepted[0]["user_id"] == "ann");
  CHECK(accepted[0]["accepted_at"].is_string());
  auto pages = bob_box.of_type("update-presence");
  REQUIRE(pages.size() == 1);
  CHECK(pages[0]["url"] == "https://example.org/");

  REQUIRE(write(friendship_op::remove, "bob", "ann").value == true);
  CHECK(bob_box.of_type("presence-timeout").size() == 1);
  update("ann", "https://example.org/next", "Next");
  CHECK(bob_box.of_type("update-presence").size() == 1);
  auto peek = ask<presence_state>(atom::peek_presence_v, std::string{"bob"}, std::string{"ann"});
  CHECK(peek.code() == errc::forbidden);
}

TEST_CASE_METHOD(presence_fixture, "a share reaches each recipient's connections", "[presence]") {
  befriend("ann", "bob");
  befriend("ann", "cid");
  inbox bob_box, bob_presence_only, cid_chat_only;
  connect("bob", &bob_box);
  connect("bob", &bob_presence_only, event_kind::presence);
  connect("cid", &cid_chat_only, event_kind::chat);
  auto shared = ask<std::string>(atom::send_share_v, std::string{"ann"},
                                 share_request{caf::none, "https://example.org/", "Look"});
  REQUIRE(shared.value);
  auto notes = bob_box.of_type("share-notification");
  REQUIRE(notes.size() == 1);
  CHECK(notes[0]["event_id"] == *shared.value);
  CHECK(notes[0]["user_id"] == "ann");
  CHECK(notes[0]["url"] == "https://example.org/");
  CHECK(notes[0]["seen_at"].is_null());
  CHECK(bob_presence_only.frames.empty());
  CHECK(cid_chat_only.frames.empty());
}

TEST_CASE_METHOD(presence_fixture,
                 "past the connection cap the oldest is evicted, and keeps its seat until it "
                 "has closed",
                 "[presence]") {
  inbox first_box, second_box, third_box, fourth_box, fifth_box;
  auto first = connect("ann", &first_box);
  connect("ann", &second_box);
  CHECK(!first_box.evicted);
  auto third_conn = stand_in(&third_box);
  auto third = send<caf::actor>(atom::open_connection_v, std::string{"ann"}, event_kind::all,
                                third_conn);
  sched.run();
  CHECK(first_box.evicted);
  CHECK(!second_box.evicted);
  // The cap is 2: the evicted socket is still open, so the third waits for its seat.
  CHECK(!third->value);
  CHECK(!third->error);
  REQUIRE(update_profile("ann", [](profile_update& u) { u.sharing = share_mode::default_all; })
            .value);
  update("ann", "https://example.org/", "Example");
  CHECK(first_box.frames.empty());  // no longer the user's
  CHECK(second_box.frames.size() == 1);
  disconnect(first);  // its TCP connection closed
  REQUIRE(third->value);
  update("ann", "https://example.org/", "Again");
  CHECK(second_box.frames.size() == 2);
  CHECK(third_box.frames.size() == 1);
  // Two at once over a full cap: both wait, each with one evicted socket on its way out,
  // and one more than the cap waiting is refused.
  auto fourth = send<caf::actor>(atom::open_connection_v, std::string{"ann"}, event_kind::all,
                                 stand_in(&fourth_box));
  auto fifth = send<caf::actor>(atom::open_connection_v, std::string{"ann"}, event_kind::all,
                                stand_in(&fifth_box));
  inbox sixth_box;
  auto sixth = send<caf::actor>(atom::open_connection_v, std::string{"ann"}, event_kind::all,
                                stand_in(&sixth_box));
  sched.run();
  CHECK(second_box.evicted);
  CHECK(third_box.evicted);
  CHECK(!fourth->value);
  CHECK(!fifth->value);
  CHECK(sixth->code() == errc::rate_limited);
  disconnect(third_conn);
  CHECK(fourth->value);
  CHECK(!fifth->value);
}

TEST_CASE_METHOD(presence_fixture,
                 "a user without a profile yet connects, and once it is created goes on "
                 "without reconnecting",
                 "[presence]") {
  inbox dan_box, ann_box;
  connect("dan", &dan_box);  // signed in, no profile yet (docs/api.md)
  connect("ann", &ann_box);
  update("dan", "https://example.org/", "Before");
  REQUIRE(dan_box.frames.size() == 1);
  CHECK(dan_box.frames[0]["url"] == "");  // nothing is shared without settings
  // U2 creates the profile through the user's actor; the same connection goes on.
  auto created = ask<user_profile>(atom::create_profile_v, std::string{"dan"},
                                   new_profile{"dan", "dan@example.com", "Dan", "Dawn"});
  REQUIRE(created.value);
  REQUIRE(update_profile("dan", [](profile_update& u) { u.sharing = share_mode::default_all; })
            .value);
  befriend("ann", "dan");
  update("dan", "https://example.org/", "After");
  // The new friend got the page at once (blank, before), then the update.
  auto seen = ann_box.of_type("update-presence");
  REQUIRE(seen.size() == 2);
  CHECK(seen[1]["userId"] == "dan");
  CHECK(seen[1]["url"] == "https://example.org/");
  auto overview = ask<presence_overview>(atom::get_presence_v, std::string{"dan"});
  REQUIRE(overview.value);
  REQUIRE(overview.value->cards.size() == 2);
  CHECK(overview.value->cards[0].first_name == "Dan");
}

TEST_CASE_METHOD(presence_fixture, "GET /presence gathers the friends' presence from their actors",
                 "[presence]") {
  share_all("bob");
  befriend("ann", "bob");
  befriend("ann", "cid");
  inbox bob_box;
  connect("bob", &bob_box);
  update("bob", "https://example.org/", "Example");
  auto overview = ask<presence_overview>(atom::get_presence_v, std::string{"ann"});
  REQUIRE(overview.value);
  CHECK(overview.value->me.user_id == "ann");
  CHECK(!overview.value->me.page);
  REQUIRE(overview.value->friends.size() == 2);
  CHECK(overview.value->friends[0].user_id == "bob");  // by name
  REQUIRE(overview.value->friends[0].page);
  CHECK(overview.value->friends[0].page->url == "https://example.org/");
  CHECK(overview.value->friends[1].user_id == "cid");
  CHECK(!overview.value->friends[1].page);
  CHECK(overview.value->cards.size() == 3);
  auto stranger = ask<presence_state>(atom::peek_presence_v, std::string{"cid"}, std::string{"bob"});
  CHECK(stranger.code() == errc::forbidden);
}

// -- per-user budgets and the fan-out (issue 15, item 1) --------------------------------------
// The fixture keeps the default budgets: presence 2/s with a burst of 10, typing 2/s
// with 10, read-messages 5/s with 20.

TEST_CASE_METHOD(presence_fixture,
                 "update-presence past the user's budget is coalesced: friends get at most the "
                 "budget, and end at the latest page",
                 "[presence][flood]") {
  share_all("ann");
  befriend("ann", "bob");
  inbox ann_a, ann_b, bob_box;
  connect("ann", &ann_a);
  connect("ann", &ann_b);  // the budget is the user's: two sockets share it
  connect("bob", &bob_box);
  for (int i = 0; i < 50; ++i)
    update("ann", "https://example.org/" + std::to_string(i), "Page");
  auto seen = bob_box.of_type("update-presence");
  REQUIRE(seen.size() == 10);  // the burst
  CHECK(seen.back()["url"] == "https://example.org/9");
  // Updates 10..49: the first waits, each later one replaced the one waiting.
  CHECK(counters->presence_coalesced == 39);
  wait(500ms);  // one token at 2/s
  seen = bob_box.of_type("update-presence");
  REQUIRE(seen.size() == 11);
  CHECK(seen.back()["url"] == "https://example.org/49");
  CHECK(ann_a.of_type("update-presence").size() == 11);
  wait(10s);
  CHECK(bob_box.of_type("update-presence").size() == 11);  // nothing more to send
  // A steady flood (20 a second for 10 s) goes out at the budget's rate, latest last.
  for (int i = 0; i < 200; ++i) {
    update("ann", "https://example.org/steady-" + std::to_string(i), "Page");
    wait(50ms);
  }
  wait(1s);
  seen = bob_box.of_type("update-presence");
  // The burst refilled during the 10 s pause, then 2 a second for 11 s.
  CHECK(seen.size() - 11 <= 10 + 2 * 11);
  CHECK(seen.back()["url"] == "https://example.org/steady-199");
}

TEST_CASE_METHOD(presence_fixture,
                 "a coalesced update of a user whose last socket closed goes out to nobody",
                 "[presence][flood]") {
  share_all("ann");
  befriend("ann", "bob");
  inbox ann_box, bob_box;
  auto conn = connect("ann", &ann_box);
  connect("bob", &bob_box);
  for (int i = 0; i < 11; ++i)
    update("ann", "https://example.org/" + std::to_string(i), "Page");
  disconnect(conn);
  wait(1s);
  auto seen = bob_box.frames;
  REQUIRE(seen.size() == 11);  // ten updates, then presence-timeout; never page 10
  CHECK(seen.back()["type"] == "presence-timeout");
}

TEST_CASE_METHOD(presence_fixture,
                 "a fan-out sends nothing toward friends without a live connection for its kind",
                 "[presence][flood]") {
  share_all("ann");
  befriend("ann", "bob");
  befriend("ann", "cid");
  inbox ann_box, bob_chat_box;
  connect("ann", &ann_box);
  auto bob_conn = connect("bob", &bob_chat_box, event_kind::chat);  // no presence on it
  auto before = counters->offline_skipped.load();
  update("ann", "https://example.org/", "Example");
  // cid has no connection, bob none for presence: neither gets a message.
  CHECK(counters->offline_skipped - before == 2);
  CHECK(bob_chat_box.frames.empty());
  // Once bob has a presence socket, he gets the next update; once it is gone, nothing.
  inbox bob_box;
  auto bob_presence = connect("bob", &bob_box, event_kind::presence);
  wait(1s);
  update("ann", "https://example.org/2", "Example");
  REQUIRE(bob_box.of_type("update-presence").size() == 1);
  CHECK(counters->offline_skipped - before == 3);  // cid again
  disconnect(bob_presence);
  disconnect(bob_conn);
  wait(1s);
  update("ann", "https://example.org/3", "Example");
  CHECK(counters->offline_skipped - before == 5);
  CHECK(bob_box.of_type("update-presence").size() == 1);
}

TEST_CASE_METHOD(presence_fixture,
                 "typing and read-messages past the user's budgets are shed and counted, "
                 "whatever the socket",
                 "[presence][flood]") {
  inbox box;
  connect("ann", &box);
  auto ann = caf::actor_cast<user_actor>(user_actors.at("ann"));
  auto take = [&](uint8_t kind) {
    auto r = request_from<bool>(sys, ann, atom::budget_v, kind);
    sched.run();
    REQUIRE(r->value);
    return *r->value;
  };
  for (int i = 0; i < 10; ++i)
    CHECK(take(flood_budget::typing));  // at the limit
  CHECK(!take(flood_budget::typing));   // past it
  CHECK(!take(flood_budget::typing));
  CHECK(counters->typing_shed == 2);
  for (int i = 0; i < 20; ++i)
    CHECK(take(flood_budget::receipts));  // a separate budget
  CHECK(!take(flood_budget::receipts));
  CHECK(counters->receipts_shed == 1);
  wait(500ms);
  CHECK(take(flood_budget::typing));  // refilled at 2/s
  CHECK(!take(flood_budget::typing));
  CHECK(counters->typing_shed == 3);
}

TEST_CASE_METHOD(presence_fixture,
                 "past ws.fanout_backlog the registry sheds typing fan-outs, counted, never "
                 "other frames",
                 "[presence][flood]") {
  user_settings settings;
  settings.gateway.fanout_backlog = 2;
  settings.gateway.counters = counters;
  auto small = spawn_user_registry(sys, db, settings);
  inbox bob_box;
  auto opened = request_from<caf::actor>(sys, small, atom::open_connection_v, std::string{"bob"},
                                         event_kind::chat, stand_in(&bob_box));
  sched.run();
  REQUIRE(opened->value);
  auto typing = frames::typing("conv", "ann");
  auto other = frames::read_receipt("conv", "ann", 1);
  std::vector<std::string> to{"bob"};
  for (int i = 0; i < 4; ++i)
    caf::anon_send(small, atom::fanout_v, to, other);
  for (int i = 0; i < 4; ++i)
    caf::anon_send(small, atom::fanout_v, to, typing);
  sched.run();
  // Receipts are never shed; the first typing fan-out found 3 messages behind it.
  CHECK(bob_box.of_type("read-receipt").size() == 4);
  CHECK(counters->fanout_shed == 1);
  CHECK(bob_box.of_type("typing").size() == 3);
  caf::anon_send_exit(small, caf::exit_reason::user_shutdown);
  sched.run();
}
