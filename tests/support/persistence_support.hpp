// The fixtures of the integration tests: a real actor system with a blocking request
// helper, migrated PostgreSQL databases, the Redis of the run, a deadline poll, and a
// guard that restarts a stopped server.
#pragma once

#include "vocabulary/messages.hpp"
#include "config/app_config.hpp"
#include "persistence/migrations.hpp"
#include "vocabulary/messages.hpp"
#include "tests/support/test_env.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>

namespace tandem::test {

/// A real actor system (the workers under test are detached threads) and a
/// blocking caller, which tests may use and actors may not.
struct actor_system_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  caf::scoped_actor self{sys};

  static caf::actor_system_config& init(caf::actor_system_config& c) {
    tandem::add_message_types(c);
    c.set("scheduler.max-threads", 2);
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    return c;
  }

  /// Requests `xs` from `hdl` and waits for the reply of type `T` or an error.
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& hdl, std::chrono::milliseconds timeout, Ts&&... xs) {
    caf::expected<T> result{caf::make_error(caf::sec::unexpected_response)};
    self->request(hdl, timeout, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }
};

/// A database of its own with every migration applied; its DSN.
inline std::string migrated_database() {
  auto dsn = create_fresh_database();
  pqxx::connection setup{dsn};
  persistence::apply_migrations(setup);
  return dsn;
}

/// `node`'s row of cluster_nodes in the database of `dsn`, its lease an hour ahead of
/// the database clock (`live`) or behind it.
inline void set_lease(const std::string& dsn, const node_identity& node, bool live) {
  pqxx::connection conn{dsn};
  pqxx::work tx{conn};
  tx.exec_params("INSERT INTO cluster_nodes (node_id, incarnation, address, lease_expires_at)"
                 " VALUES ($1, $2, 'http://test', now() + $3 * interval '1 hour')"
                 " ON CONFLICT (node_id) DO UPDATE SET incarnation = EXCLUDED.incarnation,"
                 " lease_expires_at = EXCLUDED.lease_expires_at",
                 node.id, node.incarnation, live ? 1 : -1);
  tx.commit();
}

/// The configuration of a small database actor on a migrated database of its own.
inline config::db_config migrated_db_config() {
  config::db_config cfg;
  cfg.dsn = migrated_database();
  cfg.pool_size = 2;
  return cfg;
}

/// A migrated database of its own and an open transaction on it, for the tests of
/// SQL functions.
struct migrated_db {
  pqxx::connection conn{migrated_database()};
  pqxx::work tx{conn};
};

/// The Redis of the run, for a pool of two.
inline config::redis_config redis_config() {
  config::redis_config cfg;
  cfg.host = redis_host();
  cfg.port = redis_port();
  cfg.pool_size = 2;
  cfg.queue_limit = 64;
  cfg.timeout_ms = 2000;
  return cfg;
}

/// Polls `pred` every 50 ms until it holds or `deadline` has passed.
template <class Predicate>
bool eventually(std::chrono::milliseconds deadline, Predicate pred) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

/// Stops a test server ("pg" or "redis") and starts it again when asked, or at the
/// latest when the test ends, so that a failed test leaves it running.
class stopped_service {
public:
  explicit stopped_service(std::string name) : name_(std::move(name)) {
    services(name_ + "-stop");
  }

  stopped_service(const stopped_service&) = delete;
  stopped_service& operator=(const stopped_service&) = delete;

  void start() {
    started_ = true;
    services(name_ + "-start");
  }

  ~stopped_service() {
    if (!started_) {
      auto cmd = required_env("TANDEM_TEST_SERVICES") + " " + name_ + "-start";
      if (std::system(cmd.c_str()) != 0)
        WARN("could not restart " << name_ << " after a failed test: " << cmd);
    }
  }

private:
  std::string name_;
  bool started_ = false;
};

} // namespace tandem::test
