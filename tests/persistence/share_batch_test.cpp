// The group commit of shares in the database actor against a real PostgreSQL: shares
// that arrive while a batch commits go together in the next one, at most 64 of them; a
// share the database refuses fails alone; past db.queue_limit waiting shares, one is
// refused at once; one that waited past the callers' deadline is answered and not stored.
#include "persistence/db.hpp"
#include "persistence/users_repo.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <thread>

using namespace tandem;
using namespace tandem::persistence;
using namespace std::chrono_literals;

namespace {

struct share_fixture : test::actor_system_fixture {
  config::db_config cfg = test::migrated_db_config();
  db_actor db;

  share_fixture() {
    // Every sender u0..u69 is a friend of zoe: each share has one recipient.
    pqxx::connection conn{cfg.dsn};
    pqxx::work tx{conn};
    REQUIRE(users::insert(tx, new_profile{"zoe", "zoe@example.com", "Zoe", "X"}));
    for (int i = 0; i < 70; ++i) {
      auto id = "u" + std::to_string(i);
      REQUIRE(users::insert(tx, new_profile{id, id + "@example.com", id, "X"}));
      tx.exec_params("INSERT INTO friendships (user_low, user_high, requester, accepted_at)"
                     " VALUES ($1, 'zoe', $1, now())",
                     id);
    }
    tx.commit();
  }

  ~share_fixture() {
    caf::anon_send_exit(db, caf::exit_reason::user_shutdown);
  }

  void start(std::size_t queue_limit, caf::timespan deadline = caf::timespan{0}) {
    cfg.queue_limit = queue_limit;
    db = spawn_db(sys, cfg, deadline);
  }

  /// Sends every share at once, as the user actors of a busy node do: the first commits
  /// alone, the others arrive while it does. Replies in the order of `urls`; the senders
  /// are u0, u1, ...
  std::vector<caf::expected<share_receipt>> share_all(const std::vector<std::string>& urls) {
    std::vector<caf::expected<share_receipt>> replies(
      urls.size(), caf::make_error(caf::sec::unexpected_response));
    std::vector<decltype(self->request(db, 20s, atom::insert_share_v, std::string{},
                                       share_request{}, write_fence{}))>
      pending;
    for (std::size_t i = 0; i < urls.size(); ++i)
      pending.push_back(self->request(db, 20s, atom::insert_share_v, "u" + std::to_string(i),
                                      share_request{caf::none, urls[i], "Title"}, write_fence{}));
    for (std::size_t i = 0; i < pending.size(); ++i)
      pending[i].receive([&, i](share_receipt& r) { replies[i] = std::move(r); },
                         [&, i](caf::error& err) { replies[i] = std::move(err); });
    return replies;
  }

  std::string scalar(const std::string& sql) {
    pqxx::connection conn{cfg.dsn};
    pqxx::read_transaction tx{conn};
    return tx.exec1(sql)[0].as<std::string>();
  }

  /// The most events that one transaction committed.
  std::string largest_transaction() {
    return scalar("SELECT max(n) FROM (SELECT count(*) AS n FROM share_events"
                  " GROUP BY xmin::text) t");
  }
};

std::string page(int i) {
  return "https://example.org/" + std::to_string(i);
}

} // namespace

TEST_CASE_METHOD(share_fixture, "a share the database refuses fails alone in its batch",
                 "[share][pg]") {
  start(64);
  // Past share_events' CHECK on the URL's length (the HTTP front refuses it earlier).
  auto refused = "https://example.org/" + std::string(2048, 'x');
  auto replies = share_all({page(0), page(1), refused, page(3)});
  for (std::size_t i : {0, 1, 3}) {
    REQUIRE(replies[i]);
    CHECK(replies[i]->note.url == page(static_cast<int>(i)));
    CHECK(replies[i]->note.sender.user_id == "u" + std::to_string(i));
    CHECK(replies[i]->recipients == std::vector<std::string>{"zoe"});
  }
  REQUIRE_FALSE(replies[2]);
  CHECK(code_of(replies[2].error()) == errc::invalid_request);
  CHECK(scalar("SELECT string_agg(sender, ',' ORDER BY sender) FROM share_events")
        == "u0,u1,u3");
  CHECK(scalar("SELECT count(*) FROM share_recipients WHERE user_id = 'zoe'") == "3");
}

TEST_CASE_METHOD(share_fixture, "a batch commits at most 64 shares", "[share][pg]") {
  start(128);
  // The first commits alone; 65 wait for it and go as 64 and 1.
  std::vector<std::string> urls;
  for (int i = 0; i < 66; ++i)
    urls.push_back(page(i));
  auto replies = share_all(urls);
  for (const auto& r : replies)
    REQUIRE(r);
  CHECK(scalar("SELECT count(*) FROM share_events") == "66");
  CHECK(std::stoi(largest_transaction()) <= 64);
  CHECK(std::stoi(largest_transaction()) > 1);
}

TEST_CASE_METHOD(share_fixture, "shares past db.queue_limit waiting are refused at once",
                 "[share][pg]") {
  start(3);
  // u0's commits while u1..u3 wait; u4's finds three waiting.
  auto replies = share_all({page(0), page(1), page(2), page(3), page(4)});
  for (std::size_t i = 0; i < 4; ++i)
    REQUIRE(replies[i]);
  REQUIRE_FALSE(replies[4]);
  CHECK(code_of(replies[4].error()) == errc::overloaded);
  CHECK(scalar("SELECT count(*) FROM share_events") == "4");
  // The waiting three went in one transaction.
  CHECK(largest_transaction() == "3");
}

TEST_CASE_METHOD(share_fixture,
                 "shares that waited past the callers' deadline are answered db_timeout and "
                 "not stored",
                 "[share][pg]") {
  start(64, 300ms);
  // u0's share commits alone and waits for u0's row, locked here (its foreign key needs
  // it), while u1 and u2 wait for the next batch past the deadline.
  pqxx::connection locker{cfg.dsn};
  pqxx::work lock{locker};
  lock.exec("SELECT 1 FROM users WHERE user_id = 'u0' FOR UPDATE");
  std::thread unlock([&lock] {
    std::this_thread::sleep_for(800ms);
    lock.commit();
  });
  auto replies = share_all({page(0), page(1), page(2)});
  unlock.join();
  REQUIRE(replies[0]);
  for (std::size_t i : {1, 2}) {
    REQUIRE_FALSE(replies[i]);
    CHECK(code_of(replies[i].error()) == errc::db_timeout);
  }
  CHECK(scalar("SELECT string_agg(sender, ',') FROM share_events") == "u0");
  SECTION("a share that did not wait past it is stored") {
    auto later = share_all({page(3)});
    REQUIRE(later[0]);
    CHECK(scalar("SELECT count(*) FROM share_events") == "2");
  }
}
