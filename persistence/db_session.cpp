#include "persistence/db_session.hpp"

#include "config/log.hpp"
#include "persistence/pq_errors.hpp"

namespace tandem::persistence {

namespace {

bool is_uri(const std::string& dsn) {
  return dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
}

} // namespace

std::string dsn_with_connect_timeout(const std::string& dsn, int timeout_ms) {
  if (timeout_ms <= 0 || dsn.find("connect_timeout") != std::string::npos)
    return dsn;
  // libpq counts whole seconds: round up so that 1500 ms does not become 1 s.
  auto seconds = std::to_string((timeout_ms + 999) / 1000);
  if (is_uri(dsn))
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" + seconds;
  return dsn + " connect_timeout=" + seconds;
}

db_session::db_session(config::db_config cfg)
    : cfg_(std::move(cfg)), dsn_(dsn_with_connect_timeout(cfg_.dsn, cfg_.connect_timeout_ms)) {
  // nop
}

pqxx::connection& db_session::connection() {
  return *conn_;
}

caf::error db_session::ensure_connected() {
  if (conn_)
    return {};
  auto now = reconnect_backoff::clock::now();
  if (!backoff_.may_attempt(now))
    return caf::make_error(errc::db_unavailable, "waiting to reconnect");
  try {
    conn_.emplace(dsn_);
    // set_variable, unlike a plain SET, is replayed by libpqxx if it ever
    // reactivates the connection by itself.
    conn_->set_variable("statement_timeout", std::to_string(cfg_.statement_timeout_ms));
    backoff_.succeeded();
    log::info("database connected", {{"statement_timeout_ms", cfg_.statement_timeout_ms}});
    return {};
  } catch (const std::exception& e) {
    conn_.reset();
    auto wait = backoff_.failed(now);
    // libpq's connection errors name host and port, never the password.
    log::warn("database connection failed",
              {{"error", e.what()},
               {"retry_in_ms",
                std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()}});
    return caf::make_error(errc::db_unavailable, "cannot connect");
  }
}

completion db_session::execute(const pool_job<db_session>& job) {
  for (int attempt = 1;; ++attempt) {
    if (auto err = ensure_connected())
      return job.fail(std::move(err));
    try {
      return job.run(*this);
    } catch (const pqxx::broken_connection&) {
      conn_.reset();
      if (attempt == 1) {
        log::warn("database connection lost, retrying once", {{"operation", job.name}});
        continue;
      }
      return job.fail(db_error(std::current_exception(), job.name));
    } catch (...) {
      // Other errors leave the connection usable, unless the server went away
      // while reporting them (e.g. an administrator shutdown).
      if (!conn_->is_open())
        conn_.reset();
      return job.fail(db_error(std::current_exception(), job.name));
    }
  }
}

worker_factory<db_session> db_worker_factory(config::db_config cfg) {
  return [cfg = std::move(cfg)](caf::actor_system& sys) {
    return sys.spawn<caf::detached>(pool_worker_impl<db_session, config::db_config>, cfg);
  };
}

} // namespace tandem::persistence
