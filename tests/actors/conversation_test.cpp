// Conversation actors, their registry and the message writer under CAF's
// deterministic scheduler, over the in-memory fake of the chat database: the order of
// seq under concurrent senders, idempotent tempMessageIds, read cursors, replay from
// the ring and past it, group commit, and failed commits that leave nothing visible.
#include "actors/conversation_registry.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/fake_chat_db.hpp"
#include "tests/support/sim_fixture.hpp" // last: the test DSL

using namespace tandem;
using namespace std::chrono_literals;
using tandem_test::fake_chat_db;
using tandem_test::fake_chat_store;
using tandem_test::reply;
using json = nlohmann::json;

namespace {

constexpr auto conv = "00000000-0000-4000-8000-000000000001";

struct chat_fixture : tandem_test::sim_fixture {
  fake_chat_store store;
  /// Frames pushed to each user, parsed, in arrival order.
  std::map<std::string, std::vector<json>> pushed;
  persistence::chat_db db;
  caf::actor pushes;
  persistence::message_writer_actor writer;
  conversation_registry_actor registry;
  std::shared_ptr<persistence::message_writer_counters> counters
    = std::make_shared<persistence::message_writer_counters>();
  std::shared_ptr<registry_counters> actors = std::make_shared<registry_counters>();

  /// `node`: the node this one is in a cluster, whose conversation actors claim.
  explicit chat_fixture(std::optional<node_identity> node = std::nullopt) {
    store.members[conv] = {"ann", "bob", "cid"};
    db = sys.spawn(fake_chat_db, &store);
    pushes = sys.spawn([this](caf::event_based_actor*) -> caf::behavior {
      return {
        [this](atom::push, const std::string& user, const ws_push& p) {
          pushed[user].push_back(json::parse(p.frame->text));
        },
        [this](atom::fanout, const std::vector<std::string>& users, const ws_push& p) {
          for (const auto& user : users)
            pushed[user].push_back(json::parse(p.frame->text));
        },
      };
    });
    persistence::message_writer_settings ws;
    ws.commit_delay = 2ms;
    ws.commit_batch = 4;
    writer = persistence::spawn_message_writer(sys, db, ws, counters);
    chat_settings settings;
    settings.ring_size = 3;
    settings.conversations_per_hour = 3600;  // one a second
    settings.conversations_burst = 2;
    settings.cluster_node = std::move(node);
    registry = spawn_conversation_registry(sys, db, writer,
                                           caf::actor_cast<user_registry_actor>(pushes), settings,
                                           actors);
    sched.run();
  }

