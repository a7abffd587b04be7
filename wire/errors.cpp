#include "wire/errors.hpp"

namespace tandem::wire {

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
    case errc::moved: return "This item is moving to another node; try again";
    case errc::peer_unavailable: return "Another node did not answer in time; try again later";
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
    case errc::storage_read_only:
    case errc::moved:
    case errc::peer_unavailable: return 503;
    case errc::storage_full: return 507;
    case errc::db_timeout: return 504;
    default: return 500;
  }
}

std::string client_detail(const caf::error& err) {
  auto status = status_of(err);
  // Only our own 4xx codes may carry client text; CAF's and 5xx contexts are internal.
  if (err.category() == caf::atom("tandem") && status < 500) {
    const auto& ctx = err.context();
    if (ctx.size() >= 1 && ctx.match_element<std::string>(0)) {
      const auto& text = ctx.get_as<std::string>(0);
      if (text.find(' ') != std::string::npos)
        return text;
    }
  }
  auto fault = fault_detail(code_of(err));
  return fault ? fault : default_detail(status);
}

} // namespace tandem::wire
