// User search (U16/U17) against a real PostgreSQL: ranking strangers tier by tier after
// a probe of the newest users gives exactly the ranking of every match in one query,
// whatever the probe's size, the page, or the characters of the query.
#include "persistence/social_repo.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

using namespace tandem;
using namespace tandem::persistence;

namespace {

/// 100 users whose names match "ann" by prefix, suffix and infix in turns (so that the
/// tiers interleave in id order), with Unicode and LIKE's wildcards in some names; the
/// caller u000 has friends, requests both ways and friends of friends.
struct search_db : test::migrated_db {
  search_db() {
    static const char* const names[] = {"Ann%d Smith", "Lee%d Joann", "Hanna%d Roe",
                                        "Bob%d Zoë",   "Max%d 10%%_off"};
    for (int i = 0; i < 100; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, names[i % 5], i);
      std::string full{name};
      auto space = full.find(' ');
      tx.exec_params("INSERT INTO users (user_id, email, first_name, last_name) "
                     "VALUES ($1, $2, $3, $4)",
                     id(i), id(i) + "@example.com", full.substr(0, space), full.substr(space + 1));
    }
    for (int i = 1; i <= 6; ++i)
      befriend(0, i, true);
    befriend(7, 0, false); // u007 asked u000
    befriend(0, 8, false); // u000 asked u008
    for (int i = 10; i <= 14; ++i)
      befriend(1, i, true);
    befriend(2, 10, true);
    befriend(2, 11, true);
    befriend(3, 30, false); // pending: no mutual friend
  }

  static std::string id(int i) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "u%03d", i);
    return buf;
  }

  void befriend(int requester, int other, bool accepted) {
    tx.exec_params("INSERT INTO friendships (user_low, user_high, requester, requested_at, "
                   "accepted_at) VALUES (least($1, $2), greatest($1, $2), $1, now(), "
                   "CASE WHEN $3 THEN now() END)",
                   id(requester), id(other), accepted);
  }

  std::vector<user_summary> search(search_field field, const std::string& q, int32_t limit,
                                   int32_t offset, int probe) {
    return social::search_users(tx, user_search{"u000", q, field, false, {limit, offset}}, probe);
  }
};

std::vector<std::string> ids_of(const std::vector<user_summary>& xs) {
  std::vector<std::string> out;
  for (const auto& x : xs)
    out.push_back(x.user.user_id);
  return out;
}

} // namespace

TEST_CASE("one query ranks relations, then mutual friends, then prefix, suffix, infix",
          "[pg][search]") {
  search_db db;
  // probe 0: every match ranked in one query, the reference for the tiers below.
  auto all = db.search(search_field::name, "ann", 100, 0, 0);
  REQUIRE(all.size() == 59); // 60 names contain "ann", the caller's among them
  // Accepted friends by match score (Ann5, then Joann 6 and 1, then Hanna2), the
  // pending Hanna7, then friends of friends by mutual friends (u010 and u011 have two).
  auto ids = ids_of(all);
  CHECK(std::vector<std::string>(ids.begin(), ids.begin() + 8)
        == std::vector<std::string>{"u005", "u006", "u001", "u002", "u007", "u010", "u011",
                                    "u012"});
  CHECK(all[0].state == friendship_state::friends);
  CHECK(all[4].state == friendship_state::pending);
  CHECK(all[5].mutual_friend_count == int64_t{2});
  auto first_stranger = std::find_if(all.begin(), all.end(), [](const user_summary& x) {
    return x.state == friendship_state::none && x.mutual_friend_count.value_or(0) == 0;
  });
  REQUIRE(first_stranger != all.end());
  // Among strangers: every prefix match (Ann..) by id descending, then suffix, then infix.
  CHECK(first_stranger->user.first_name.rfind("Ann", 0) == 0);
  CHECK(first_stranger->user.user_id == "u095");
  CHECK(all.back().user.first_name.rfind("Hanna", 0) == 0);
}

TEST_CASE("tiers after a probe give exactly the one-query ranking", "[pg][search]") {
  search_db db;
  const std::vector<std::pair<search_field, std::string>> queries = {
    {search_field::name, "ann"},  {search_field::name, "an"},   {search_field::name, "a"},
    {search_field::name, "n"},    {search_field::name, "oë"},   {search_field::name, "ë"},
    {search_field::name, "%"},    {search_field::name, "0%_o"}, {search_field::name, "_"},
    {search_field::name, "zzz"},  {search_field::name, "e"},    {search_field::email, "u0"},
    {search_field::email, "mple"}, {search_field::email, ".com"}, {search_field::email, "1"}};
  const std::vector<std::pair<int32_t, int32_t>> pages = {{15, 0}, {5, 0}, {5, 5},  {3, 7},
                                                          {15, 30}, {2, 57}, {15, 99}};
  int compared = 0;
  for (const auto& [field, q] : queries)
    for (const auto& [limit, offset] : pages) {
      auto expected = ids_of(db.search(field, q, limit, offset, 0));
      for (int probe : {1, 4, 10, 30, social::default_search_probe}) {
        INFO("query '" << q << "' limit " << limit << " offset " << offset << " probe "
                       << probe);
        CHECK(ids_of(db.search(field, q, limit, offset, probe)) == expected);
        ++compared;
      }
    }
  CHECK(compared == 15 * 7 * 5);
}
