// The group commit of chat messages against a real PostgreSQL: a row the database
// refuses fails alone, everyone else's messages in its batch are committed.
#include "auth/tokens.hpp"
#include "persistence/db.hpp"
#include "persistence/message_writer.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

using namespace tandem;
using namespace tandem::persistence;
using namespace std::chrono_literals;

namespace {

struct writer_fixture : test::actor_system_fixture {
  config::db_config cfg = test::migrated_db_config();
  std::string dsn = cfg.dsn;
  db_actor db;
  std::shared_ptr<message_writer_counters> counters = std::make_shared<message_writer_counters>();
  message_writer_actor writer;

  writer_fixture() {
    db = spawn_db(sys, cfg, caf::timespan{0});
    message_writer_settings s;
    s.commit_batch = 4;
    s.commit_delay = 30s;  // the batch goes when its 4th row arrives, not on a timer
    s.request_timeout = 10s;
    writer = spawn_message_writer(sys, db, s, counters);
  }

  ~writer_fixture() {
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(db, caf::exit_reason::user_shutdown);
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

  std::string scalar(const std::string& sql) {
    pqxx::connection conn{dsn};
    pqxx::read_transaction tx{conn};
    return tx.exec1(sql)[0].as<std::string>();
  }
};

/// A random UUID in the form PostgreSQL prints.
std::string new_uuid() {
  auto hex = new_random_id();
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-"
         + hex.substr(16, 4) + "-" + hex.substr(20);
}

chat_message message(const std::string& conversation, std::string content, std::string temp_id) {
  return {conversation, 1, new_uuid(), "ann", std::move(content), "2026-01-01T00:00:00.000Z",
          std::move(temp_id)};
}

} // namespace

TEST_CASE_METHOD(writer_fixture, "a row the database refuses fails alone in its batch",
                 "[chat][pg]") {
  // Checked before it joins a batch: text with NUL never reaches the database.
  auto nul = ask<bool>(writer, 10s, atom::write_message_v,
                       message(conversation(), std::string{"a\0b", 3}, "t0"));
  REQUIRE_FALSE(nul);
  CHECK(code_of(nul.error()) == errc::invalid_request);

  std::vector<chat_message> batch{
    message(conversation(), "first", "t1"),
    message(conversation(), std::string(1001, 'x'), "t2"),  // past the content CHECK
    message(conversation(), "third", "t3"),
    message(new_uuid(), "no such conversation", "t4"),      // a foreign key violation
  };
  std::vector<caf::expected<bool>> replies(batch.size(), caf::make_error(caf::sec::unexpected_response));
  std::vector<decltype(self->request(writer, 20s, atom::write_message_v, batch[0]))> pending;
  for (const auto& m : batch)
    pending.push_back(self->request(writer, 20s, atom::write_message_v, m));
  for (std::size_t i = 0; i < pending.size(); ++i)
    pending[i].receive([&, i](bool stored) { replies[i] = stored; },
                       [&, i](caf::error& err) { replies[i] = std::move(err); });

  REQUIRE(replies[0]);
  CHECK(*replies[0]);
  REQUIRE(replies[2]);
  CHECK(*replies[2]);
  REQUIRE_FALSE(replies[1]);
  CHECK(code_of(replies[1].error()) == errc::invalid_request);
  REQUIRE_FALSE(replies[3]);
  CHECK(code_of(replies[3].error()) == errc::not_found);

  CHECK(scalar("SELECT string_agg(content, ',' ORDER BY content) FROM messages") == "first,third");
  // Committed transactions and their messages; the two refused rows, not the halves.
  CHECK(counters->batches == 2);
  CHECK(counters->messages == 2);
  CHECK(counters->failed_batches == 2);
  CHECK(counters->largest_batch == 1);
  // Each batched write's wait is observed once, when it is answered (the split halves are
  // not); the NUL one never joined a batch.
  CHECK(counters->latency.load().count == 4);
  auto sizes = counters->batch_sizes.load();
  CHECK(sizes.count == 2);
  CHECK(sizes.sum == 2);
  CHECK(sizes.cumulative.front() == 2);  // both at most 1 message
}

TEST_CASE_METHOD(writer_fixture,
                 "the writer refuses a message past chat.writer_queue_limit and counts it",
                 "[chat][pg]") {
  auto own = std::make_shared<message_writer_counters>();
  message_writer_settings s;
  s.commit_batch = 8;
  s.commit_delay = 2s;  // the three messages wait for the timer, which comes after the fourth
  s.queue_limit = 3;
  s.request_timeout = 10s;
  auto limited = spawn_message_writer(sys, db, s, own);
  // One conversation each: the messages all have seq 1.
  std::vector<std::string> ids{conversation(), conversation(), conversation(), conversation()};
  std::vector<decltype(self->request(limited, 20s, atom::write_message_v, message(ids[0], "", "")))>
    pending;
  for (const auto& id : ids)
    pending.push_back(self->request(limited, 20s, atom::write_message_v, message(id, "m", "t")));
  // Answered at once: three wait, the fourth is one too many.
  caf::error refused;
  pending[3].receive([](bool) {}, [&](caf::error& err) { refused = std::move(err); });
  CHECK(code_of(refused) == errc::overloaded);
  CHECK(own->waiting == 3);
  CHECK(own->refused == 1);
  for (int i = 0; i < 3; ++i) {
    bool stored = false;
    pending[static_cast<std::size_t>(i)].receive([&](bool ok) { stored = ok; },
                                                 [](caf::error&) {});
    CHECK(stored);
  }
  CHECK(own->waiting == 0);
  CHECK(own->messages == 3);
  // The three waited for the 2 s timer: their commit latency says so.
  auto latency = own->latency.load();
  CHECK(latency.count == 3);
  CHECK(latency.sum >= 3 * 1900000);
  caf::anon_send_exit(limited, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(writer_fixture,
                 "in a cluster a batch fails the writes of a conversation claimed away with "
                 "errc::moved and commits the others",
                 "[chat][pg][cluster]") {
  auto taken = conversation();
  auto kept = conversation();
  auto claim = [&](const std::string& id, const node_identity& node) {
    auto epoch = ask<int64_t>(db, 10s, atom::claim_conversation_v, id, node);
    REQUIRE(epoch);
    return *epoch;
  };
  const node_identity self_node{"node-a", 1}, other{"node-b", 2};
  REQUIRE(claim(taken, self_node) == 1);
  REQUIRE(claim(kept, self_node) == 1);
  // node-a has no cluster_nodes row (its lease is gone): node-b takes one key over.
  REQUIRE(claim(taken, other) == 2);
  // Claimed before any write is sent: a claim between two writes would let the first batch
  // commit meanwhile, and the last write then waits for the 30 s timer alone.
  std::vector<std::string> more{conversation(), conversation()};
  for (const auto& id : more)
    REQUIRE(claim(id, self_node) == 1);
  std::vector<chat_message> batch{message(taken, "stale", "t1"), message(kept, "fine", "t2")};
  std::vector<caf::expected<bool>> replies(batch.size(), caf::make_error(caf::sec::unexpected_response));
  std::vector<decltype(self->request(writer, 20s, atom::write_message_v, batch[0], int64_t{1}))>
    pending;
  for (const auto& m : batch)
    pending.push_back(self->request(writer, 20s, atom::write_message_v, m, int64_t{1}));
  // The batch goes with its 4th row: two writes of a single node's conversation fill it
  // (and show that unfenced writes never join a fenced batch).
  auto unfenced = conversation();
  auto plain = self->request(writer, 20s, atom::write_message_v, message(unfenced, "plain", "t3"));
  std::vector<decltype(self->request(writer, 20s, atom::write_message_v, batch[0], int64_t{1}))>
    filler;
  for (const auto& id : more)
    filler.push_back(self->request(writer, 20s, atom::write_message_v, message(id, "more", "t4"),
                                   int64_t{1}));
  for (std::size_t i = 0; i < pending.size(); ++i)
    pending[i].receive([&, i](bool stored) { replies[i] = stored; },
                       [&, i](caf::error& err) { replies[i] = std::move(err); });
  REQUIRE_FALSE(replies[0]);
  CHECK(code_of(replies[0].error()) == errc::moved);
  REQUIRE(replies[1]);
  CHECK(*replies[1]);
  bool plain_stored = false;
  plain.receive([&](bool stored) { plain_stored = stored; }, [](caf::error&) {});
  CHECK(plain_stored);
  for (auto& f : filler)
    f.receive([](bool stored) { CHECK(stored); }, [](caf::error& err) { FAIL(describe(err)); });
  CHECK(scalar("SELECT string_agg(content, ',' ORDER BY content) FROM messages")
        == "fine,more,more,plain");
  CHECK(counters->batches == 3);  // [stale, fine], [plain], [more, more]
  CHECK(counters->failed_batches == 0);
}
