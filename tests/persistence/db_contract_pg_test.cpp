// The contract of social_db and chat_db (db_contract.hpp) and of lease_db
// (lease_contract.hpp) held by the database actor on a real PostgreSQL: the reference the
// fakes of the actor tests are checked against.
#include "persistence/db.hpp"
#include "persistence/users_repo.hpp"

#include "tests/persistence/db_contract.hpp"
#include "tests/persistence/lease_contract.hpp"
#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

using namespace tandem;
using namespace std::chrono_literals;

namespace {

struct pg_subject : test::actor_system_fixture {
  config::db_config cfg = test::migrated_db_config();
  persistence::db_actor db = persistence::spawn_db(sys, cfg, caf::timespan{0});

  ~pg_subject() {
    caf::anon_send_exit(db, caf::exit_reason::user_shutdown);
  }

  void add_user(const std::string& id, const std::string& first_name) {
    pqxx::connection conn{cfg.dsn};
    pqxx::work tx{conn};
    REQUIRE(persistence::users::insert(tx, new_profile{id, id + "@example.com", first_name, "X"}));
    tx.commit();
  }

  std::string conversation(const std::vector<std::string>& members, bool is_group) {
    auto id = ask<std::string>(
      db, atom::create_conversation_v,
      new_conversation{members.front(), {members.begin() + 1, members.end()}, is_group,
                       is_group ? "Team" : ""});
    REQUIRE(id);
    return *id;
  }

  void set_lease(const node_identity& node, bool live) {
    test::set_lease(cfg.dsn, node, live);
  }

  persistence::social_db social() {
    return db;
  }

  persistence::chat_db chat() {
    return db;
  }

  persistence::lease_db leases() {
    return db;
  }

  /// Waits until the database's clock has moved on by `d` (polled, never a fixed sleep).
  void let_time_pass(std::chrono::milliseconds d) {
    pqxx::connection conn{cfg.dsn};
    pqxx::nontransaction tx{conn};
    auto start = tx.exec1("SELECT clock_timestamp()")[0].as<std::string>();
    auto passed = [&] {
      return tx
        .exec_params1("SELECT clock_timestamp() >= $1::timestamptz + $2::integer * interval "
                      "'1 millisecond'",
                      start, static_cast<int>(d.count()))[0]
        .as<bool>();
    };
    REQUIRE(test::eventually(10s, passed));
  }

  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& hdl, Ts... xs) {
    return actor_system_fixture::ask<T>(hdl, 10s, xs...);
  }
};

} // namespace

TEST_CASE_METHOD(pg_subject, "the database actor keeps the contract of social_db",
                 "[contract][pg]") {
  tandem_test::contract::social_db_contract(*this);
}

TEST_CASE_METHOD(pg_subject, "the database actor keeps the contract of chat_db",
                 "[contract][pg]") {
  tandem_test::contract::chat_db_contract(*this);
}

TEST_CASE_METHOD(pg_subject, "the database actor keeps the contract of lease_db",
                 "[contract][pg]") {
  tandem_test::contract::lease_db_contract(*this);
}

TEST_CASE_METHOD(pg_subject, "the database actor keeps the contract of ownership",
                 "[contract][pg]") {
  tandem_test::contract::ownership_contract(*this);
}
