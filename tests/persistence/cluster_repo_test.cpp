// The SQL of the leases (persistence/cluster_repo.*) on a real PostgreSQL, for what the
// contract of lease_db (lease_contract.hpp) cannot say about a fake: a lease is measured
// from the database's now(), and a row's started_at tells runs apart.
#include "persistence/cluster_repo.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

using namespace tandem;
using namespace tandem::persistence;

namespace {

/// Milliseconds from the database's now() to the end of `node`'s lease.
double lease_left_ms(pqxx::work& tx, const std::string& node) {
  return tx
    .exec_params1("SELECT extract(epoch FROM lease_expires_at - now()) * 1000 FROM "
                  "cluster_nodes WHERE node_id = $1",
                  node)[0]
    .as<double>();
}

std::string started_at(pqxx::work& tx, const std::string& node) {
  return tx.exec_params1("SELECT started_at::text FROM cluster_nodes WHERE node_id = $1", node)[0]
    .as<std::string>();
}

} // namespace

TEST_CASE_METHOD(test::migrated_db, "a lease lasts lease_ms from the database's now(), and a "
                                    "renewal sets it anew",
                 "[cluster][pg]") {
  const node_identity a{"a", 1};
  cluster_repo::renew(tx, a, "http://a", 60000);
  // One transaction: now() is its start, so the lease is exactly what was asked for.
  CHECK(lease_left_ms(tx, "a") == Approx(60000.0));
  cluster_repo::renew(tx, a, "http://a", 600000);
  CHECK(lease_left_ms(tx, "a") == Approx(600000.0));
  cluster_repo::renew(tx, a, "http://a", 0);
  CHECK(cluster_repo::live(tx).empty());
}

TEST_CASE_METHOD(test::migrated_db, "renewals keep started_at; a new incarnation resets it",
                 "[cluster][pg]") {
  cluster_repo::renew(tx, node_identity{"a", 1}, "http://a", 60000);
  tx.exec0("UPDATE cluster_nodes SET started_at = started_at - interval '1 hour'");
  auto first = started_at(tx, "a");
  cluster_repo::renew(tx, node_identity{"a", 1}, "http://a", 60000);
  CHECK(started_at(tx, "a") == first);
  cluster_repo::renew(tx, node_identity{"a", 2}, "http://a", 60000);
  CHECK(started_at(tx, "a") != first);
}

TEST_CASE_METHOD(test::migrated_db, "a live lease reads as its incarnation and end, which a "
                                    "renewal moves; an ended one reads as none",
                 "[cluster][pg]") {
  CHECK_FALSE(cluster_repo::live_lease(tx, "a"));
  cluster_repo::renew(tx, node_identity{"a", 7}, "http://a", 60000);
  auto first = cluster_repo::live_lease(tx, "a");
  REQUIRE(first);
  CHECK(first->incarnation == 7);
  CHECK(cluster_repo::live_lease(tx, "a") == first);
  cluster_repo::renew(tx, node_identity{"a", 7}, "http://a", 120000);
  auto renewed = cluster_repo::live_lease(tx, "a");
  REQUIRE(renewed);
  CHECK_FALSE(*renewed == *first);
  cluster_repo::renew(tx, node_identity{"a", 7}, "http://a", 0);
  CHECK_FALSE(cluster_repo::live_lease(tx, "a"));
}
