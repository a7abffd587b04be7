// State that must not grow for free (issue 15, item 4) against a real PostgreSQL:
// pending friend requests expire (invisible, uncounted, unanswerable, replaceable,
// purged in batches), are capped per sender as well as per addressee, and can be
// declined all at once; members leave group conversations, the last one out takes
// the conversation with it. Time is the transaction's: an expiry set before now() has
// passed for every statement of the test's one transaction.
#include "persistence/chat_repo.hpp"
#include "persistence/social_repo.hpp"
#include "persistence/users_repo.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <string>
#include <vector>

using namespace tandem;
using namespace tandem::persistence;

namespace {

struct state_db : test::migrated_db {
  friendship_limits limits{100, 100, 100, 3600};

  state_db() {
    for (const char* id : {"amy", "bob", "cat", "dan", "eve"})
      REQUIRE(users::insert(tx, new_profile{id, std::string{id} + "@example.com", id, "X"}));
  }

  caf::expected<friendship_change> write(friendship_op op, const std::string& caller,
                                         const std::string& other) {
    return social::commit(tx, friendship_command{op, caller, other}, limits);
  }

  void request(const std::string& from, const std::string& to) {
    auto change = write(friendship_op::request, from, to);
    REQUIRE(change);
    CHECK(change->row.expires_at > 0);
  }

  /// Makes the pending request of the pair expire before the transaction's now().
  void expire(const std::string& a, const std::string& b) {
    tx.exec_params("UPDATE friendships SET expires_at = now() - interval '1 second' "
                   "WHERE user_low = $1 AND user_high = $2",
                   std::min(a, b), std::max(a, b));
  }

  std::vector<std::string> relations_of(const std::string& user) {
    auto snap = social::load(tx, user, 10);
    REQUIRE(snap);
    std::vector<std::string> out;
    for (const auto& rel : snap->relations)
      out.push_back(rel.user.user_id);
    std::sort(out.begin(), out.end());
    return out;
  }

  int64_t rows() {
    return tx.exec("SELECT count(*) FROM friendships")[0][0].as<int64_t>();
  }
};

errc error_of(const caf::expected<friendship_change>& x) {
  REQUIRE_FALSE(x);
  return code_of(x.error());
}

using ids = std::vector<std::string>;

} // namespace

TEST_CASE("an expired request is gone for every reader and every write",
          "[pg][requests]") {
  state_db db;
  db.request("amy", "bob");
  db.request("cat", "bob");
  auto loaded = social::load(db.tx, "bob", 10);
  REQUIRE(loaded);
  REQUIRE(loaded->relations.size() == 2);
  // The expiry is about an hour (limits.request_ttl_s) from now, in Unix milliseconds.
  auto now_ms = db.tx.exec("SELECT (extract(epoch FROM now()) * 1000)::bigint")[0][0]
                  .as<int64_t>();
  CHECK(loaded->relations[0].row.expires_at - now_ms == 3600 * 1000);
  db.expire("amy", "bob");
  CHECK(db.relations_of("bob") == ids{"cat"});
  CHECK(db.relations_of("amy").empty());
  // Not searchable, not answerable.
  CHECK(social::search_friends(db.tx, user_search{"bob", "amy", search_field::name, false,
                                                  {10, 0}})
          .empty());
  CHECK(error_of(db.write(friendship_op::accept, "bob", "amy")) == errc::not_found);
  CHECK(error_of(db.write(friendship_op::decline, "bob", "amy")) == errc::not_found);
  CHECK(error_of(db.write(friendship_op::remove, "amy", "bob")) == errc::not_found);
  // A new request of the pair, either way, takes its place.
  auto again = db.write(friendship_op::request, "bob", "amy");
  REQUIRE(again);
  CHECK(again->row.requester == "bob");
  CHECK(again->row.addressee == "amy");
  CHECK(db.relations_of("amy") == ids{"bob"});
  CHECK(db.rows() == 2);
  // An accepted request never expires.
  auto accepted = db.write(friendship_op::accept, "amy", "bob");
  REQUIRE(accepted);
  CHECK(accepted->row.expires_at == 0);
}

TEST_CASE("expired requests count toward neither pending bound", "[pg][requests]") {
  state_db db;
  db.limits.max_pending = 2;
  db.limits.max_outgoing = 2;
  // To bob: at the bound, then past it.
  db.request("amy", "bob");
  db.request("cat", "bob");
  auto past = db.write(friendship_op::request, "dan", "bob");
  CHECK(error_of(past) == errc::rate_limited);
  CHECK(past.error().context().get_as<std::string>(0)
        == "Too many pending friend requests for this user");
  db.expire("amy", "bob");
  db.request("dan", "bob");
  // From eve: at the bound, then past it, with the bound in the detail.
  db.request("eve", "amy");
  db.request("eve", "cat");
  auto out = db.write(friendship_op::request, "eve", "dan");
  CHECK(error_of(out) == errc::rate_limited);
  CHECK_THAT(out.error().context().get_as<std::string>(0),
             Catch::Contains("Too many pending friend requests sent: at most 2"));
  db.expire("eve", "cat");
  db.request("eve", "dan");
}

