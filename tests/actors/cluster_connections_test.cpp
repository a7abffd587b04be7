// Connections on other nodes, in virtual time: two connection directories in one actor
// system stand for nodes A and B, every user's actor lives on B (its registry runs in
// cluster mode), and what goes from one "node" to the other passes through a
// forwarding actor that stands for the bus and counts any actor handle it would carry.
// Sockets are `recording_link`s.
#include "actors/connection_directory.hpp"

#include "tests/support/recording_link.hpp"
#include "tests/support/users_fixture.hpp"

#include <nlohmann/json.hpp>

using namespace tandem_test;
using json = nlohmann::json;

namespace {

const node_identity node_a{"a", 11};
const node_identity node_b{"b", 22};

/// Whether `msg` holds an actor handle (which no message between nodes may).
bool holds_handle(const caf::message& msg) {
  for (size_t i = 0; i < msg.size(); ++i)
    if (msg.match_element<caf::actor>(i) || msg.match_element<caf::strong_actor_ptr>(i)
        || msg.match_element<caf::actor_addr>(i))
      return true;
  return false;
}

/// One socket and its connection actor.
struct socket_end {
  std::shared_ptr<recording_link> link = std::make_shared<recording_link>();
  connection_actor actor;

  std::vector<json> of_type(const std::string& type) const {
    std::vector<json> out;
    for (const auto& f : link->frames())
      if (f.at("type") == type)
        out.push_back(f);
    return out;
  }
};

struct cluster_fixture : users_fixture {
  std::shared_ptr<connection_directory_counters> counters_a
    = std::make_shared<connection_directory_counters>();
  std::shared_ptr<connection_directory_counters> counters_b
    = std::make_shared<connection_directory_counters>();
  connection_directory_actor dir_a;
  connection_directory_actor dir_b;
  /// The user registry of node B, home of every user here.
  user_registry_actor home;
  /// Where node A's connections send what is for their user: the "bus" toward the
  /// registry of the user's home (what placement does on a real node A).
  std::shared_ptr<caf::actor> route_from_a = std::make_shared<caf::actor>();
  caf::actor to_home;
  /// Actor handles the "bus" was asked to carry.
  std::shared_ptr<int> handles_across = std::make_shared<int>(0);
  std::vector<caf::actor> helpers;
  std::vector<std::shared_ptr<socket_end>> sockets;

  cluster_fixture() {
    auto proxy = [this](const node_identity& node) {
      return node == node_a   ? cross_node(dir_a)
             : node == node_b ? cross_node(dir_b)
                              : caf::actor{};
    };
    dir_a = spawn_connection_directory(sys, node_a, proxy, counters_a);
    dir_b = spawn_connection_directory(sys, node_b, proxy, counters_b);
    auto s = settings();
    s.cluster = {dir_b, node_b};
    home = spawn_user_registry(sys, db, s);
    *route_from_a = caf::actor_cast<caf::actor>(home);
    to_home = cross_node(route_from_a);
    sched.run();
  }

