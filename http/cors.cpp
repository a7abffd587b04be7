#include "http/cors.hpp"

#include <algorithm>

namespace tandem::http {

namespace {

// x-amz-acl: PageNow's clients send it with profile image uploads (the media store
// ignores it, but a browser sends the PUT only if the preflight allows the header).
constexpr auto allowed_headers = "Authorization, Content-Type, X-Request-Id, x-amz-acl";
constexpr auto exposed_headers = "X-Request-Id, Retry-After, WWW-Authenticate";
constexpr auto preflight_max_age = "600";

} // namespace

cors_policy::cors_policy(std::vector<std::string> origins) : origins_(std::move(origins)) {
  any_ = std::find(origins_.begin(), origins_.end(), "*") != origins_.end();
}

bool cors_policy::allows(const std::string& origin) const {
  return any_ || std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

bool cors_policy::is_preflight(const request& req) {
  return req.method == "OPTIONS" && req.header("origin") && req.header("access-control-request-method");
}

void cors_policy::decorate(const std::optional<std::string>& origin, response& res) const {
  if (!origin || !allows(*origin))
    return;
  res.headers.emplace_back("Access-Control-Allow-Origin", *origin);
  res.headers.emplace_back("Access-Control-Allow-Credentials", "true");
  res.headers.emplace_back("Access-Control-Expose-Headers", exposed_headers);
  res.headers.emplace_back("Vary", "Origin");
}

response cors_policy::preflight(const request& req, const std::vector<std::string>& methods) const {
  if (!allows(*req.header("origin")))
    return error_response(403, "Origin not allowed");
  response res;
  res.status = 204;
  res.content_type.clear();
  std::string list;
  for (auto& m : methods)
    list += m + ", ";
  list += "OPTIONS";
  res.headers.emplace_back("Access-Control-Allow-Methods", list);
  res.headers.emplace_back("Access-Control-Allow-Headers", allowed_headers);
  res.headers.emplace_back("Access-Control-Max-Age", preflight_max_age);
  return res;  // the server adds the Allow-Origin headers to every response

}

} // namespace tandem::http
