#include "persistence/pq_errors.hpp"

#include "config/log.hpp"

#include <pqxx/pqxx>

namespace tandem::persistence {

namespace {

/// Logs the failure of `operation` and returns `code` with the operation as context.
caf::error report(errc code, log::level lvl, const std::string& operation,
                  const std::string& sqlstate = {}, const std::string& detail = {}) {
  nlohmann::json fields = {{"operation", operation}, {"error", to_string(code)}};
  if (!sqlstate.empty())
    fields["sqlstate"] = sqlstate;
  if (!detail.empty())
    fields["detail"] = detail;
  log::write(lvl, "database operation failed", std::move(fields));
  return caf::make_error(code, operation);
}

} // namespace

caf::error db_error(const std::exception_ptr& ep, const std::string& operation) {
  using log::level;
  try {
    std::rethrow_exception(ep);
  } catch (const pqxx::in_doubt_error&) {
    // The connection broke during COMMIT: the outcome is unknown, the server is not.
    return report(errc::db_unavailable, level::error, operation, {},
                  "connection lost during commit, outcome unknown");
  } catch (const pqxx::broken_connection&) {
    return report(errc::db_unavailable, level::warn, operation);
  } catch (const pqxx::unique_violation& e) {
    // Constraint violations are expected answers to valid requests (an email that
    // is taken): debug, not warnings.
    return report(errc::already_exists, level::debug, operation, e.sqlstate());
  } catch (const pqxx::foreign_key_violation& e) {
    return report(errc::not_found, level::debug, operation, e.sqlstate());
  } catch (const pqxx::check_violation& e) {
    return report(errc::invalid_request, level::debug, operation, e.sqlstate());
  } catch (const pqxx::not_null_violation& e) {
    return report(errc::invalid_request, level::debug, operation, e.sqlstate());
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == sqlstate_query_canceled)
      return report(errc::db_timeout, level::warn, operation, e.sqlstate());
    return report(errc::db_query_failed, level::error, operation, e.sqlstate());
  } catch (const std::exception& e) {
    // Not a server error (a conversion, a misuse of libpqxx): a bug of ours, whose
    // text the log needs.
    return report(errc::internal, level::error, operation, {}, e.what());
  } catch (...) {
    return report(errc::internal, level::error, operation);
  }
}

bool is_row_error(const caf::error& err) {
  if (err.category() != caf::atom("tandem"))
    return false;
  switch (code_of(err)) {
    case errc::db_unavailable:
    case errc::db_timeout:
    case errc::overloaded:
      return false;
    default:
      return true;
  }
}

} // namespace tandem::persistence
