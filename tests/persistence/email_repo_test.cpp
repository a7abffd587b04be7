// The outbox's claims and settlements against a real PostgreSQL: two senders claiming at
// the same moment never get one row, a lease keeps a claimed row from every other claim
// until it runs out, and a settled row is claimed no more.
#include "persistence/email_repo.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

using namespace tandem;
using namespace tandem::persistence;

namespace {

constexpr int64_t hour_ms = 3600000;

/// Queues `n` invitations on `dsn`; their ids, oldest first.
std::vector<int64_t> queue(const std::string& dsn, int n) {
  pqxx::connection conn{dsn};
  pqxx::work tx{conn};
  std::vector<int64_t> ids;
  for (int i = 0; i < n; ++i)
    ids.push_back(email_repo::enqueue(
      tx, invitation{"u1", "Ann", "Lee", "r" + std::to_string(i) + "@example.com"}));
  tx.commit();
  return ids;
}

std::vector<int64_t> ids_of(const std::vector<outbox_email>& claimed) {
  std::vector<int64_t> out;
  for (auto& e : claimed)
    out.push_back(e.id);
  return out;
}

/// Claims in a transaction of its own, committed.
std::vector<int64_t> claim_now(const std::string& dsn, int32_t batch, int64_t lease_ms) {
  pqxx::connection conn{dsn};
  pqxx::work tx{conn};
  auto claimed = email_repo::claim(tx, batch, lease_ms);
  tx.commit();
  return ids_of(claimed);
}

/// Settles in a transaction of its own, committed; whether the row changed.
bool settle_now(const std::string& dsn, const email_settlement& s) {
  pqxx::connection conn{dsn};
  pqxx::work tx{conn};
  auto settled = email_repo::settle(tx, s);
  tx.commit();
  return settled;
}

} // namespace

TEST_CASE("two claims at the same moment never share a row", "[pg][email]") {
  auto dsn = test::migrated_database();
  auto ids = queue(dsn, 5);
  // The first claim's transaction is still open (its rows locked, its lease not yet
  // visible) when the second claims: the second skips the locked rows instead of
  // waiting for them (a wait would end in the lock timeout, and fail the test).
  pqxx::connection first_conn{dsn}, second_conn{dsn};
  pqxx::work first{first_conn};
  auto first_claim = email_repo::claim(first, 3, hour_ms);
  pqxx::work second{second_conn};
  second.exec("SET LOCAL lock_timeout = '2s'");
  auto second_claim = email_repo::claim(second, 10, hour_ms);
  CHECK(ids_of(first_claim) == std::vector<int64_t>(ids.begin(), ids.begin() + 3));
  CHECK(ids_of(second_claim) == std::vector<int64_t>(ids.begin() + 3, ids.end()));
  for (auto& e : first_claim)
    CHECK(e.attempts == 1);
  CHECK((first_claim[0].recipient_email == "r0@example.com"
         && first_claim[0].sender_first_name == "Ann" && first_claim[0].sender_last_name == "Lee"));
  first.commit();
  second.commit();
  // Both leases hold: nothing is left to claim.
  CHECK(claim_now(dsn, 10, hour_ms).empty());
}

TEST_CASE("many claimers at once claim every row exactly once", "[pg][email]") {
  auto dsn = test::migrated_database();
  auto ids = queue(dsn, 40);
  // Eight open transactions claim in turn before any commits.
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  std::vector<std::unique_ptr<pqxx::work>> txs;
  std::vector<int64_t> claimed;
  for (int i = 0; i < 8; ++i) {
    conns.push_back(std::make_unique<pqxx::connection>(dsn));
    txs.push_back(std::make_unique<pqxx::work>(*conns.back()));
    txs.back()->exec("SET LOCAL lock_timeout = '2s'");
    auto got = ids_of(email_repo::claim(*txs.back(), 6, hour_ms));
    claimed.insert(claimed.end(), got.begin(), got.end());
  }
  for (auto& tx : txs)
    tx->commit();
  std::sort(claimed.begin(), claimed.end());
  CHECK(claimed == ids);
}

