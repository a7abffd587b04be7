// Account rules without servers: argon2id hashing, input validation and the parsing of
// the Redis scripts' replies.
#include "auth/accounts.hpp"
#include "auth/auth_store.hpp"
#include "auth/password_hasher.hpp"

#include <catch2/catch.hpp>

using namespace tandem;

namespace {

const argon2_params cheap{64, 1};

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
