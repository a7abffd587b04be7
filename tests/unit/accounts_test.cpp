// Account rules without servers: argon2id hashing, input validation, and how errors
// become HTTP responses.
#include "auth/accounts.hpp"
#include "auth/auth_store.hpp"
#include "auth/password_hasher.hpp"
#include "http/error_mapping.hpp"

#include <catch2/catch.hpp>

using namespace tandem;

namespace {

const argon2_params cheap{64, 1};

std::optional<std::string> header_of(const http::response& res, const std::string& name) {
  for (auto& [k, v] : res.headers)
    if (k == name)
      return v;
  return std::nullopt;
}

} // namespace

TEST_CASE("argon2id hashes verify their password and nothing else", "[accounts][argon2]") {
  auto encoded = hash_password("correct horse battery", cheap);
  CHECK(encoded.rfind("$argon2id$v=19$m=64,t=1,p=1$", 0) == 0);
  CHECK(verify_password(encoded, "correct horse battery"));
  CHECK_FALSE(verify_password(encoded, "correct horse batterY"));
  CHECK_FALSE(verify_password(encoded, ""));
  CHECK(hash_password("correct horse battery", cheap) != encoded); // fresh salt each time
  CHECK_FALSE(verify_password("$argon2id$garbage", "x"));
}

TEST_CASE("a hashing session verifies an empty hash as a failed dummy", "[accounts][argon2]") {
  password_session session{cheap};
  auto encoded = session.hash("hunter2hunter2");
  CHECK(session.verify(encoded, "hunter2hunter2"));
  CHECK_FALSE(session.verify("", "hunter2hunter2"));
  CHECK_FALSE(session.verify("", ""));
}

TEST_CASE("registrations leave auth.hasher_login_reserve workers to logins, keeping one",
          "[accounts][argon2]") {
  config::auth_config cfg;
  auto share = [&](int threads, int reserve) {
    cfg.hasher_threads = threads;
    cfg.hasher_login_reserve = reserve;
    return registration_share(cfg);
  };
  CHECK(share(2, 1) == 1);
  CHECK(share(4, 1) == 3);
  CHECK(share(4, 0) == 4);
  CHECK(share(1, 1) == 1);
  CHECK(share(2, 8) == 1);
}

TEST_CASE("emails are validated and given their canonical form", "[accounts]") {
  for (const char* ok : {"a@b.co", "first.last+tag@example.com", "Ünï@exämple.org"})
    CHECK(canonical_email(ok));
  for (const char* bad : {"", "a@b", "@example.com", "a@.com", "a@com.", "a@@b.com", "a b@c.com",
                          "a@b..com", "no-at-sign.com", "a@b.com\n", "a\xE2\x80\x8B@b.com"}) {
    INFO(bad);
    auto key = canonical_email(bad);
    REQUIRE_FALSE(key);
    CHECK(code_of(key.error()) == errc::invalid_request);
  }
  CHECK_FALSE(canonical_email(std::string(65, 'a') + "@example.com"));
  CHECK_FALSE(canonical_email(std::string(64, 'a') + "@" + std::string(256, 'b') + ".com"));
  CHECK(*canonical_email("Alice@Example.COM") == "alice@example.com");
  CHECK(*canonical_email("\xE2\x84\xAA" "ate@example.com") == "kate@example.com");  // KELVIN SIGN
}

TEST_CASE("passwords need 8 to 256 characters, counted as characters", "[accounts]") {
  CHECK(code_of(validate_password("1234567")) == errc::invalid_request);
  CHECK_FALSE(validate_password("12345678"));
  CHECK_FALSE(validate_password(std::string(256, 'x')));
  CHECK(code_of(validate_password(std::string(257, 'x'))) == errc::invalid_request);
  // Seven two-byte characters are 14 bytes but only 7 characters.
  CHECK(validate_password("ééééééé"));
  CHECK_FALSE(validate_password("éééééééé"));
  // 256 three-byte characters are accepted although they are 768 bytes.
  std::string wide;
  for (int i = 0; i < 256; ++i)
    wide += "€";
  CHECK_FALSE(validate_password(wide));
}

TEST_CASE("login counters are keyed by the canonical email and never hold it", "[accounts]") {
  CHECK(auth_store::email_counter_key(*canonical_email("Alice@Example.COM"))
        == auth_store::email_counter_key(*canonical_email("alice@ｅxample.com")));
  CHECK(auth_store::email_counter_key("alice@example.com").find("alice") == std::string::npos);
}

TEST_CASE("rotation replies are parsed strictly", "[accounts]") {
  redis_reply reply;
  reply.kind = redis_reply::array;
  reply.items = {"rotated", "u1", "a@b.co", "7"};
  auto r = auth_store::parse_rotation(reply);
  REQUIRE(r);
  CHECK(r->outcome == auth_store::rotation::rotated);
  CHECK(r->who.user_id == "u1");
  CHECK(r->generation == 7);
  reply.items = {"unknown"};
  CHECK(auth_store::parse_rotation(reply)->outcome == auth_store::rotation::unknown);
  reply.items = {"rotated", "u1", "a@b.co"};
  CHECK_FALSE(auth_store::parse_rotation(reply));
  reply.items = {"rotated", "u1", "a@b.co", "seven"};
  CHECK_FALSE(auth_store::parse_rotation(reply));
  reply.kind = redis_reply::integer;
  CHECK_FALSE(auth_store::parse_rotation(reply));
}

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