TEST_CASE("a lease keeps a row from other claims until it runs out", "[pg][email]") {
  auto dsn = test::migrated_database();
  auto ids = queue(dsn, 2);
  // A lease that has run out at once: the row is claimed again, its attempt counted.
  CHECK(claim_now(dsn, 1, 0) == std::vector<int64_t>{ids[0]});
  pqxx::connection conn{dsn};
  {
    pqxx::work tx{conn};
    auto again = email_repo::claim(tx, 2, hour_ms);
    tx.commit();
    REQUIRE(ids_of(again) == ids);
    CHECK(again[0].attempts == 2);
    CHECK(again[1].attempts == 1);
  }
  CHECK(claim_now(dsn, 2, hour_ms).empty());
}

TEST_CASE("a settled row is sent, due later or failed, and its claim released",
          "[pg][email]") {
  auto dsn = test::migrated_database();
  auto ids = queue(dsn, 3);
  REQUIRE(claim_now(dsn, 3, hour_ms) == ids);
  CHECK(settle_now(dsn, {ids[0], email_settlement::sent, {}, 0, 1}));
  CHECK(settle_now(dsn, {ids[1], email_settlement::retry, "451 later", hour_ms, 1}));
  CHECK(settle_now(dsn, {ids[2], email_settlement::failed, "550 no such user", 0, 1}));
  // A late verdict on a sent row changes nothing.
  CHECK_FALSE(settle_now(dsn, {ids[0], email_settlement::failed, "late", 0, 1}));
  pqxx::connection conn{dsn};
  pqxx::work tx{conn};
  auto rows = tx.exec(
    "SELECT sent_at IS NOT NULL, failed_at IS NOT NULL, claimed_until IS NULL, "
    "       coalesce(last_error, ''), next_attempt_at > now() + interval '59 minutes' "
    "  FROM email_outbox ORDER BY id");
  REQUIRE(rows.size() == 3);
  auto row = [&](int i) {
    return std::make_tuple(rows[i][0].as<bool>(), rows[i][1].as<bool>(), rows[i][2].as<bool>(),
                           rows[i][3].as<std::string>(), rows[i][4].as<bool>());
  };
  CHECK(row(0) == std::make_tuple(true, false, true, std::string{}, false));
  CHECK(row(1) == std::make_tuple(false, false, true, std::string{"451 later"}, true));
  CHECK(row(2) == std::make_tuple(false, true, true, std::string{"550 no such user"}, false));
  tx.commit();
  // None is due: sent, failed, or waiting for its retry.
  CHECK(claim_now(dsn, 3, hour_ms).empty());
}

TEST_CASE("a claim that ran out and was taken over is settled by its new claimer only",
          "[pg][email]") {
  auto dsn = test::migrated_database();
  auto ids = queue(dsn, 1);
  // The first claimer's lease runs out (at once here); a second claims the row.
  REQUIRE(claim_now(dsn, 1, 0) == ids);
  REQUIRE(claim_now(dsn, 1, hour_ms) == ids);
  // The first claimer's late retry or failure would free the row for a third claimer
  // while the second still sends it: it changes nothing.
  CHECK_FALSE(settle_now(dsn, {ids[0], email_settlement::retry, "451 late", 0, 1}));
  CHECK_FALSE(settle_now(dsn, {ids[0], email_settlement::failed, "550 late", 0, 1}));
  CHECK(claim_now(dsn, 1, hour_ms).empty());
  // A mail the server accepted is recorded, whoever's claim it was.
  CHECK(settle_now(dsn, {ids[0], email_settlement::sent, {}, 0, 1}));
  pqxx::connection conn{dsn};
  pqxx::work tx{conn};
  auto row = tx.exec1("SELECT sent_at IS NOT NULL, failed_at IS NULL, claimed_until IS NULL, "
                      "attempts FROM email_outbox");
  CHECK((row[0].as<bool>() && row[1].as<bool>() && row[2].as<bool>()));
  CHECK(row[3].as<int>() == 2);
}
