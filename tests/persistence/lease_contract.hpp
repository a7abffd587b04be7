// The contract of `persistence::lease_db`, the leases the membership actor holds: scenarios
// that every implementation must pass, run by the subjects of db_contract.hpp against the
// fake of the membership tests (db_contract_fake_test.cpp) and against the database actor
// on PostgreSQL (db_contract_pg_test.cpp), so that the fake cannot drift from the SQL.
//
// Besides what db_contract.hpp asks of a subject, it provides its handle and the passing
// of its clock:
//   persistence::lease_db leases();
//   void let_time_pass(std::chrono::milliseconds);   (the database's clock moves on)
#pragma once

#include "persistence/lease_db.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace tandem_test::contract {

using namespace tandem;

template <class Subject>
lease_renewal renew(Subject& s, const node_identity& node, int32_t lease_ms,
                    std::string address = "http://node") {
  auto out = s.template ask<lease_renewal>(s.leases(), atom::renew_lease_v, node, address,
                                          lease_ms);
  REQUIRE(out);
  return *out;
}

inline std::vector<std::string> ids(const lease_renewal& r) {
  std::vector<std::string> out;
  for (const auto& n : r.live)
    out.push_back(n.identity.id + "/" + std::to_string(n.identity.incarnation));
  return out;
}

template <class Subject>
bool drop(Subject& s, const node_identity& node) {
  auto out = s.template ask<bool>(s.leases(), atom::drop_lease_v, node);
  REQUIRE(out);
  return *out;
}

template <class Subject>
void lease_db_contract(Subject& s) {
  const node_identity a1{"a", 1}, a2{"a", 2}, b{"b", 7}, c{"c", 9};
  const int32_t long_lease = 600000;
  using names = std::vector<std::string>;

  SECTION("a renewal inserts the node's lease and replies the live set with it") {
    auto first = renew(s, b, long_lease, "http://b:8080");
    CHECK(ids(first) == names{"b/7"});
    CHECK(first.live.at(0).address == "http://b:8080");
    CHECK(first.displaced == 0);
    // Renewing again keeps one row; the address may change.
    auto again = renew(s, b, long_lease, "http://b:9090");
    CHECK(ids(again) == names{"b/7"});
    CHECK(again.live.at(0).address == "http://b:9090");
    CHECK(again.displaced == 0);
  }

  SECTION("the live set lists every node with a live lease, by node id") {
    renew(s, c, long_lease);
    renew(s, a1, long_lease);
    CHECK(ids(renew(s, b, long_lease)) == names{"a/1", "b/7", "c/9"});
  }

  SECTION("a lease that was not renewed in time ends, by the database's clock") {
    renew(s, a1, 200);
    CHECK(ids(renew(s, b, long_lease)) == names{"a/1", "b/7"});
    s.let_time_pass(std::chrono::milliseconds{300});
    CHECK(ids(renew(s, b, long_lease)) == names{"b/7"});
    // Renewing brings it back.
    CHECK(ids(renew(s, a1, long_lease)) == names{"a/1", "b/7"});
  }

  SECTION("a restarted node (a new incarnation) replaces its row and names the one it "
          "displaced") {
    renew(s, a1, long_lease);
    auto restarted = renew(s, a2, long_lease);
    CHECK(ids(restarted) == names{"a/2"});
    CHECK(restarted.displaced == 1);
    // The old run is gone: it cannot delete the new run's row.
    CHECK_FALSE(drop(s, a1));
    CHECK(ids(renew(s, b, long_lease)) == names{"a/2", "b/7"});
  }

  SECTION("a restart after the previous lease ended displaces nothing") {
    renew(s, a1, 200);
    s.let_time_pass(std::chrono::milliseconds{300});
    auto restarted = renew(s, a2, long_lease);
    CHECK(restarted.displaced == 0);
    CHECK(ids(restarted) == names{"a/2"});
  }

  SECTION("a drained node deletes its row, once") {
    renew(s, a1, long_lease);
    CHECK(drop(s, a1));
    CHECK_FALSE(drop(s, a1));
    CHECK(ids(renew(s, b, long_lease)) == names{"b/7"});
  }
}

} // namespace tandem_test::contract
