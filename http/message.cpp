#include "http/message.hpp"

#include "wire/wire_json.hpp"

namespace tandem::http {

std::optional<std::string> request::header(const std::string& name) const {
  for (auto& [k, v] : headers)
    if (k == name)
      return v;
  return std::nullopt;
}

response error_response(unsigned status, const std::string& detail) {
  return json_response(status, json{{"detail", detail}});
}

response json_response(unsigned status, const json& body) {
  response res;
  res.status = status;
  res.body = wire::to_text(body);
  return res;
}

response rendered_json(std::string body) {
  response res;
  res.body = std::move(body);
  return res;
}

std::optional<json> parse_json_object(const request& req, response& error) {
  std::string bad_text;
  auto parsed = wire::parse_client_json(req.body, bad_text);
  if (!bad_text.empty()) {
    error = error_response(400, bad_text);
    return std::nullopt;
  }
  if (parsed.is_discarded()) {
    error = error_response(400, req.body.empty() ? "Request body is empty; expected a JSON object"
                                                 : "Request body is not valid JSON");
    return std::nullopt;
  }
  if (!parsed.is_object()) {
    error = error_response(400, "Request body must be a JSON object");
    return std::nullopt;
  }
  return parsed;
}

std::optional<json> parse_json_object(const request& req, const responder& respond) {
  response error;
  auto body = parse_json_object(req, error);
  if (!body)
    respond(std::move(error));
  return body;
}

} // namespace tandem::http
