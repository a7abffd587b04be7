// How errors become HTTP responses: the status of each error code, which text reaches
// the client, and the headers of rate limits and refused tokens.
#include "http/error_mapping.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>

using namespace tandem;

namespace {

std::optional<std::string> header_of(const http::response& res, const std::string& name) {
  for (auto& [k, v] : res.headers)
    if (k == name)
      return v;
  return std::nullopt;
}

} // namespace

TEST_CASE("every error code maps to its status", "[http][errors]") {
  using http::status_of;
  CHECK(status_of(caf::make_error(errc::invalid_request)) == 400);
  CHECK(status_of(caf::make_error(errc::unauthorized)) == 401);
  CHECK(status_of(caf::make_error(errc::forbidden)) == 403);
  CHECK(status_of(caf::make_error(errc::not_found)) == 404);
  CHECK(status_of(caf::make_error(errc::already_exists)) == 409);
  CHECK(status_of(caf::make_error(errc::payload_too_large)) == 413);
  CHECK(status_of(caf::make_error(errc::rate_limited)) == 429);
  CHECK(status_of(caf::make_error(errc::overloaded)) == 503);
  CHECK(status_of(caf::make_error(errc::db_unavailable)) == 503);
  CHECK(status_of(caf::make_error(errc::redis_unavailable)) == 503);
  CHECK(status_of(caf::make_error(errc::storage_read_only)) == 503);
  CHECK(status_of(caf::make_error(errc::storage_full)) == 507);
  CHECK(status_of(caf::make_error(errc::db_timeout)) == 504);
  CHECK(status_of(caf::make_error(caf::sec::request_timeout)) == 504);
  CHECK(status_of(caf::make_error(errc::db_query_failed)) == 500);
  CHECK(status_of(caf::make_error(errc::redis_error)) == 500);
  CHECK(status_of(caf::make_error(errc::internal)) == 500);
  CHECK(status_of(caf::make_error(caf::sec::unexpected_message)) == 500);
}

TEST_CASE("client text shows for 4xx only, and rate limits carry Retry-After", "[http][errors]") {
  auto res = http::error_to_response(
    caf::make_error(errc::invalid_request, "password must be 8 to 256 characters long"), "t");
  CHECK(res.status == 400);
  CHECK(res.body == R"({"detail":"password must be 8 to 256 characters long"})");
  // An operation name (persistence/pq_errors) is not client text.
  res = http::error_to_response(caf::make_error(errc::already_exists, "create_account"), "t");
  CHECK(res.body == R"({"detail":"Already exists"})");
  res = http::error_to_response(caf::make_error(errc::db_unavailable, "cannot connect now"), "t");
  CHECK(res.status == 503);
  CHECK(res.body.find("cannot connect") == std::string::npos);
  res = http::error_to_response(
    caf::make_error(errc::rate_limited, "Too many failed logins; try again later", int64_t{42}),
    "t");
  CHECK(res.status == 429);
  CHECK(header_of(res, "Retry-After") == "42");
  res = http::error_to_response(caf::make_error(errc::unauthorized, "Invalid refresh token"), "t");
  CHECK(res.status == 401);
  CHECK(header_of(res, "WWW-Authenticate") == "Bearer");
}

TEST_CASE("the media store's faults answer a detail of their own", "[http][errors]") {
  auto res = http::error_to_response(caf::make_error(errc::storage_full, "media_put"), "t");
  CHECK(res.status == 507);
  CHECK(res.body == R"({"detail":"The media store is full; try again later"})");
  res = http::error_to_response(caf::make_error(errc::storage_read_only, "media_put"), "t");
  CHECK(res.status == 503);
  CHECK(res.body == R"({"detail":"The media store cannot be written; try again later"})");
}
