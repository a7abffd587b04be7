// The database side of the worker pool: a session owning one libpqxx connection,
// opened lazily and reopened with backoff, that runs jobs in transactions.
#pragma once

#include "config/app_config.hpp"
#include "common/backoff.hpp"
#include "persistence/worker_pool.hpp"

#include <pqxx/pqxx>

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace tandem::persistence {

/// What a database worker owns: at most one connection to PostgreSQL. Blocking:
/// used only on a detached worker's thread.
class db_session {
public:
  explicit db_session(config::db_config cfg);

  /// The open connection; valid while a job runs (`execute` connects first).
  pqxx::connection& connection();

  /// Runs `job`. Connects first if needed: a failed attempt fails the job with
  /// `errc::db_unavailable`, and so does every job during the backoff window after
  /// it. A job whose connection breaks is retried once on a fresh connection (its
  /// transaction cannot have committed: a lost COMMIT raises `in_doubt_error`,
  /// which is not retried). Exceptions become errors through `db_error`.
  completion execute(const pool_job<db_session>& job);

private:
  /// Opens the connection unless open; an error while the server is unreachable.
  caf::error ensure_connected();

  config::db_config cfg_;
  std::string dsn_;
  std::optional<pqxx::connection> conn_;
  reconnect_backoff backoff_;
};

/// `dsn` with `connect_timeout` (whole seconds, rounded up) added unless it sets one
/// already or `timeout_ms` is not positive. Handles key=value and URI forms.
std::string dsn_with_connect_timeout(const std::string& dsn, int timeout_ms);

/// Runs `fn(tx)` in a `pqxx::work` and commits; returns what `fn` returns.
/// Exceptions propagate to the session, which maps them; the transaction then
/// rolls back.
template <class F>
auto with_transaction(pqxx::connection_base& conn, F&& fn) {
  pqxx::work tx{conn};
  if constexpr (std::is_void_v<std::invoke_result_t<F&, pqxx::work&>>) {
    fn(tx);
    tx.commit();
  } else {
    auto result = fn(tx);
    tx.commit();
    return result;
  }
}

/// Spawns detached database workers: libpqxx blocks its thread.
worker_factory<db_session> db_worker_factory(config::db_config cfg);

/// Runs `fn(pqxx::work&) -> T` (or `caf::expected<T>`) as one transaction on a
/// worker of `pool` and answers the request being handled with its result or error.
/// `name` names the operation in logs; `fn` must be copyable and may run twice.
/// `owner`, when not empty, counts the job against that owner's bound (see submit).
template <class Pool, class F>
auto submit_transaction(Pool& pool, std::string name, F fn, std::string owner = {}) {
  return pool.submit(
    std::move(name),
    [fn = std::move(fn)](db_session& session) {
      return with_transaction(session.connection(), fn);
    },
    std::move(owner));
}

} // namespace tandem::persistence