  ~chat_fixture() {
    for (auto a : {caf::actor_cast<caf::actor>(registry), caf::actor_cast<caf::actor>(writer),
                   caf::actor_cast<caf::actor>(db), pushes})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  template <class T, class... Ts>
  std::shared_ptr<reply<T>> send(Ts... xs) {
    return tandem_test::request_from<T>(sys, registry, xs...);
  }

  std::shared_ptr<reply<chat_message>> message(const std::string& sender, const std::string& temp,
                                               const std::string& content = "hi") {
    return send<chat_message>(atom::send_message_v, std::string{conv}, sender, temp, content);
  }

  /// Runs what is ready and the writer's commit, and no later timer (the actor's idle
  /// tick): the actor stays.
  void commit() {
    sched.run();
    sched.trigger_timeout();
    sched.run();
  }

  std::vector<int64_t> seqs_pushed_to(const std::string& user, const char* type = "new-message") {
    std::vector<int64_t> out;
    for (const auto& f : pushed[user])
      if (f["type"] == type)
        out.push_back(f["seq"].get<int64_t>());
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(chat_fixture,
                 "concurrent senders get consecutive seqs, delivered in order to every member",
                 "[chat]") {
  std::vector<std::shared_ptr<reply<chat_message>>> sent;
  for (int i = 0; i < 3; ++i) {
    sent.push_back(message("ann", "a" + std::to_string(i)));
    sent.push_back(message("bob", "b" + std::to_string(i)));
  }
  settle();
  std::vector<int64_t> seqs;
  for (const auto& r : sent) {
    REQUIRE(r->value);
    seqs.push_back(r->value->seq);
  }
  std::sort(seqs.begin(), seqs.end());
  CHECK(seqs == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  for (const char* member : {"ann", "bob", "cid"})
    CHECK(seqs_pushed_to(member) == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  CHECK(store.messages.size() == 6);
}

TEST_CASE_METHOD(chat_fixture, "a repeated tempMessageId returns the original, stored once",
                 "[chat]") {
  auto first = message("ann", "t1", "hello");
  settle();
  auto again = message("ann", "t1", "hello");
  settle();
  REQUIRE(first->value);
  REQUIRE(again->value);
  CHECK(again->value->message_id == first->value->message_id);
  CHECK(again->value->seq == 1);
  CHECK(store.messages.size() == 1);
  CHECK(seqs_pushed_to("ann") == std::vector<int64_t>{1, 1});  // the sender sees it again
  CHECK(seqs_pushed_to("bob") == std::vector<int64_t>{1});
  SECTION("another sender's same tempMessageId is another message") {
    auto other = message("bob", "t1", "hello");
    settle();
    REQUIRE(other->value);
    CHECK(other->value->seq == 2);
  }
}

TEST_CASE_METHOD(chat_fixture,
                 "a tempMessageId older than the ring still returns the original, stored once",
                 "[chat]") {
  auto first = message("ann", "old", "first");
  settle();
  for (int i = 1; i <= 4; ++i)  // ring_size is 3: "old" leaves the ring
    message("bob", "b" + std::to_string(i));
  settle();
  auto again = message("ann", "old", "first");
  settle();
  REQUIRE(first->value);
  REQUIRE(again->value);
  CHECK(again->value->message_id == first->value->message_id);
  CHECK(again->value->seq == 1);
  CHECK(store.messages.size() == 5);
  CHECK(seqs_pushed_to("ann").back() == 1);  // the original, again, to the sender
  // The seq the skipped row would have had is free for the next message.
  auto next = message("cid", "c1");
  settle();
  REQUIRE(next->value);
  CHECK(next->value->seq == 6);
}

TEST_CASE_METHOD(chat_fixture,
                 "a resend of a message loaded with the conversation is answered from the ring",
                 "[chat]") {
  store.messages.push_back({conv, 1, "m-1", "ann", "loaded", "2026-12-07T00:00:00.000Z", "t0"});
  store.messages.push_back({conv, 2, "m-2", "bob", "loaded too", "2026-12-07T00:00:01.000Z", "t0"});
  auto again = message("ann", "t0", "loaded");
  settle();
  REQUIRE(again->value);
  CHECK(again->value->message_id == "m-1");
  CHECK(again->value->seq == 1);
  // Found in the ring: nothing went to the writer, nothing was looked up.
  CHECK(counters->messages == 0);
  CHECK(store.batches.empty());
  CHECK(seqs_pushed_to("ann") == std::vector<int64_t>{1});
  CHECK(seqs_pushed_to("bob").empty());
}

TEST_CASE_METHOD(chat_fixture, "non-members can neither send, read nor type", "[chat]") {
  auto sent = message("eve", "t1");
  auto read = send<int64_t>(atom::mark_read_v, std::string{conv}, std::string{"eve"});
  auto typed = send<bool>(atom::typing_v, std::string{conv}, std::string{"eve"});
  settle();
  CHECK(sent->code() == errc::forbidden);
  CHECK(read->code() == errc::forbidden);
  CHECK(typed->code() == errc::forbidden);
  CHECK(store.messages.empty());
  CHECK(pushed.empty());
}

TEST_CASE_METHOD(chat_fixture, "reading moves the cursor and tells the reader and the others",
                 "[chat]") {
  message("ann", "t1");
  message("ann", "t2");
  settle();
  auto read = send<int64_t>(atom::mark_read_v, std::string{conv}, std::string{"bob"});
  settle();
  REQUIRE(read->value == 2);
  CHECK((store.cursors[{conv, "bob"}]) == 2);
  CHECK((store.cursors[{conv, "ann"}]) == 2);  // a sender has read their own message
  CHECK((store.cursors[{conv, "cid"}]) == 0);
  auto own = pushed["bob"].back();
  CHECK(own == json{{"type", "read-messages"}, {"conversationId", conv}, {"userId", "bob"}});
  CHECK(seqs_pushed_to("ann", "read-receipt") == std::vector<int64_t>{2});
  CHECK(seqs_pushed_to("cid", "read-receipt") == std::vector<int64_t>{2});
  CHECK(seqs_pushed_to("bob", "read-receipt").empty());
}

TEST_CASE_METHOD(chat_fixture,
                 "a read with nothing new writes nothing and tells no one, even when repeated "
                 "before the first is stored",
                 "[chat]") {
  message("ann", "t1");
  message("ann", "t2");
  settle();
  auto read_n = [&](int n) {
    std::vector<std::shared_ptr<reply<int64_t>>> out;
    for (int i = 0; i < n; ++i)
      out.push_back(send<int64_t>(atom::mark_read_v, std::string{conv}, std::string{"bob"}));
    settle();
    for (const auto& r : out)
      CHECK(r->value == out.front()->value);
    return out.front()->value;
  };
  auto count = [&](const std::string& user, const char* type) {
    return std::count_if(pushed[user].begin(), pushed[user].end(),
                         [type](const json& f) { return f["type"] == type; });
  };
  CHECK(read_n(15) == 2);  // all sent before the first write is answered
  CHECK(read_n(15) == 2);  // the cursor is already there
  CHECK(store.cursor_writes == 1);
  CHECK(count("bob", "read-messages") == 1);
  CHECK(count("ann", "read-receipt") == 1);
  CHECK(count("cid", "read-receipt") == 1);
  SECTION("a new message makes the next read move the cursor again") {
    message("cid", "c1");
    settle();
    CHECK(read_n(3) == 3);
    CHECK(store.cursor_writes == 2);
    CHECK(count("bob", "read-messages") == 2);
    CHECK(seqs_pushed_to("ann", "read-receipt") == std::vector<int64_t>{2, 3});
  }
  SECTION("the sender's own message leaves nothing to read") {
    message("bob", "b1");
    settle();
    CHECK(read_n(1) == 3);
    CHECK(store.cursor_writes == 1);
  }
}

TEST_CASE_METHOD(chat_fixture, "typing reaches the other members and is never stored", "[chat]") {
  auto typed = send<bool>(atom::typing_v, std::string{conv}, std::string{"ann"});
  settle();
  CHECK(typed->value == true);
  CHECK(pushed["bob"].size() == 1);
  CHECK(pushed["bob"][0]["type"] == "typing");
  CHECK(pushed["ann"].empty());
  CHECK(store.messages.empty());
}

TEST_CASE_METHOD(chat_fixture, "replay comes from the ring when it covers the gap, else the database",
                 "[chat]") {
  for (int i = 1; i <= 5; ++i)
    message("ann", "t" + std::to_string(i));
  settle();
  auto recent = send<std::vector<chat_message>>(atom::messages_after_v, std::string{conv},
                                                std::string{"bob"}, int64_t{2}, int32_t{100});
  settle();
  REQUIRE(recent->value);
  CHECK(recent->value->size() == 3);  // seq 3, 4, 5: the whole ring
  CHECK(store.page_queries == 0);
  auto older = send<std::vector<chat_message>>(atom::messages_after_v, std::string{conv},
                                               std::string{"bob"}, int64_t{0}, int32_t{100});
  settle();
  REQUIRE(older->value);
  REQUIRE(older->value->size() == 5);
  CHECK(older->value->front().seq == 1);
  CHECK(store.page_queries == 1);
}

TEST_CASE_METHOD(chat_fixture, "a failed commit leaves no visible message and no gap", "[chat]") {
  store.fail_next_insert = caf::make_error(errc::db_unavailable);
  auto failed = message("ann", "t1");
  settle();
  CHECK(failed->code() == errc::db_unavailable);
  CHECK(store.messages.empty());
  CHECK(pushed.empty());
  auto next = message("ann", "t2");
  settle();
  REQUIRE(next->value);
  CHECK(next->value->seq == 1);
  CHECK(seqs_pushed_to("bob") == std::vector<int64_t>{1});
}

TEST_CASE_METHOD(chat_fixture,
                 "after a commit whose reply was lost, replay comes from the database until "
                 "a send reloads the conversation",
                 "[chat]") {
  message("ann", "t1");
  commit();
  store.lose_next_reply = caf::make_error(errc::db_unavailable);
  auto lost = message("ann", "t2");
  commit();
  CHECK(lost->code() == errc::db_unavailable);
  REQUIRE(store.messages.size() == 2);  // committed all the same
  CHECK(store.loads == 1);              // the same actor answers the replay
  auto replay = send<std::vector<chat_message>>(atom::messages_after_v, std::string{conv},
                                                std::string{"bob"}, int64_t{1}, int32_t{100});
  sched.run();
  REQUIRE(replay->value);
  REQUIRE(replay->value->size() == 1);
  CHECK(replay->value->front().seq == 2);
  CHECK(store.page_queries == 1);
  CHECK(store.loads == 1);
  auto next = message("ann", "t3");
  settle();
  REQUIRE(next->value);
  CHECK(next->value->seq == 3);
}

TEST_CASE_METHOD(chat_fixture, "the writer commits what several conversations send together",
                 "[chat]") {
  for (int c = 2; c <= 7; ++c) {
    auto id = "00000000-0000-4000-8000-00000000000" + std::to_string(c);
    store.members[id] = {"ann", "bob"};
    send<chat_message>(atom::send_message_v, id, std::string{"ann"}, std::string{"t"},
                       std::string{"hi"});
  }
  settle();
  CHECK(store.messages.size() == 6);
  // commit_batch is 4: a full batch at once, the rest together after it.
  CHECK(store.batches == std::vector<std::size_t>{4, 2});
  CHECK(counters->largest_batch == 4);
}

TEST_CASE_METHOD(chat_fixture,
                 "new conversations take from a per-user budget that refills with time",
                 "[chat]") {
  auto take = [&](const char* user) {
    auto r = send<bool>(atom::create_conversation_v, std::string{user});
    sched.run();
    return r;
  };
  auto retry_after = [](const reply<bool>& r) {
    REQUIRE(r.code() == errc::rate_limited);
    const auto& ctx = r.error->context();
    REQUIRE(ctx.match_element<int64_t>(1));
    return ctx.get_as<int64_t>(1);
  };
  CHECK(take("ann")->value == true);
  CHECK(take("ann")->value == true);  // the burst
  CHECK(retry_after(*take("ann")) == 1);
  CHECK(take("bob")->value == true);  // budgets are per user
  sched.clock().current_time += 500ms;
  CHECK(retry_after(*take("ann")) == 1);  // half a token back: still refused, rounded up
  sched.clock().current_time += 500ms;
  CHECK(take("ann")->value == true);
  CHECK(take("ann")->code() == errc::rate_limited);
  // Sending messages draws on a budget of its own.
  auto sent = message("ann", "t1");
  settle();
  CHECK(sent->value);
}

TEST_CASE_METHOD(chat_fixture,
                 "an idle report that is not from the conversation's actor leaves the actor be",
                 "[chat]") {
  auto type = [&](const char* user) {
    auto typed = send<bool>(atom::typing_v, std::string{conv}, std::string{user});
    sched.run();  // no timer fires: the actor stays
    REQUIRE(typed->value == true);
  };
  type("ann");
  REQUIRE(store.loads == 1);
  // The count the registry routed, but from someone else (a stale or foreign actor).
  caf::anon_send(registry, atom::idle_v, std::string{conv}, uint64_t{1});
  sched.run();
  type("bob");
  CHECK(store.loads == 1);
  CHECK(pushed["ann"].size() == 1);
}

TEST_CASE_METHOD(chat_fixture,
                 "the registry counts the conversation actors it spawned, routed to and "
                 "passivated",
                 "[chat]") {
  send<bool>(atom::typing_v, std::string{conv}, std::string{"ann"});
  send<bool>(atom::typing_v, std::string{conv}, std::string{"bob"});
  sched.run();
  CHECK(actors->live == 1);
  CHECK(actors->spawned == 1);
  CHECK(actors->routed == 2);
  CHECK(actors->passivated == 0);
  settle();  // the idle timer fires with nothing in flight: the actor goes
  CHECK(actors->live == 0);
  CHECK(actors->passivated == 1);
  auto next = message("cid", "c1");
  sched.run();
  CHECK(actors->live == 1);
  CHECK(actors->spawned == 2);
  CHECK(actors->routed == 3);
  CHECK(actors->died == 0);
  settle();
  CHECK(next->value);
}

// -- in a cluster: claims, fencing, release (docs/cluster.md, Ownership) --------------------

namespace {

const node_identity node_a{"node-a", 1};
const node_identity node_b{"node-b", 2};

struct cluster_chat_fixture : chat_fixture {
  cluster_chat_fixture() : chat_fixture(node_a) {}

  /// Node b takes the conversation over, as its claim after node a's lease would.
  void take_over() {
    auto& o = store.owners.owners[conv];
    o.node = node_b;
    ++o.epoch;
    store.owners.live[node_b.id] = node_b.incarnation;
  }
};

} // namespace

TEST_CASE_METHOD(cluster_chat_fixture,
                 "in a cluster a conversation actor claims its conversation before loading it "
                 "and releases it when it goes",
                 "[chat][cluster]") {
  auto sent = message("ann", "t1");
  commit();
  REQUIRE(sent->value);
  CHECK(sent->value->seq == 1);
  REQUIRE(store.owners.owners.count(conv) == 1);
  CHECK(store.owners.owners[conv].node == node_a);
  CHECK(store.owners.owners[conv].epoch == 1);
  CHECK(store.messages.size() == 1);
  CHECK(actors->live == 1);
  settle();  // idle: passivated, and the claim released for the next owner
  CHECK(actors->passivated == 1);
  CHECK(store.owners.owners[conv].node.id.empty());
  CHECK(store.owners.claims == 1);
  auto again = message("bob", "t2");
  settle();
  REQUIRE(again->value);
  CHECK(again->value->seq == 2);
  CHECK(store.owners.claims == 2);
}

TEST_CASE_METHOD(cluster_chat_fixture,
                 "in a cluster a conversation another live node owns is answered errc::moved "
                 "and its actor goes",
                 "[chat][cluster]") {
  store.owners.owners[conv] = {node_b, 4};
  store.owners.live[node_b.id] = node_b.incarnation;
  auto sent = message("ann", "t1");
  auto read = send<int64_t>(atom::mark_read_v, std::string{conv}, std::string{"bob"});
  sched.run();
  CHECK(sent->code() == errc::moved);
  CHECK(read->code() == errc::moved);
  CHECK(store.loads == 0);  // not loaded: it is not this node's
  CHECK(store.messages.empty());
  CHECK(actors->live == 0);
  CHECK(store.owners.owners[conv].node == node_b);  // nothing released that was not its own
  SECTION("once that node's lease ended, the next activation takes it over") {
    store.owners.live.clear();
    auto retried = message("ann", "t1");
    settle();
    REQUIRE(retried->value);
    CHECK(retried->value->seq == 1);
    CHECK(store.owners.claims == 2);
  }
}

TEST_CASE_METHOD(cluster_chat_fixture,
                 "a fenced conversation actor stops, its waiting senders get errc::moved, and "
                 "nothing it sends after the takeover is stored",
                 "[chat][cluster]") {
  auto first = message("ann", "t1");
  commit();
  REQUIRE(first->value);
  take_over();
  auto stale = message("ann", "t2");
  auto queued = message("bob", "t3");
  commit();
  CHECK(stale->code() == errc::moved);
  CHECK(queued->code() == errc::moved);
  CHECK(store.messages.size() == 1);
  CHECK(seqs_pushed_to("bob") == std::vector<int64_t>{1});  // no frame of a fenced send
  CHECK(actors->live == 0);
  CHECK(store.owners.owners[conv].node == node_b);  // a fenced actor releases nothing
  auto later = message("cid", "c1");
  sched.run();
  CHECK(later->code() == errc::moved);  // a new actor, refused by node b's live claim
  CHECK(store.loads == 1);
}

TEST_CASE_METHOD(cluster_chat_fixture,
                 "a sweep releases the conversations this node owns without an actor here, "
                 "and keeps the one whose actor lives",
                 "[chat][cluster]") {
  auto sent = message("ann", "t1");
  commit();
  REQUIRE(sent->value);
  const std::string lost = "00000000-0000-4000-8000-000000000002";
  store.owners.owners[lost] = {node_a, 5};  // its actor's release was lost
  caf::anon_send(registry, atom::sweep_keys_v, std::string{});
  sched.run();
  CHECK(store.owners.owners[lost].node.id.empty());
  CHECK(store.owners.owners[lost].epoch == 5);
  CHECK(store.owners.owners[conv].node == node_a);
  CHECK(actors->live == 1);
  SECTION("a release that fails is tried at the next sweep, not given up") {
    store.owners.owners[lost] = {node_a, 6};
    store.owners.failing_releases = 1;
    caf::anon_send(registry, atom::sweep_keys_v, std::string{});
    sched.run();
    CHECK(store.owners.owners[lost].node == node_a);
    caf::anon_send(registry, atom::sweep_keys_v, std::string{});
    sched.run();
    CHECK(store.owners.owners[lost].node.id.empty());
  }
}

TEST_CASE_METHOD(cluster_chat_fixture,
                 "in a cluster a resend is found before a seq is taken: no gap",
                 "[chat][cluster]") {
  auto first = message("ann", "old", "first");
  settle();
  for (int i = 1; i <= 4; ++i)  // ring_size is 3: "old" leaves the ring
    message("bob", "b" + std::to_string(i));
  settle();
  auto again = message("ann", "old", "first");
  auto next = message("cid", "c1");
  settle();
  REQUIRE(first->value);
  REQUIRE(again->value);
  CHECK(again->value->message_id == first->value->message_id);
  REQUIRE(next->value);
  CHECK(next->value->seq == 6);
  std::vector<int64_t> seqs;
  for (const auto& m : store.messages)
    seqs.push_back(m.seq);
  CHECK(seqs == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
}
