// The membership actor under CAF's deterministic scheduler, on the fake lease store
// (kept honest by tests/persistence/lease_contract.hpp) and virtual time: it renews at
// once and then every renew interval, publishes each change of the live set, fences
// itself exactly fence_after after the last renewal that succeeded (once), comes back
// after the next one, and drains by deleting its row.
#include "cluster/membership.hpp"

#include "tests/support/fake_lease_db.hpp"
#include "tests/support/sim_fixture.hpp" // last: defines expect, _ and friends

using namespace tandem_test;
using tandem::cluster::membership_actor;
using tandem::cluster::membership_board;
using tandem::cluster::membership_hooks;
using tandem::cluster::membership_settings;
using tandem::cluster::membership_view;

namespace {

struct membership_fixture : sim_fixture {
  fake_lease_store store;
  fake_lease_actor db = sys.spawn(fake_lease_db, &store);
  node_identity self{"a", 11};
  std::shared_ptr<membership_board> board = std::make_shared<membership_board>(self);
  int fences = 0;
  int unfences = 0;
  std::vector<uint64_t> versions; ///< of every view handed to on_view
  membership_actor member;
  caf::actor_clock::time_point start = sched.clock().now();

  membership_fixture() {
    membership_settings settings;
    settings.self = self;
    settings.address = "http://a:8080";
    settings.lease = 5000ms;
    settings.renew_interval = 1000ms;
    settings.fence_after = 3500ms;
    membership_hooks hooks;
    hooks.on_fence.emplace_back([this] { ++fences; });
    hooks.on_unfence.emplace_back([this] { ++unfences; });
    hooks.on_view.emplace_back(
      [this](const std::shared_ptr<const membership_view>& v) { versions.push_back(v->version); });
    member = tandem::cluster::spawn_membership(sys, db, settings, board, std::move(hooks));
    sched.run();
  }