  ~cluster_fixture() {
    for (const auto& s : sockets)
      caf::anon_send_exit(s->actor, caf::exit_reason::user_shutdown);
    sched.run();
    for (const auto& h : helpers)
      caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    for (auto h : {caf::actor_cast<caf::actor>(home), caf::actor_cast<caf::actor>(dir_a),
                   caf::actor_cast<caf::actor>(dir_b)})
      caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// A stand-in for the bus toward `*target`: forwards anything, requests included,
  /// and counts messages that hold an actor handle.
  caf::actor cross_node(std::shared_ptr<caf::actor> target) {
    auto counted = handles_across;
    auto fwd = sys.spawn([target, counted](caf::event_based_actor* self) -> caf::behavior {
      self->set_default_handler(
        [target, counted](caf::scheduled_actor* s,
                          caf::message_view& view) -> caf::result<caf::message> {
          auto msg = view.move_content_to_message();
          if (holds_handle(msg))
            ++*counted;
          return s->delegate(*target, std::move(msg));
        });
      return {[](atom::ping) {}}; // everything else takes the default handler
    });
    helpers.push_back(fwd);
    return fwd;
  }

  template <class Handle>
  caf::actor cross_node(const Handle& target) {
    return cross_node(std::make_shared<caf::actor>(caf::actor_cast<caf::actor>(target)));
  }

  /// A request to node B's registry, run until nothing is left to do.
  template <class T, class... Ts>
  reply<T> ask_home(Ts... xs) {
    auto out = request_from<T>(sys, home, xs...);
    sched.run();
    return *out;
  }

  void befriend(const std::string& a, const std::string& b) {
    REQUIRE(ask_home<bool>(atom::write_friendship_v, friendship_command{friendship_op::request, a, b})
              .value == true);
    REQUIRE(ask_home<bool>(atom::write_friendship_v, friendship_command{friendship_op::accept, b, a})
              .value == true);
  }

  /// Opens a WebSocket of `user` on node A (its user actor is on B) or on node B.
  std::shared_ptr<socket_end> connect(const std::string& user, const node_identity& node,
                                      const std::string& session = "s1") {
    auto end = std::make_shared<socket_end>();
    bool on_a = node == node_a;
    auto registry = on_a ? caf::actor_cast<user_registry_actor>(to_home) : home;
    connection_params params{user, event_kind::all, registry, settings().gateway, 5s, {}, 1000,
                             session, 0, nullptr, nullptr,
                             cluster_link{on_a ? dir_a : dir_b, node}};
    end->actor = sys.spawn(connection_impl, std::move(params), std::shared_ptr<ws_link>{end->link});
    sockets.push_back(end);
    sched.run();
    if (end->link->accepted) {
      caf::anon_send(end->actor, atom::websocket_opened_v);
      sched.run();
    }
    return end;
  }

  void frame(const socket_end& end, const std::string& text) {
    caf::anon_send(end.actor, atom::websocket_frame_v, text);
    sched.run();
  }

  /// The socket closed (after the actor asked, or the peer went).
  void socket_closed(const socket_end& end) {
    caf::anon_send(end.actor, atom::websocket_closed_v);
    sched.run();
  }

  /// Every batch the link got was written: the next one goes out.
  void written(const socket_end& end) {
    caf::anon_send(end.actor, atom::websocket_sent_v);
    sched.run();
  }

  void update(const socket_end& end, const std::string& url) {
    frame(end, json{{"action", "update-presence"}, {"url", url}, {"title", "T"}}.dump());
  }

  presence_state presence(const std::string& user) {
    auto r = ask_home<presence_state>(atom::presence_of_v, user);
    REQUIRE(r.value);
    return *r.value;
  }

  connection_ref ref_of(const socket_end& end, const node_identity& node) const {
    return {node, end.actor.id()};
  }
};

} // namespace

TEST_CASE_METHOD(cluster_fixture,
                 "a connection on another node than its user's actor gets pushes and sends "
                 "presence, through the directories and nothing but values",
                 "[cluster][connections]") {
  store.users.at("ann").sharing = share_mode::default_all;
  store.users.at("bob").sharing = share_mode::default_all;
  befriend("ann", "bob");
  auto ann = connect("ann", node_a);
  auto bob = connect("bob", node_b);
  REQUIRE(ann->link->accepted);
  REQUIRE(bob->link->accepted);
  CHECK(counters_a->registered == 1);
  CHECK(counters_b->registered == 1);

  update(*ann, "https://example.org/a");
  // Ann's own socket on A gets her update through B's directory and A's.
  auto own = ann->of_type("update-presence");
  REQUIRE(own.size() == 1);
  CHECK(own[0]["userId"] == "ann");
  CHECK(own[0]["url"] == "https://example.org/a");
  CHECK(counters_b->forwarded == 1);
  CHECK(counters_a->delivered == 1);
  // Bob's socket on B, local to the user actors, gets it directly (no directory).
  auto seen = bob->of_type("update-presence");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0]["userId"] == "ann");
  CHECK(counters_b->delivered == 0);
  CHECK(presence("ann").page);

  // And the other way: bob's update reaches ann's socket on A.
  written(*ann);
  update(*bob, "https://example.org/b");
  auto from_bob = ann->of_type("update-presence");
  REQUIRE(from_bob.size() == 2);
  CHECK(from_bob[1]["userId"] == "bob");
  CHECK(counters_b->forwarded == 2);

  // Heartbeats and budgets from A are the user's; nothing closed, no handle crossed.
  frame(*ann, R"({"action":"heartbeat"})");
  CHECK(ask_home<bool>(atom::budget_v, std::string{"ann"}, ref_of(*ann, node_a),
                       flood_budget::typing)
          .value
        == true);
  CHECK_FALSE(ann->link->closed);
  CHECK(*handles_across == 0);
}

TEST_CASE_METHOD(cluster_fixture,
                 "past ws.max_connections the oldest socket closes though it is on another node, "
                 "and the newest is seated once it has",
                 "[cluster][connections]") {
  auto first = connect("ann", node_a);
  auto second = connect("ann", node_b);
  REQUIRE(first->link->accepted);
  REQUIRE(second->link->accepted);
  auto third = connect("ann", node_a);
  CHECK(first->link->closed == close_code::replaced);
  CHECK_FALSE(second->link->closed);
  CHECK_FALSE(third->link->accepted);  // waits for the seat of the first
  socket_closed(*first);               // its actor ends and tells ann's actor
  CHECK(third->link->accepted);
  CHECK(counters_a->registered == 1);
  CHECK_FALSE(second->link->closed);
  CHECK_FALSE(third->link->closed);
  CHECK(*handles_across == 0);
}

TEST_CASE_METHOD(cluster_fixture, "the end of a session closes its sockets on other nodes only",
                 "[cluster][connections]") {
  auto mine = connect("ann", node_a, "s1");
  auto theirs = connect("ann", node_a, "s2");
  REQUIRE(mine->link->accepted);
  REQUIRE(theirs->link->accepted);
  caf::anon_send(home, atom::session_end_v, std::string{"ann"}, std::string{"s1"});
  sched.run();
  CHECK(mine->link->closed == close_code::session_ended);
  CHECK_FALSE(theirs->link->closed);
}

