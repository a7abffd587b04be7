#include "http/error_mapping.hpp"

#include "config/log.hpp"

namespace tandem::http {

response error_to_response(const caf::error& err, const std::string& operation) {
  auto status = status_of(err);
  auto detail = wire::client_detail(err);
  if (status == 500)
    log::error("request failed", {{"operation", operation}, {"error", describe(err)}});
  auto res = status == 401 ? unauthorized_response(detail) : error_response(status, detail);
  // A rate limit or an overload may say when to come back: seconds after its text.
  const auto& ctx = err.context();
  if (err.category() == caf::atom("tandem") && (status == 429 || status == 503)
      && ctx.size() >= 2 && ctx.match_element<int64_t>(1))
    res.headers.emplace_back("Retry-After", std::to_string(ctx.get_as<int64_t>(1)));
  return res;
}

response unauthorized_response(const std::string& detail) {
  auto res = error_response(401, detail);
  res.headers.emplace_back("WWW-Authenticate", "Bearer");
  return res;
}

} // namespace tandem::http
