#include "http/error_mapping.hpp"

#include "config/log.hpp"

namespace tandem::http {

namespace {

const char* default_detail(unsigned status) {
  switch (status) {
    case 400: return "Invalid request";
    case 401: return "Not authenticated";
    case 403: return "Forbidden";
    case 404: return "Not found";
    case 409: return "Already exists";
    case 413: return "Payload too large";
    case 429: return "Too many requests; try again later";
    case 503: return "Service temporarily unavailable; try again later";
    case 504: return "Timed out; try again later";
    default: return "Internal server error";
  }
}

/// Details that say more than the status, for store faults a client can only wait out.
const char* fault_detail(errc code) {
  switch (code) {
    case errc::storage_full: return "The media store is full; try again later";
    case errc::storage_read_only: return "The media store cannot be written; try again later";
    default: return nullptr;
  }
}

} // namespace

unsigned status_of(const caf::error& err) {
  if (err == caf::sec::request_timeout)
    return 504;
  switch (code_of(err)) {
    case errc::invalid_request: return 400;
    case errc::unauthorized: return 401;
    case errc::forbidden: return 403;
    case errc::not_found: return 404;
    case errc::already_exists: return 409;
    case errc::payload_too_large: return 413;
    case errc::rate_limited: return 429;
    case errc::overloaded:
    case errc::db_unavailable:
    case errc::redis_unavailable:
    case errc::storage_read_only: return 503;
    case errc::storage_full: return 507;
    case errc::db_timeout: return 504;
    default: return 500;
  }
}

response error_to_response(const caf::error& err, const std::string& operation) {
  auto status = status_of(err);
  const auto& ctx = err.context();
  // Only our own 4xx codes may carry client text; CAF's and 5xx contexts are internal.
  auto own = err.category() == caf::atom("tandem");
  auto fault = fault_detail(code_of(err));
  auto detail = std::string{fault ? fault : default_detail(status)};
  if (own && status < 500 && ctx.size() >= 1 && ctx.match_element<std::string>(0)) {
    const auto& text = ctx.get_as<std::string>(0);
    if (text.find(' ') != std::string::npos)
      detail = text;
  }
  if (status == 500)
    log::error("request failed", {{"operation", operation}, {"error", describe(err)}});
  auto res = status == 401 ? unauthorized_response(detail) : error_response(status, detail);
  if (own && (status == 429 || status == 503) && ctx.size() >= 2 && ctx.match_element<int64_t>(1))
    res.headers.emplace_back("Retry-After", std::to_string(ctx.get_as<int64_t>(1)));
  return res;
}

response unauthorized_response(const std::string& detail) {
  auto res = error_response(401, detail);
  res.headers.emplace_back("WWW-Authenticate", "Bearer");
  return res;
}

} // namespace tandem::http
