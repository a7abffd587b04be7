// Messages shared across folders: the project's error codes, atoms and the one
// CAF type-id block. Included by persistence/, actors/ and http/.
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

/// Error codes carried in `caf::error` (category "tandem") across actors.
enum class errc : uint8_t {
  none = 0,
  invalid_request,    ///< The input failed validation (400).
  unauthorized,       ///< Missing or bad credentials (401).
  forbidden,          ///< Authenticated but not allowed (403).
  not_found,          ///< No such resource (404).
  already_exists,     ///< A unique key is taken (409).
  payload_too_large,  ///< A body or frame over its limit (413).
  rate_limited,       ///< Too many attempts (429).
  overloaded,         ///< A bounded queue is full; try again later (503).
  db_unavailable,     ///< PostgreSQL cannot be reached (503).
  db_timeout,         ///< A statement ran past statement_timeout (504).
  db_query_failed,    ///< Any other database error (500).
  redis_unavailable,  ///< Redis cannot be reached or timed out (503).
  redis_error,        ///< Redis answered with an error reply (500).
  internal,           ///< A bug or an unexpected exception (500).
};

/// A short stable name for logs and `detail` texts ("db_unavailable").
const char* to_string(errc x);

/// Renders an error of any category for logs.
std::string describe(const caf::error& err);

/// The tandem code of `err`, or `errc::internal` for errors of other categories.
errc code_of(const caf::error& err);

/// One reply of Redis, flattened for messaging.
struct redis_reply {
  enum kind_t : uint8_t { nil, status, string, integer, array, error };
  uint8_t kind = nil;
  std::string str;                 ///< status, string and error replies
  int64_t integer_value = 0;       ///< integer replies
  std::vector<std::string> items;  ///< array replies (nested arrays are flattened)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, redis_reply& x) {
  return f(caf::meta::type_name("redis_reply"), x.kind, x.str, x.integer_value, x.items);
}

} // namespace tandem

CAF_ERROR_CODE_ENUM(tandem::errc, "tandem")

CAF_BEGIN_TYPE_ID_BLOCK(tandem, caf::first_custom_type_id)
  // -- atoms for persistence -------------------------------------------------
  CAF_ADD_ATOM(tandem, tandem::atom, ping, "ping")
  CAF_ADD_ATOM(tandem, tandem::atom, run, "run")
  CAF_ADD_ATOM(tandem, tandem::atom, migrations, "migrations")
  CAF_ADD_ATOM(tandem, tandem::atom, command, "command")
  CAF_ADD_ATOM(tandem, tandem::atom, stats, "stats")
  // -- message types ---------------------------------------------------------
  CAF_ADD_TYPE_ID(tandem, (tandem::redis_reply))
CAF_END_TYPE_ID_BLOCK(tandem)

namespace tandem {

/// Registers the project's message types and error renderer with a config.
void add_message_types(caf::actor_system_config& cfg);

} // namespace tandem