TEST_CASE_METHOD(cluster_fixture,
                 "a node leaving drops its connections: the user goes offline without another",
                 "[cluster][connections]") {
  store.users.at("ann").sharing = share_mode::default_all;
  befriend("ann", "bob");
  auto bob = connect("bob", node_b);
  auto ann_a = connect("ann", node_a);
  update(*ann_a, "https://example.org/");
  REQUIRE(presence("ann").page);
  written(*bob); // bob's socket wrote ann's update: what follows goes out at once
  SECTION("her only socket was on the node that left") {
    caf::anon_send(home, atom::node_gone_v, node_a);
    sched.run();
    CHECK_FALSE(presence("ann").page);
    auto gone = bob->of_type("presence-timeout");
    REQUIRE(gone.size() == 1);
    CHECK(gone[0]["userId"] == "ann");
    // Her seat is free again: two new sockets on B fit.
    auto x = connect("ann", node_b);
    auto y = connect("ann", node_b);
    CHECK(x->link->accepted);
    CHECK(y->link->accepted);
    CHECK_FALSE(x->link->closed);
  }
  SECTION("a socket on a node that stays keeps her online") {
    connect("ann", node_b);
    caf::anon_send(home, atom::node_gone_v, node_a);
    sched.run();
    CHECK(presence("ann").page);
    CHECK(bob->of_type("presence-timeout").empty());
  }
  SECTION("another run of the node is not that node") {
    caf::anon_send(home, atom::node_gone_v, node_identity{node_a.id, node_a.incarnation + 1});
    sched.run();
    CHECK(presence("ann").page);
  }
}

TEST_CASE_METHOD(cluster_fixture,
                 "a socket whose user actor's node leaves closes, so that its client reconnects",
                 "[cluster][connections]") {
  auto ann = connect("ann", node_a);
  REQUIRE(ann->link->accepted);
  caf::anon_send(dir_a, atom::node_gone_v, node_identity{"c", 33});
  sched.run();
  CHECK_FALSE(ann->link->closed);
  caf::anon_send(dir_a, atom::node_gone_v, node_b);
  sched.run();
  CHECK(ann->link->closed == close_code::internal_error);
}

TEST_CASE_METHOD(cluster_fixture,
                 "messages for an ended connection or an old run of the node are dropped, counted",
                 "[cluster][connections]") {
  auto ann = connect("ann", node_a);
  REQUIRE(ann->link->accepted);
  auto push = make_push(event_kind::social, R"({"type":"x"})");
  auto old_run = ref_of(*ann, node_identity{node_a.id, node_a.incarnation - 1});
  caf::anon_send(dir_a, atom::push_v, old_run, push);
  caf::anon_send(dir_a, atom::push_v, connection_ref{node_a, ann->actor.id() + 1000}, push);
  sched.run();
  CHECK(counters_a->dropped == 2);
  CHECK(ann->link->frames().empty());
  // From B, the same ref reaches it.
  caf::anon_send(dir_b, atom::push_v, ref_of(*ann, node_a), push);
  sched.run();
  CHECK(ann->link->frames().size() == 1);
  socket_closed(*ann);
  CHECK(counters_a->registered == 0);
  caf::anon_send(dir_b, atom::push_v, ref_of(*ann, node_a), push);
  sched.run();
  CHECK(counters_a->dropped == 3);
}

TEST_CASE_METHOD(cluster_fixture,
                 "a user actor that does not know a connection (its home moved) has it reconnect",
                 "[cluster][connections]") {
  auto ann = connect("ann", node_a);
  REQUIRE(ann->link->accepted);
  // The user's home moves to node C: a fresh registry and actor there, which never
  // seated this socket.
  const node_identity node_c{"c", 33};
  auto counters_c = std::make_shared<connection_directory_counters>();
  auto dir_c = spawn_connection_directory(
    sys, node_c,
    [this](const node_identity& node) {
      return node == node_a ? cross_node(dir_a) : caf::actor{};
    },
    counters_c);
  auto s = settings();
  s.cluster = {dir_c, node_c};
  auto new_home = spawn_user_registry(sys, db, s);
  *route_from_a = caf::actor_cast<caf::actor>(new_home);
  frame(*ann, R"({"action":"heartbeat"})");
  CHECK(ann->link->closed == close_code::internal_error);
  CHECK(counters_c->forwarded == 1);
  // A budget asked by an unknown connection is refused as well.
  auto r = request_from<bool>(sys, new_home, atom::budget_v, std::string{"ann"},
                              connection_ref{node_a, 424242}, flood_budget::typing);
  sched.run();
  CHECK(r->value == false);
  caf::anon_send_exit(new_home, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(dir_c, caf::exit_reason::user_shutdown);
  sched.run();
}