TEST_CASE("the outgoing bound is its own key, apart from the incoming one", "[pg][requests]") {
  state_db db;
  db.limits.max_pending = 100;
  db.limits.max_outgoing = 1;
  db.request("amy", "bob");
  CHECK(error_of(db.write(friendship_op::request, "amy", "cat")) == errc::rate_limited);
  // Others may still ask amy and bob.
  db.request("cat", "amy");
  db.request("dan", "bob");
}

TEST_CASE("the purge deletes expired requests only, in batches", "[pg][requests]") {
  state_db db;
  db.request("amy", "bob");
  db.request("amy", "cat");
  db.request("amy", "dan");
  db.request("eve", "bob");
  db.request("cat", "dan");
  REQUIRE(db.write(friendship_op::accept, "dan", "cat"));
  db.expire("amy", "bob");
  db.expire("amy", "cat");
  db.expire("amy", "dan");
  // The accepted pair's expiry is NULL: the purge never sees it.
  CHECK(social::purge_expired(db.tx, 2) == 2);
  CHECK(db.rows() == 3);
  CHECK(social::purge_expired(db.tx, 2) == 1);
  CHECK(social::purge_expired(db.tx, 2) == 0);
  CHECK(db.rows() == 2);
  CHECK(db.relations_of("bob") == ids{"eve"});
  CHECK(db.relations_of("dan") == ids{"cat"});
}

TEST_CASE("declining every request takes the unexpired incoming ones only", "[pg][requests]") {
  state_db db;
  db.request("amy", "bob");
  db.request("cat", "bob");
  db.request("dan", "bob");
  db.request("bob", "eve");   // outgoing: stays
  db.expire("dan", "bob");    // expired: the purge's
  auto changes = social::decline_all(db.tx, "bob");
  REQUIRE(changes.size() == 2);
  ids requesters;
  for (const auto& c : changes) {
    CHECK_FALSE(c.exists);
    CHECK(c.row.addressee == "bob");
    CHECK_FALSE(c.row.requested_at.empty());
    // Both cards, lower id first, for both users' actors.
    CHECK(c.low.user_id < c.high.user_id);
    CHECK((c.low.user_id == "bob" || c.high.user_id == "bob"));
    CHECK(c.other_than("bob").user_id == c.row.requester);
    CHECK(c.other_than("bob").first_name == c.row.requester);
    requesters.push_back(c.row.requester);
  }
  std::sort(requesters.begin(), requesters.end());
  CHECK(requesters == ids{"amy", "cat"});
  CHECK(db.relations_of("bob") == ids{"eve"});
  CHECK(social::decline_all(db.tx, "bob").empty());
  CHECK(db.rows() == 2);
}

TEST_CASE("a member leaves a group, and the last one out deletes it", "[pg][chat]") {
  state_db db;
  auto group = chat::create(db.tx, new_conversation{"amy", {"bob", "cat"}, true, "Team"});
  REQUIRE(group);
  chat::insert(db.tx, {chat_message{*group, 1, "6c1a1f3e-7b0a-4a53-9d2e-0d8f4f3b8b01", "bob",
                                    "hi", "2024-01-01T00:00:00.000Z", "t1"}});
  auto left = chat::leave(db.tx, *group, "bob");
  REQUIRE(left);
  CHECK(*left);
  auto again = chat::leave(db.tx, *group, "bob");
  REQUIRE(again);
  CHECK_FALSE(*again);
  // The leaver is refused and no longer lists it; the others go on.
  auto parts = chat::participants(db.tx, "bob", *group);
  REQUIRE_FALSE(parts);
  CHECK(code_of(parts.error()) == errc::forbidden);
  CHECK(chat::list(db.tx, "bob", -1, 100, 0).empty());
  CHECK(chat::list(db.tx, "amy", -1, 100, 0).size() == 1);
  auto members = chat::participants(db.tx, "amy", *group);
  REQUIRE(members);
  CHECK(*members == ids{"amy", "cat"});
  auto snap = chat::load(db.tx, *group, 10);
  REQUIRE(snap);
  CHECK(snap->members == ids{"amy", "cat"});
  CHECK(snap->recent.size() == 1);
  // The last two leave: the conversation and its messages are gone.
  REQUIRE(chat::leave(db.tx, *group, "amy"));
  REQUIRE(chat::leave(db.tx, *group, "cat"));
  auto gone = chat::leave(db.tx, *group, "cat");
  REQUIRE_FALSE(gone);
  CHECK(code_of(gone.error()) == errc::not_found);
  CHECK(db.tx.exec_params("SELECT count(*) FROM messages WHERE conversation_id = $1::uuid",
                          *group)[0][0]
          .as<int64_t>()
        == 0);
}

TEST_CASE("a direct conversation cannot be left", "[pg][chat]") {
  state_db db;
  auto direct = chat::create(db.tx, new_conversation{"amy", {"bob"}, false, ""});
  REQUIRE(direct);
  auto refused = chat::leave(db.tx, *direct, "amy");
  REQUIRE_FALSE(refused);
  CHECK(code_of(refused.error()) == errc::invalid_request);
  auto members = chat::participants(db.tx, "amy", *direct);
  REQUIRE(members);
  CHECK(members->size() == 2);
  auto unknown = chat::leave(db.tx, "6c1a1f3e-7b0a-4a53-9d2e-0d8f4f3b8b02", "amy");
  REQUIRE_FALSE(unknown);
  CHECK(code_of(unknown.error()) == errc::not_found);
}
