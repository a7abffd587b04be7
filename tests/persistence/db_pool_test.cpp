// The database facade and its detached workers against a real PostgreSQL: error
// mapping, statement timeout, back-pressure, and surviving a server restart.
#include "persistence/db.hpp"
#include "persistence/db_session.hpp"
#include "persistence/migrations.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

using namespace tandem;
using namespace tandem::persistence;
using namespace std::chrono_literals;

namespace {

/// A facade built like the real one whose single operation runs arbitrary SQL in a
/// transaction and replies the first column of the first row as text ("" if none).
using sql_actor = caf::typed_actor<
  caf::replies_to<atom::run, std::string>::with<std::string>,
  caf::replies_to<atom::stats>::with<pool_stats>>;

struct sql_state {
  std::optional<worker_pool<db_session, sql_actor::base>> pool;
  static inline const char* name = "test.sql";
};

sql_actor::behavior_type sql_impl(sql_actor::stateful_pointer<sql_state> self,
                                  config::db_config cfg) {
  self->state.pool.emplace(self, pool_settings{"test-sql", static_cast<std::size_t>(cfg.pool_size),
                                               cfg.queue_limit},
                           db_worker_factory(cfg));
  return {
    [self](atom::run, const std::string& sql) {
      return submit_transaction(*self->state.pool, "test_sql", [sql](pqxx::work& tx) {
        auto rows = tx.exec(sql);
        if (rows.empty() || rows.columns() == 0 || rows[0][0].is_null())
          return std::string{};
        return rows[0][0].as<std::string>();
      });
    },
    [self](atom::stats) { return self->state.pool->stats(); },
  };
}

config::db_config fresh_db_config() {
  config::db_config cfg;
  cfg.dsn = test::create_fresh_database();
  cfg.pool_size = 2;
  cfg.queue_limit = 16;
  cfg.statement_timeout_ms = 5000;
  cfg.connect_timeout_ms = 2000;
  return cfg;
}

struct db_fixture : test::actor_system_fixture {
  std::vector<caf::actor> facades;

  ~db_fixture() {
    for (auto& facade : facades)
      caf::anon_send_exit(facade, caf::exit_reason::user_shutdown);
  }

  db_actor db(const config::db_config& cfg) {
    auto result = spawn_db(sys, cfg, caf::timespan{0});
    facades.push_back(caf::actor_cast<caf::actor>(result));
    return result;
  }

  sql_actor sql(const config::db_config& cfg) {
    auto result = sys.spawn(sql_impl, cfg);
    facades.push_back(caf::actor_cast<caf::actor>(result));
    return result;
  }

  caf::expected<std::string> run_sql(const sql_actor& hdl, const std::string& statement) {
    return ask<std::string>(hdl, 10s, atom::run_v, statement);
  }
};

errc code(const caf::error& err) {
  return code_of(err);
}

} // namespace

TEST_CASE("connect_timeout is added to a DSN that has none", "[pg]") {
  CHECK(dsn_with_connect_timeout("host=h dbname=d", 3000) == "host=h dbname=d connect_timeout=3");
  CHECK(dsn_with_connect_timeout("host=h", 1500) == "host=h connect_timeout=2");
  CHECK(dsn_with_connect_timeout("host=h connect_timeout=9", 3000) == "host=h connect_timeout=9");
  CHECK(dsn_with_connect_timeout("postgresql://h/d", 3000) == "postgresql://h/d?connect_timeout=3");
  CHECK(dsn_with_connect_timeout("postgres://h/d?sslmode=disable", 1000)
        == "postgres://h/d?sslmode=disable&connect_timeout=1");
  CHECK(dsn_with_connect_timeout("host=h", 0) == "host=h");
}

TEST_CASE_METHOD(db_fixture, "the db facade answers ping and the applied migration version",
                 "[pg]") {
  auto cfg = fresh_db_config();
  auto facade = db(cfg);
  auto pong = ask<bool>(facade, 10s, atom::ping_v);
  REQUIRE(pong);
  CHECK(*pong);

  auto before = ask<int>(facade, 10s, atom::migrations_v);
  REQUIRE(before);
  CHECK(*before == 0);
  pqxx::connection conn{cfg.dsn};
  apply_migrations(conn);
  auto after = ask<int>(facade, 10s, atom::migrations_v);
  REQUIRE(after);
  CHECK(*after == latest_migration_version());

  auto st = ask<pool_stats>(facade, 10s, atom::stats_v);
  REQUIRE(st);
  CHECK(st->workers == 2);
  CHECK(st->queue_limit == 16);
}

