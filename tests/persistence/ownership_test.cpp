// Ownership in a cluster against a real PostgreSQL, with two connections playing two
// nodes (docs/cluster.md, Ownership): claims that race, and the fenced group commit
// against a takeover that commits while a stale batch runs (READ COMMITTED judges the
// batch's lock again on the claim's new row) or after a batch that locked first.
#include "persistence/chat_repo.hpp"
#include "persistence/ownership_repo.hpp"
#include "auth/tokens.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <future>
#include <string>
#include <vector>

using namespace tandem;
using namespace tandem::persistence;
using namespace std::chrono_literals;
using ownership::key_kind;

namespace {

struct two_nodes {
  std::string dsn = test::migrated_database();
  pqxx::connection a{dsn};
  pqxx::connection b{dsn};
  const node_identity node_a{"node-a", 1}, node_b{"node-b", 2};

  void lease(const node_identity& node, bool live) {
    test::set_lease(dsn, node, live);
  }

  std::string conversation() {
    pqxx::connection conn{dsn};
    pqxx::work tx{conn};
    auto id = tx.exec1("INSERT INTO conversations (created_by, title, is_group)"
                       " VALUES ('ann', 'group', true) RETURNING conversation_id::text")[0]
                .as<std::string>();
    tx.exec_params("INSERT INTO participants (conversation_id, user_id) VALUES ($1::uuid, 'ann')",
                   id);
    tx.commit();
    return id;
  }

  int64_t claim_now(const std::string& key, const node_identity& node) {
    pqxx::connection conn{dsn};
    pqxx::work tx{conn};
    auto epoch = ownership::claim(tx, key_kind::conversation, key, node);
    REQUIRE(epoch);
    tx.commit();
    return *epoch;
  }

  int64_t count(const std::string& conversation) {
    pqxx::connection conn{dsn};
    pqxx::read_transaction tx{conn};
    return tx.exec_params1("SELECT count(*) FROM messages WHERE conversation_id = $1::uuid",
                           conversation)[0]
      .as<int64_t>();
  }

  /// The epoch of each stored message of `conversation`, by seq.
  std::vector<int64_t> epochs(const std::string& conversation) {
    pqxx::connection conn{dsn};
    pqxx::read_transaction tx{conn};
    std::vector<int64_t> out;
    for (const auto& row : tx.exec_params(
           "SELECT epoch FROM messages WHERE conversation_id = $1::uuid ORDER BY seq",
           conversation))
      out.push_back(row[0].as<int64_t>());
    return out;
  }

  /// Waits until the backend of `conn` waits for a lock (another transaction's row).
  void wait_until_blocked(const pqxx::connection& conn) {
    pqxx::connection watcher{dsn};
    CHECK(test::eventually(10s, [&] {
      pqxx::nontransaction tx{watcher};
      auto r = tx.exec_params("SELECT 1 FROM pg_stat_activity WHERE pid = $1"
                              " AND wait_event_type = 'Lock'",
                              conn.backendpid());
      return !r.empty();
    }));
  }
};

std::string new_uuid() {
  auto hex = new_random_id();
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-"
         + hex.substr(16, 4) + "-" + hex.substr(20);
}

chat_message message(const std::string& conversation, int64_t seq) {
  return {conversation, seq, new_uuid(), "ann", "hello", "2026-01-01T00:00:00.000Z",
          "t" + new_uuid()};
}

} // namespace

TEST_CASE_METHOD(two_nodes, "a takeover committed while a stale batch waits fences exactly "
                            "its conversation's rows, and the batch commits the others",
                 "[cluster][pg]") {
  auto taken = conversation();
  auto kept = conversation();
  lease(node_a, false);  // node a's lease ended: node b may take its keys
  lease(node_b, true);
  REQUIRE(claim_now(taken, node_a) == 1);
  REQUIRE(claim_now(kept, node_a) == 1);

  pqxx::work takeover{b};
  auto epoch = ownership::claim(takeover, key_kind::conversation, taken, node_b);
  REQUIRE(epoch);
  CHECK(*epoch == 2);
  auto m_taken = message(taken, 1);
  auto m_kept = message(kept, 1);
  // The stale batch of node a, under way while the claim holds the row.
  auto batch = std::async(std::launch::async, [&] {
    pqxx::work tx{a};
    auto out = chat::insert_fenced(tx, {m_taken, m_kept}, {1, 1});
    tx.commit();
    return out;
  });
  wait_until_blocked(a);
  takeover.commit();
  auto result = batch.get();
  CHECK(result.fenced == std::vector<std::string>{taken});
  CHECK(result.inserted == std::vector<std::string>{m_kept.message_id});
  CHECK(count(taken) == 0);
  CHECK(count(kept) == 1);
  // The new owner's rows go in under its epoch; node a's never again.
  pqxx::work mine{b};
  CHECK(chat::insert_fenced(mine, {message(taken, 1)}, {2}).inserted.size() == 1);
  mine.commit();
  pqxx::work late{a};
  CHECK(chat::insert_fenced(late, {message(taken, 2)}, {1}).fenced
        == std::vector<std::string>{taken});
  late.commit();
  CHECK(count(taken) == 1);
  // Each row keeps the epoch it was committed under.
  CHECK(epochs(taken) == std::vector<int64_t>{2});
  CHECK(epochs(kept) == std::vector<int64_t>{1});
}

TEST_CASE_METHOD(two_nodes, "a batch that locked its rows first commits before the takeover, "
                            "which waits and gets the next epoch",
                 "[cluster][pg]") {
  auto id = conversation();
  lease(node_a, false);
  REQUIRE(claim_now(id, node_a) == 1);
  pqxx::work batch{a};
  CHECK(chat::insert_fenced(batch, {message(id, 1)}, {1}).inserted.size() == 1);
  auto takeover = std::async(std::launch::async, [&] {
    pqxx::work tx{b};
    auto epoch = ownership::claim(tx, key_kind::conversation, id, node_b);
    tx.commit();
    return epoch;
  });
  wait_until_blocked(b);
  batch.commit();
  auto epoch = takeover.get();
  REQUIRE(epoch);
  CHECK(*epoch == 2);
  CHECK(count(id) == 1);
}

TEST_CASE_METHOD(two_nodes, "two live nodes claiming one new key at once: exactly one owns it",
                 "[cluster][pg]") {
  lease(node_a, true);
  lease(node_b, true);
  pqxx::work first{a};
  auto won = ownership::claim(first, key_kind::user, "amy", node_a);
  REQUIRE(won);
  CHECK(*won == 1);
  auto second = std::async(std::launch::async, [&] {
    pqxx::work tx{b};
    auto epoch = ownership::claim(tx, key_kind::user, "amy", node_b);
    tx.commit();
    return epoch;
  });
  wait_until_blocked(b);
  first.commit();
  auto lost = second.get();
  REQUIRE_FALSE(lost);
  CHECK(code_of(lost.error()) == errc::moved);
  // A user key and a conversation key of the same text are apart.
  pqxx::work other{b};
  CHECK(ownership::claim(other, key_kind::conversation, "amy", node_b) == int64_t{1});
  other.commit();
}
