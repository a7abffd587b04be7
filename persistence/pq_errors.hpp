// The one place where libpqxx exceptions become tandem error codes.
#pragma once

#include "vocabulary/messages.hpp"

#include <exception>
#include <string>

namespace tandem::persistence {

/// SQLSTATE of a statement cancelled by statement_timeout (or a cancel request).
constexpr const char* sqlstate_query_canceled = "57014";

/// Maps what `operation` threw to an error and logs it (operation name and SQLSTATE,
/// never the parameters nor the server's message, which may quote them):
/// - `pqxx::broken_connection` (and `in_doubt_error`) → `errc::db_unavailable`
/// - SQLSTATE 57014, query canceled → `errc::db_timeout`
/// - `unique_violation` → `errc::already_exists`
/// - `foreign_key_violation` → `errc::not_found`
/// - `check_violation`, `not_null_violation` → `errc::invalid_request`
/// - any other `pqxx::sql_error` → `errc::db_query_failed`
/// - anything else → `errc::internal`
/// The error's context names the operation.
caf::error db_error(const std::exception_ptr& ep, const std::string& operation);

/// Whether `err` may come from one row of a batch (a constraint, a value the database
/// refuses) rather than from the database as a whole (unreachable, slow, overloaded, or
/// no answer in time): only then does trying a batch's rows apart help.
bool is_row_error(const caf::error& err);

} // namespace tandem::persistence
