// External identities against the real PostgreSQL: the mapping (issuer, subject) ->
// Tandem user id of migration 0004, its race between nodes, and the cached map that
// the HTTP and WebSocket authentication use.
#include "auth/external_identities.hpp"
#include "persistence/db.hpp"
#include "persistence/identities_repo.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <future>
#include <thread>

using namespace tandem;
using namespace tandem::persistence;
using namespace std::chrono_literals;

namespace {

const std::string issuer = "https://cognito-idp.example/pool";

} // namespace

TEST_CASE("an external identity gets a minted user id, the same on every sight",
          "[identities]") {
  test::migrated_db db;
  auto id = identities::map_external(db.tx, issuer, "user-1");
  CHECK(id != "user-1");
  CHECK(id.size() == 36);
  CHECK(identities::map_external(db.tx, issuer, "user-1") == id);
  auto other_issuer = identities::map_external(db.tx, issuer + "/other", "user-1");
  auto other_subject = identities::map_external(db.tx, issuer, "user-2");
  CHECK(other_issuer != id);
  CHECK(other_subject != id);
  CHECK(other_subject != other_issuer);
}

TEST_CASE("two nodes that see a new identity at once get the one id committed first",
          "[identities]") {
  auto dsn = test::migrated_database();
  pqxx::connection first{dsn};
  pqxx::connection second{dsn};
  pqxx::connection observer{dsn};
  auto second_pid = std::to_string(second.backendpid());
  // Declared before the first transaction, so that a failed check aborts that one
  // first (releasing its row) and the second can end.
  std::future<std::string> second_id;
  pqxx::work first_tx{first};
  auto first_id = identities::map_external(first_tx, issuer, "racer");
  // The second insert waits on the first one's uncommitted row, then does nothing.
  second_id = std::async(std::launch::async, [&] {
    pqxx::work tx{second};
    auto id = identities::map_external(tx, issuer, "racer");
    tx.commit();
    return id;
  });
  REQUIRE(test::eventually(10s, [&] {
    pqxx::read_transaction tx{observer};
    return tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE pid = " + second_pid
                    + " AND wait_event_type = 'Lock'")[0]
             .as<int>()
           == 1;
  }));
  first_tx.commit();
  CHECK(second_id.get() == first_id);
}

TEST_CASE("the identity map resolves misses through the database and caches them",
          "[identities]") {
  test::actor_system_fixture fx;
  config::db_config cfg;
  cfg.dsn = test::migrated_database();
  cfg.pool_size = 1;
  auto db = spawn_db(fx.sys, cfg, caf::timespan{0});
  external_identity_map map{fx.sys, db, 1, 10s};
  auto resolve = [&](const external_subject& who) {
    std::promise<caf::expected<identity>> answer;
    map.resolve(who, [&answer](caf::expected<identity> x) { answer.set_value(std::move(x)); });
    auto result = answer.get_future().get();
    REQUIRE(result);
    return *result;
  };
  external_subject ann{issuer, "ann", "ann@example.com"};
  external_subject bob{issuer, "bob", "bob@example.com"};
  CHECK_FALSE(map.cached(ann).has_value());
  auto ann_id = resolve(ann);
  CHECK(ann_id.user_id != "ann");
  CHECK(ann_id.email == "ann@example.com");
  REQUIRE(map.cached(ann).has_value());
  CHECK(map.cached(ann)->user_id == ann_id.user_id);
  // A cache of one: bob's mapping pushes ann's out, and the database still has it.
  auto bob_id = resolve(bob);
  CHECK(bob_id.user_id != ann_id.user_id);
  CHECK(map.cached_count() == 1);
  CHECK_FALSE(map.cached(ann).has_value());
  CHECK(resolve(ann).user_id == ann_id.user_id);
  caf::anon_send_exit(db, caf::exit_reason::user_shutdown);
}
