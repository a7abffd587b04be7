#include "vocabulary/messages.hpp"

namespace tandem {

const char* to_string(errc x) {
  switch (x) {
    case errc::none: return "none";
    case errc::invalid_request: return "invalid_request";
    case errc::unauthorized: return "unauthorized";
    case errc::forbidden: return "forbidden";
    case errc::not_found: return "not_found";
    case errc::already_exists: return "already_exists";
    case errc::payload_too_large: return "payload_too_large";
    case errc::rate_limited: return "rate_limited";
    case errc::overloaded: return "overloaded";
    case errc::db_unavailable: return "db_unavailable";
    case errc::db_timeout: return "db_timeout";
    case errc::db_query_failed: return "db_query_failed";
    case errc::redis_unavailable: return "redis_unavailable";
    case errc::redis_error: return "redis_error";
    case errc::internal: return "internal";
    case errc::storage_full: return "storage_full";
    case errc::storage_read_only: return "storage_read_only";
    case errc::moved: return "moved";
    case errc::peer_unavailable: return "peer_unavailable";
  }
  return "unknown";
}

errc code_of(const caf::error& err) {
  if (!err)
    return errc::none;
  if (err.category() != caf::atom("tandem"))
    return errc::internal;
  return static_cast<errc>(err.code());
}

std::string describe(const caf::error& err) {
  if (!err)
    return "none";
  if (err.category() != caf::atom("tandem"))
    return caf::to_string(err);
  std::string out = to_string(static_cast<errc>(err.code()));
  if (!err.context().empty())
    out += ": " + caf::deep_to_string(err.context());
  return out;
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::tandem>();
  cfg.add_error_category(caf::atom("tandem"),
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           return std::string{"tandem::"} + to_string(static_cast<errc>(code))
                                  + (ctx.empty() ? "" : caf::deep_to_string(ctx));
                         });
}

} // namespace tandem
