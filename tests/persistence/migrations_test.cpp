// Schema migrations against a real PostgreSQL: embedded files, idempotence,
// concurrent runners, rollback of a failing migration, lock release.
#include "persistence/migrations.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <exception>
#include <thread>

using namespace tandem;
using namespace tandem::persistence;

namespace {

int count_rows(pqxx::connection& conn, const std::string& sql) {
  pqxx::read_transaction tx{conn};
  return tx.exec1(sql)[0].as<int>();
}

bool table_exists(pqxx::connection& conn, const std::string& name) {
  pqxx::read_transaction tx{conn};
  return !tx.exec_params1("SELECT to_regclass($1)", name)[0].is_null();
}

} // namespace

TEST_CASE("the binary embeds its migrations numbered from 1 without gaps", "[pg]") {
  auto& all = known_migrations();
  REQUIRE_FALSE(all.empty());
  CHECK(all.front().version == 1);
  CHECK(all.front().name == "init");
  CHECK_FALSE(all.front().sql.empty());
  CHECK(latest_migration_version() == all.back().version);
  CHECK_NOTHROW(check_migration_sequence(all));
}

TEST_CASE("migration lists with a gap or a duplicate version are refused", "[pg]") {
  auto m = [](int version, std::string name) {
    return migration{version, std::move(name), "SELECT 1"};
  };
  CHECK_NOTHROW(check_migration_sequence({}));
  CHECK_NOTHROW(check_migration_sequence({m(1, "a"), m(2, "b")}));
  CHECK_THROWS_AS(check_migration_sequence({m(2, "a")}), std::logic_error);
  CHECK_THROWS_AS(check_migration_sequence({m(1, "a"), m(3, "c")}), std::logic_error);
  CHECK_THROWS_WITH(check_migration_sequence({m(1, "a"), m(1, "b")}),
                    Catch::Contains("same version"));
}

TEST_CASE("migrations apply on a fresh database and a second run applies none", "[pg]") {
  pqxx::connection conn{test::create_fresh_database()};
  CHECK(applied_migration_version(conn) == 0);

  auto& all = known_migrations();
  CHECK(apply_migrations(conn) == static_cast<int>(all.size()));
  CHECK(apply_migrations(conn) == 0);
  CHECK(applied_migration_version(conn) == latest_migration_version());

  pqxx::read_transaction tx{conn};
  auto rows = tx.exec("SELECT version, name FROM schema_migrations ORDER BY version");
  REQUIRE(rows.size() == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(rows[i][0].as<int>() == all[i].version);
    CHECK(rows[i][1].as<std::string>() == all[i].name);
  }
}

TEST_CASE("two runners migrating one fresh database at once both succeed and apply each "
          "version once",
          "[pg]") {
  auto dsn = test::create_fresh_database();
  struct runner_result {
    int applied = -1;
    std::exception_ptr error;
  };
  runner_result results[2];
  auto run = [&dsn](runner_result& out) {
    try {
      pqxx::connection conn{dsn};
      out.applied = apply_migrations(conn);
    } catch (...) {
      out.error = std::current_exception();
    }
  };
  std::thread first{run, std::ref(results[0])};
  std::thread second{run, std::ref(results[1])};
  first.join();
  second.join();

  for (auto& r : results) {
    if (r.error) {
      try {
        std::rethrow_exception(r.error);
      } catch (const std::exception& e) {
        FAIL("a runner failed: " << e.what());
      }
    }
  }
  auto total = static_cast<int>(known_migrations().size());
  CHECK(results[0].applied + results[1].applied == total);
  pqxx::connection conn{dsn};
  CHECK(count_rows(conn, "SELECT count(*) FROM schema_migrations") == total);
  CHECK(applied_migration_version(conn) == latest_migration_version());
}

TEST_CASE("a failing migration is rolled back whole, not recorded, and releases the lock",
          "[pg]") {
  auto dsn = test::create_fresh_database();
  pqxx::connection conn{dsn};
  std::vector<migration> list{
    {1, "first", "CREATE TABLE first_table (x int)"},
    {2, "broken", "CREATE TABLE half_done (y int); SELECT 1 / 0"},
  };
  CHECK_THROWS_AS(apply_migrations(conn, list), pqxx::sql_error);

  CHECK(applied_migration_version(conn) == 1);
  CHECK(table_exists(conn, "first_table"));
  CHECK_FALSE(table_exists(conn, "half_done"));
  // Another session can take the lock at once: the failed run let it go.
  pqxx::connection other{dsn};
  pqxx::nontransaction tx{other};
  auto key = std::to_string(migration_lock_key);
  CHECK(tx.exec1("SELECT pg_try_advisory_lock(" + key + ")")[0].as<bool>());
  tx.exec("SELECT pg_advisory_unlock(" + key + ")");
}