TEST_CASE_METHOD(db_fixture, "PostgreSQL errors reach the caller as tandem error codes", "[pg]") {
  auto facade = sql(fresh_db_config());
  REQUIRE(run_sql(facade, "CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL,"
                          " qty int CHECK (qty > 0))"));
  REQUIRE(run_sql(facade, "CREATE TABLE child (parent_id int REFERENCES parent (id))"));
  REQUIRE(run_sql(facade, "INSERT INTO parent VALUES (1, 'one', 1)"));

  SECTION("a unique violation is already_exists") {
    auto r = run_sql(facade, "INSERT INTO parent VALUES (1, 'again', 1)");
    REQUIRE_FALSE(r);
    CHECK(code(r.error()) == errc::already_exists);
  }
  SECTION("a foreign key violation is not_found") {
    auto r = run_sql(facade, "INSERT INTO child VALUES (42)");
    REQUIRE_FALSE(r);
    CHECK(code(r.error()) == errc::not_found);
  }
  SECTION("check and not-null violations are invalid_request") {
    auto check = run_sql(facade, "INSERT INTO parent VALUES (2, 'two', 0)");
    REQUIRE_FALSE(check);
    CHECK(code(check.error()) == errc::invalid_request);
    auto not_null = run_sql(facade, "INSERT INTO parent VALUES (3, NULL, 1)");
    REQUIRE_FALSE(not_null);
    CHECK(code(not_null.error()) == errc::invalid_request);
  }
  SECTION("any other SQL error is db_query_failed") {
    auto r = run_sql(facade, "SELECT * FROM no_such_table");
    REQUIRE_FALSE(r);
    CHECK(code(r.error()) == errc::db_query_failed);
  }
  // The failed transaction rolled back and the worker's connection still serves.
  auto count = run_sql(facade, "SELECT count(*) FROM parent");
  REQUIRE(count);
  CHECK(*count == "1");
}

TEST_CASE_METHOD(db_fixture, "a statement running past statement_timeout is db_timeout", "[pg]") {
  auto cfg = fresh_db_config();
  cfg.statement_timeout_ms = 200;
  auto facade = sql(cfg);
  auto started = std::chrono::steady_clock::now();
  auto slow = run_sql(facade, "SELECT pg_sleep(5)");
  REQUIRE_FALSE(slow);
  CHECK(code(slow.error()) == errc::db_timeout);
  CHECK(std::chrono::steady_clock::now() - started < 3s);
  auto fast = run_sql(facade, "SELECT 7");
  REQUIRE(fast);
  CHECK(*fast == "7");
}

TEST_CASE_METHOD(db_fixture,
                 "with the worker busy and the queue full the next caller is refused with "
                 "overloaded at once",
                 "[pg]") {
  auto cfg = fresh_db_config();
  cfg.pool_size = 1;
  cfg.queue_limit = 1;
  auto facade = sql(cfg);
  REQUIRE(run_sql(facade, "SELECT 1")); // connected, so the slow job starts at once

  // One sender's messages arrive in order: the first runs, the second waits, the
  // third finds the queue full.
  auto running = self->request(facade, 10s, atom::run_v, std::string{"SELECT pg_sleep(1), 'slow'"});
  auto waiting = self->request(facade, 10s, atom::run_v, std::string{"SELECT 'queued'"});
  auto sent = std::chrono::steady_clock::now();
  auto refused = self->request(facade, 10s, atom::run_v, std::string{"SELECT 'refused'"});

  std::optional<caf::error> refusal;
  refused.receive([](std::string&) {}, [&](caf::error& err) { refusal = err; });
  auto refusal_took = std::chrono::steady_clock::now() - sent;
  REQUIRE(refusal);
  CHECK(code(*refusal) == errc::overloaded);
  CHECK(refusal_took < 500ms); // not after the slow job

  std::string slow_result;
  std::string queued_result;
  running.receive([&](std::string& x) { slow_result = x; },
                  [&](caf::error& err) { FAIL(describe(err)); });
  waiting.receive([&](std::string& x) { queued_result = x; },
                  [&](caf::error& err) { FAIL(describe(err)); });
  CHECK(slow_result.empty()); // pg_sleep returns void, i.e. an empty text
  CHECK(queued_result == "queued");
  auto st = ask<pool_stats>(facade, 10s, atom::stats_v);
  REQUIRE(st);
  CHECK(st->rejected == 1);
}

TEST_CASE_METHOD(db_fixture,
                 "a job whose connection the server cut is retried once on a fresh connection",
                 "[pg]") {
  auto cfg = fresh_db_config();
  cfg.pool_size = 1;
  auto facade = db(cfg);
  REQUIRE(ask<bool>(facade, 10s, atom::ping_v));

  // Cut the worker's session from the server side, as a failover or an
  // idle-session killer would; the worker only notices on its next job.
  std::string dbname;
  {
    pqxx::connection probe{cfg.dsn};
    pqxx::nontransaction tx{probe};
    dbname = tx.exec1("SELECT current_database()")[0].as<std::string>();
  }
  pqxx::connection admin{test::pg_admin_dsn()};
  pqxx::nontransaction tx{admin};
  auto cut = tx.exec_params1("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                             " WHERE datname = $1",
                             dbname)[0]
               .as<int>();
  REQUIRE(cut == 1);

  auto pong = ask<bool>(facade, 10s, atom::ping_v);
  REQUIRE(pong);
  CHECK(*pong);
}

TEST_CASE_METHOD(db_fixture, "the db pool survives a PostgreSQL restart", "[pg][restart]") {
  auto facade = db(fresh_db_config());
  auto ping = [&] { return ask<bool>(facade, 10s, atom::ping_v); };
  REQUIRE(ping());

  test::stopped_service pg{"pg"};
  auto started = std::chrono::steady_clock::now();
  auto down = ping();
  auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(down);
  CHECK(code(down.error()) == errc::db_unavailable);
  CHECK(took < 2s); // a refused connection fails fast, it does not hang
  // And keeps failing while the server is down.
  auto again = ping();
  REQUIRE_FALSE(again);
  CHECK(code(again.error()) == errc::db_unavailable);

  pg.start();
  CHECK(test::eventually(20s, [&] {
    auto r = ping();
    return r && *r;
  }));
}
