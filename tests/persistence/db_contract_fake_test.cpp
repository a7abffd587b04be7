// The contract of social_db and chat_db (db_contract.hpp) and of lease_db
// (lease_contract.hpp) held by the in-memory fakes that the actor tests run on, under the
// same deterministic scheduler.
#include "tests/persistence/db_contract.hpp"
#include "tests/persistence/lease_contract.hpp"
#include "tests/support/fake_chat_db.hpp"
#include "tests/support/fake_lease_db.hpp"
#include "tests/support/fake_social_db.hpp"
#include "tests/support/sim_fixture.hpp" // last: defines expect, _ and friends

using namespace tandem_test;

namespace {

struct fake_subject : sim_fixture {
  fake_social_store social_store;
  fake_chat_store chat_store;
  persistence::social_db social_db = sys.spawn(fake_social_db, &social_store);
  persistence::chat_db chat_db = sys.spawn(fake_chat_db, &chat_store);
  fake_lease_store lease_store;
  persistence::lease_db lease_db = sys.spawn(fake_lease_db, &lease_store);
  int conversations = 0;

  ~fake_subject() {
    caf::anon_send_exit(social_db, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(chat_db, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(lease_db, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void add_user(const std::string& id, const std::string& first_name) {
    social_store.add_user(id, first_name, "X");
  }

  std::string conversation(const std::vector<std::string>& members, bool is_group) {
    auto id = "00000000-0000-4000-8000-" + std::string(11, '0') + std::to_string(++conversations);
    chat_store.members[id] = members;
    if (!is_group)
      chat_store.direct.insert(id);
    return id;
  }

  void set_lease(const node_identity& node, bool live) {
    for (auto* owners : {&social_store.owners, &chat_store.owners}) {
      if (live)
        owners->live[node.id] = node.incarnation;
      else
        owners->live.erase(node.id);
    }
  }

  persistence::social_db social() {
    return social_db;
  }

  persistence::chat_db chat() {
    return chat_db;
  }

  persistence::lease_db leases() {
    return lease_db;
  }

  /// The fake's "database clock" is the actor clock: virtual time.
  void let_time_pass(std::chrono::milliseconds d) {
    sched.clock().advance_time(d);
    sched.run();
  }

  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& hdl, Ts... xs) {
    auto out = request_from<T>(sys, hdl, xs...);
    sched.run();
    if (out->value)
      return std::move(*out->value);
    if (out->error)
      return std::move(*out->error);
    return caf::make_error(caf::sec::request_timeout, "the fake did not answer");
  }
};

} // namespace

TEST_CASE_METHOD(fake_subject, "the fake social database keeps the contract of social_db",
                 "[contract]") {
  contract::social_db_contract(*this);
}

TEST_CASE_METHOD(fake_subject, "the fake chat database keeps the contract of chat_db",
                 "[contract]") {
  contract::chat_db_contract(*this);
}

TEST_CASE_METHOD(fake_subject, "the fake lease store keeps the contract of lease_db",
                 "[contract]") {
  contract::lease_db_contract(*this);
}

TEST_CASE_METHOD(fake_subject, "the fake databases keep the contract of ownership",
                 "[contract]") {
  contract::ownership_contract(*this);
}