  ~membership_fixture() {
    caf::anon_send_exit(member, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(db, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Moves virtual time on to `ms` after the start, 100 ms at a time, running
  /// everything due on the way.
  void run_until(int ms) {
    auto until = start + std::chrono::milliseconds{ms};
    while (sched.clock().now() < until) {
      sched.clock().advance_time(100ms);
      sched.run();
    }
  }

  /// Answers the stalled renewals now.
  void release() {
    caf::anon_send(db, atom::flush_v);
    sched.run();
  }

  std::shared_ptr<const membership_view> view() const {
    return board->view();
  }

  std::vector<std::string> live() const {
    std::vector<std::string> out;
    for (const auto& n : view()->live)
      out.push_back(n.identity.id);
    return out;
  }

  /// Another node's row, live until `ms` after the start.
  void other_node(const std::string& id, int ms) {
    store.rows[id] = fake_lease_store::row{5, "http://" + id,
                                           start + std::chrono::milliseconds{ms}};
  }
};

using names = std::vector<std::string>;

} // namespace

TEST_CASE("the board starts fenced, with no live node", "[membership]") {
  membership_board board{node_identity{"a", 1}};
  auto v = board.view();
  CHECK(v->fenced);
  CHECK(v->live.empty());
  CHECK(v->version == 0);
  CHECK(v->self == node_identity{"a", 1});
}

TEST_CASE("the settings refuse a fence that could come after the lease's end",
          "[membership]") {
  config::cluster_config cfg;
  CHECK_NOTHROW(tandem::cluster::make_membership_settings(cfg, node_identity{"a", 1}, "x"));
  cfg.fence_after_ms = cfg.lease_ms;
  CHECK_THROWS_AS(tandem::cluster::make_membership_settings(cfg, node_identity{"a", 1}, "x"),
                  config::config_error);
  cfg.fence_after_ms = cfg.renew_interval_ms;
  CHECK_THROWS_AS(tandem::cluster::make_membership_settings(cfg, node_identity{"a", 1}, "x"),
                  config::config_error);
}

TEST_CASE_METHOD(membership_fixture,
                 "a member renews at once and every renew interval, and goes live",
                 "[membership]") {
  CHECK(store.renewals == 1);
  CHECK(store.rows.at("a").address == "http://a:8080");
  CHECK(store.rows.at("a").expires == start + 5000ms);
  CHECK_FALSE(view()->fenced);
  CHECK(view()->version == 1);
  CHECK(live() == names{"a"});
  CHECK(unfences == 1);
  CHECK(fences == 0);
  run_until(3000);
  CHECK(store.renewals == 4);
  CHECK(store.rows.at("a").expires == start + 8000ms);
  // Nothing changed: no new view.
  CHECK(view()->version == 1);
  CHECK(versions == std::vector<uint64_t>{1});
}

TEST_CASE_METHOD(membership_fixture, "the view follows nodes that join and whose lease ends",
                 "[membership]") {
  other_node("b", 2500);
  run_until(1000);
  CHECK(live() == names{"a", "b"});
  CHECK(view()->version == 2);
  run_until(2000);
  CHECK(live() == names{"a", "b"});
  // b's lease ends at 2500 unrenewed: the renewal at 3000 no longer sees it.
  run_until(3000);
  CHECK(live() == names{"a"});
  CHECK(view()->version == 3);
  CHECK(versions == std::vector<uint64_t>{1, 2, 3});
  CHECK(fences == 0);
}

TEST_CASE_METHOD(membership_fixture,
                 "a member whose renewals fail is fenced fence_after after the last success, "
                 "not before, and once",
                 "[membership]") {
  store.fail = caf::make_error(errc::db_unavailable, "down");
  run_until(3400);
  CHECK(store.renewals == 4); // at 0 (the last success), 1000, 2000 and 3000
  CHECK_FALSE(view()->fenced);
  CHECK(fences == 0);
  run_until(3500);
  CHECK(view()->fenced);
  CHECK(fences == 1);
  CHECK(view()->version == 2);
  run_until(10000);
  CHECK(fences == 1);
  CHECK(view()->version == 2);
  // It keeps trying, and the first renewal that succeeds brings it back.
  CHECK(store.renewals == 11);
  store.fail = caf::error{};
  run_until(11000);
  CHECK_FALSE(view()->fenced);
  CHECK(unfences == 2);
  CHECK(view()->version == 3);
  CHECK(fences == 1);
}

TEST_CASE_METHOD(membership_fixture,
                 "a member whose store stalls is fenced fence_after after the last success",
                 "[membership]") {
  store.stall = true;
  run_until(3400);
  CHECK_FALSE(view()->fenced);
  run_until(3500);
  CHECK(view()->fenced);
  CHECK(fences == 1);
  // One renewal waits at a time (sent at 1000, given up at 4500): the ticks in between add
  // none.
  CHECK(store.renewals == 1 + 1);
  store.stall = false;
  run_until(6000);
  CHECK_FALSE(view()->fenced);
  CHECK(unfences == 2);
}

TEST_CASE_METHOD(membership_fixture,
                 "a late renewal counts from when it was sent: it unfences within its own "
                 "deadline",
                 "[membership]") {
  store.stall = true;
  run_until(1000);
  REQUIRE(store.held.size() == 1); // sent at 1000: its lease holds until 6000
  run_until(3500);
  CHECK(view()->fenced); // the renewal of 0 ran out
  run_until(4400);
  store.stall = false;
  release();
  CHECK_FALSE(view()->fenced);
  CHECK(unfences == 2);
  // ... and it fences again at 1000 + 3500 unless a later one succeeds.
  store.fail = caf::make_error(errc::db_unavailable, "down");
  run_until(4400 + 100);
  CHECK(view()->fenced);
  CHECK(fences == 2);
}

TEST_CASE_METHOD(membership_fixture,
                 "leaving publishes a fenced view without this node and without the fence "
                 "callbacks, stops renewing, and keeps the row until it is dropped",
                 "[membership]") {
  run_until(100);
  auto listed = [&] {
    const auto& live = view()->live;
    return std::any_of(live.begin(), live.end(),
                       [&](const cluster_node& n) { return n.identity == self; });
  };
  REQUIRE(listed());
  auto left = request_from<bool>(sys, member, atom::leave_cluster_v);
  sched.run();
  REQUIRE(left->value);
  CHECK(*left->value);
  CHECK(view()->fenced);
  CHECK_FALSE(listed());
  CHECK(fences == 0);
  CHECK(store.rows.size() == 1);
  auto renewals = store.renewals;
  run_until(5000);
  CHECK(store.renewals == renewals);
  auto dropped = request_from<bool>(sys, member, atom::drop_lease_v);
  sched.run();
  REQUIRE(dropped->value);
  CHECK(*dropped->value);
  CHECK(store.rows.empty());
}

TEST_CASE_METHOD(membership_fixture,
                 "leaving waits for the renewal in flight, which would put the row back",
                 "[membership]") {
  store.stall = true;
  run_until(1000);
  REQUIRE(store.held.size() == 1);
  auto left = request_from<bool>(sys, member, atom::leave_cluster_v);
  sched.run();
  CHECK_FALSE(left->value);
  store.stall = false;
  release();
  REQUIRE(left->value);
  CHECK(*left->value);
  auto dropped = request_from<bool>(sys, member, atom::drop_lease_v);
  sched.run();
  REQUIRE(dropped->value);
  CHECK(store.rows.empty());
}

TEST_CASE_METHOD(membership_fixture, "a peer's news of a change renews at once",
                 "[membership]") {
  run_until(100);
  auto renewals = store.renewals;
  caf::anon_send(member, atom::membership_changed_v);
  sched.run();
  CHECK(store.renewals == renewals + 1);
}

TEST_CASE_METHOD(membership_fixture,
                 "a peer that announces its drain leaves placement at once and is gone once "
                 "its lease is",
                 "[membership]") {
  other_node("b", 60000);
  other_node("c", 60000);
  run_until(1000);
  REQUIRE(live() == names{"a", "b", "c"});
  auto b = node_identity{"b", 5};
  auto answer = request_from<bool>(sys, member, atom::membership_changed_v, b);
  sched.run();
  REQUIRE(answer->value);
  CHECK(*answer->value);
  CHECK(live() == names{"a", "c"});
  REQUIRE(view()->leaving.size() == 1);
  CHECK(view()->leaving.front().identity == b);
  // Its row is still there (the drain has not deleted it yet): renewals keep it out.
  run_until(3000);
  CHECK(live() == names{"a", "c"});
  CHECK(view()->leaving.size() == 1);
  // Announced twice (a retried request): no second entry.
  request_from<bool>(sys, member, atom::membership_changed_v, b);
  sched.run();
  CHECK(view()->leaving.size() == 1);
  // The row is deleted: gone, and nothing of it is kept.
  store.rows.erase("b");
  run_until(4000);
  CHECK(live() == names{"a", "c"});
  CHECK(view()->leaving.empty());
  // The same node id back as a new run is live again.
  store.rows["b"] = fake_lease_store::row{6, "http://b", start + 60000ms};
  run_until(5000);
  CHECK(live() == names{"a", "b", "c"});
  CHECK(view()->leaving.empty());
}

TEST_CASE_METHOD(membership_fixture,
                 "the announcement of a node this member does not know changes nothing",
                 "[membership]") {
  run_until(1000);
  auto version = view()->version;
  auto answer = request_from<bool>(sys, member, atom::membership_changed_v, node_identity{"z", 1});
  sched.run();
  REQUIRE(answer->value);
  CHECK(view()->version == version);
  CHECK(view()->leaving.empty());
}
