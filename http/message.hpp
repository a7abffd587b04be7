// Beast-free request and response types that routes and handlers work with, so
// that only http/server.cpp compiles Beast and handlers stay cheap to build and test.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tandem {
struct token_check; // auth/tokens.hpp
} // namespace tandem

namespace tandem::http {

using json = nlohmann::json;

struct request {
  std::string method;                                      ///< "GET", "POST", ...
  std::string path;                                        ///< decoded, without the query
  std::map<std::string, std::string> query;                ///< decoded query parameters
  std::map<std::string, std::string> params;               ///< path parameters of the route
  std::vector<std::pair<std::string, std::string>> headers;///< names in lower case
  std::string body;
  std::string request_id;
  std::string remote_address;                              ///< the peer's IP address
  /// The access token as the route's head check verified it, so that the handler does
  /// not verify it again; null when no check ran.
  std::shared_ptr<const token_check> token;

  /// The first header named `name` (lower case), if any.
  std::optional<std::string> header(const std::string& name) const;
};

struct response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Delivers the response for one request. Callable once, from any thread:
/// the server posts it back to the connection's strand.
using responder = std::function<void(response)>;

/// Handles one routed request; must not block (hand work to actors instead).
using handler = std::function<void(request&, responder)>;

/// `{"detail": detail}` with the given status.
response error_response(unsigned status, const std::string& detail);

/// A JSON body with the given status.
response json_response(unsigned status, const json& body);

/// A 200 with JSON text rendered beforehand (a user actor's polled view).
response rendered_json(std::string body);

/// Parses the body as JSON whatever the Content-Type (PageNow's registration
/// form sends text/plain), through wire::parse_client_json: so every string of the body
/// is UTF-8 without NUL. Returns nullopt and fills `error` (a 400 response) when the
/// body is empty, not JSON, not such text, or not an object.
std::optional<json> parse_json_object(const request& req, response& error);

/// `parse_json_object` that answers the 400 itself through `respond`.
std::optional<json> parse_json_object(const request& req, const responder& respond);

/// The JSON object body decoded by `decode(body, detail)` (a decoder of wire/), or
/// nullopt after answering 400: the body's own fault, or `detail` from the decoder.
/// The one way a route reads a body.
template <class Decode>
auto decoded_body(const request& req, Decode decode, const responder& respond)
  -> decltype(decode(std::declval<const json&>(), std::declval<std::string&>())) {
  auto body = parse_json_object(req, respond);
  if (!body)
    return std::nullopt;
  std::string detail;
  auto value = decode(*body, detail);
  if (!value)
    respond(error_response(400, detail));
  return value;
}

} // namespace tandem::http
