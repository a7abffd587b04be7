// User search (U16/U17) against a real PostgreSQL: the ranking of every match in one
// query, and of strangers tier by tier after a probe of the newest users, are both the
// ranking computed here from the rows inserted, whatever the probe's size, the page, or
// the characters of the query.
#include "persistence/social_repo.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <cstdio>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace tandem;
using namespace tandem::persistence;

namespace {

/// 100 users whose names match "ann" by prefix, suffix and infix in turns (so that the
/// tiers interleave in id order), with Unicode and LIKE's wildcards in some names; the
/// caller u000 has friends, requests both ways and friends of friends. The fixture
/// keeps what it inserted, so that `expected` can rank it without SQL.
struct search_db : test::migrated_db {
  struct person {
    std::string id, email, first, last;
  };
  struct friendship {
    int requester, other;
    bool accepted;
  };
  std::vector<person> people;
  std::vector<friendship> friendships;

  search_db() {
    static const char* const names[] = {"Ann%d Smith", "Lee%d Joann", "Hanna%d Roe",
                                        "Bob%d Zoë",   "Max%d 10%%_off"};
    for (int i = 0; i < 100; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, names[i % 5], i);
      std::string full{name};
      auto space = full.find(' ');
      person p{id(i), id(i) + "@example.com", full.substr(0, space), full.substr(space + 1)};
      tx.exec_params("INSERT INTO users (user_id, email, first_name, last_name) "
                     "VALUES ($1, $2, $3, $4)",
                     p.id, p.email, p.first, p.last);
      people.push_back(std::move(p));
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
    friendships.push_back({requester, other, accepted});
  }

  std::vector<user_summary> search(search_field field, const std::string& q, int32_t limit,
                                   int32_t offset, int probe) {
    return social::search_users(tx, user_search{"u000", q, field, false, {limit, offset}}, probe);
  }

  /// The ids of one page of u000's search, ranked by the rule the API promises:
  /// friendship state (friends, then pending either way), mutual friends, match score
  /// (prefix, suffix, infix of the lower-case text), then id descending. The names are
  /// ASCII but for "ë", so lower-casing ASCII letters is PostgreSQL's lower() here.
  std::vector<std::string> expected(search_field field, const std::string& q, int32_t limit,
                                    int32_t offset) const {
    auto lower = [](std::string text) {
      for (auto& c : text)
        if (c >= 'A' && c <= 'Z')
          c = static_cast<char>(c - 'A' + 'a');
      return text;
    };
    auto accepted = [this](int a, int b) {
      return std::any_of(friendships.begin(), friendships.end(), [&](const friendship& f) {
        return f.accepted
               && ((f.requester == a && f.other == b) || (f.requester == b && f.other == a));
      });
    };
    auto pending = [this](int a, int b) {
      return std::any_of(friendships.begin(), friendships.end(), [&](const friendship& f) {
        return !f.accepted
               && ((f.requester == a && f.other == b) || (f.requester == b && f.other == a));
      });
    };
    auto needle = lower(q);
    struct ranked {
      int state, mutual, score;
      std::string id;
    };
    std::vector<ranked> hits;
    for (int u = 1; u < static_cast<int>(people.size()); ++u) {
      const auto& p = people[static_cast<std::size_t>(u)];
      auto text = lower(field == search_field::email ? p.email : p.first + " " + p.last);
      auto at = text.find(needle);
      if (at == std::string::npos)
        continue;
      int mutual = 0;
      for (int f = 1; f < static_cast<int>(people.size()); ++f)
        if (f != u && accepted(0, f) && accepted(f, u))
          ++mutual;
      int score = at == 0 ? 3
                  : text.size() >= needle.size()
                      && text.compare(text.size() - needle.size(), needle.size(), needle) == 0
                    ? 2
                    : 1;
      hits.push_back({accepted(0, u) ? 2 : pending(0, u) ? 1 : 0, mutual, score, p.id});
    }
    std::sort(hits.begin(), hits.end(), [](const ranked& a, const ranked& b) {
      return std::tie(a.state, a.mutual, a.score, a.id) > std::tie(b.state, b.mutual, b.score, b.id);
    });
    std::vector<std::string> out;
    for (auto i = static_cast<std::size_t>(offset);
         i < hits.size() && out.size() < static_cast<std::size_t>(limit); ++i)
      out.push_back(hits[i].id);
    return out;
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

TEST_CASE("the one query and the tiers after a probe both give the promised ranking",
          "[pg][search]") {
  search_db db;
  const std::vector<std::pair<search_field, std::string>> queries = {
    {search_field::name, "ann"},  {search_field::name, "an"},   {search_field::name, "a"},
    {search_field::name, "n"},    {search_field::name, "oë"},   {search_field::name, "ë"},
    {search_field::name, "%"},    {search_field::name, "0%_o"}, {search_field::name, "_"},
    {search_field::name, "zzz"},  {search_field::name, "e"},    {search_field::email, "u0"},
    {search_field::email, "mple"}, {search_field::email, ".com"}, {search_field::email, "1"}};
  const std::vector<std::pair<int32_t, int32_t>> pages = {{15, 0}, {5, 0}, {5, 5},  {3, 7},
                                                          {15, 30}, {2, 57}, {15, 99}};
  for (const auto& [field, q] : queries)
    for (const auto& [limit, offset] : pages) {
      auto expected = db.expected(field, q, limit, offset);
      // Probe 0 is the one ranked query; the others answer strangers tier by tier.
      for (int probe : {0, 1, 4, 10, 30, social::default_search_probe}) {
        INFO("query '" << q << "' limit " << limit << " offset " << offset << " probe "
                       << probe);
        CHECK(ids_of(db.search(field, q, limit, offset, probe)) == expected);
      }
    }
  // The expectation is not vacuous: the queries reach every tier and the pages' ends.
  CHECK(db.expected(search_field::name, "ann", 100, 0).size() == 59);
  CHECK(db.expected(search_field::name, "zzz", 100, 0).empty());
  CHECK(db.expected(search_field::email, ".com", 15, 99).empty());
  CHECK(db.expected(search_field::email, ".com", 2, 97).size() == 2);
}
