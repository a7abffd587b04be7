// Access tokens: issuing and verifying, every forged token we know of, external RS256
// ID tokens from a JWKS and the claims they must carry, the production key rules, and
// the cache of external identities.
#include "auth/external_identities.hpp"
#include "auth/tokens.hpp"
#include "config/secrets.hpp"

#include <catch2/catch.hpp>
#include <jwt.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>

using namespace tandem;
using json = nlohmann::json;

namespace {

constexpr int64_t t0 = 1'700'000'000;
const std::string our_key = "unit-test-key-0123456789abcdef-0123456789abcdef";
const std::string external_issuer = "https://cognito-idp.example/pool";

// -- helpers to forge tokens ----------------------------------------------------------

std::string b64url(const std::string& bytes) {
  constexpr auto variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(out.size() - 1);
  return out;
}

std::string b64url_decode(const std::string& text) {
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  REQUIRE(sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                            text.size(), nullptr, &len, nullptr,
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING)
          == 0);
  out.resize(len);
  return out;
}

/// Signs `claims` with libjwt under `alg` and `key`, with extra header fields.
std::string sign(jwt_alg_t alg, const std::string& key, const json& claims,
                 const std::map<std::string, std::string>& headers = {}) {
  jwt_t* raw = nullptr;
  REQUIRE(jwt_new(&raw) == 0);
  std::unique_ptr<jwt_t, void (*)(jwt_t*)> token{raw, jwt_free};
  REQUIRE(jwt_add_grants_json(raw, claims.dump().c_str()) == 0);
  for (auto& [k, v] : headers)
    REQUIRE(jwt_add_header(raw, k.c_str(), v.c_str()) == 0);
  auto key_ptr = key.empty() ? nullptr : reinterpret_cast<const unsigned char*>(key.data());
  REQUIRE(jwt_set_alg(raw, alg, key_ptr, static_cast<int>(key.size())) == 0);
  char* encoded = jwt_encode_str(raw);
  REQUIRE(encoded != nullptr);
  std::string out{encoded};
  std::free(encoded);
  return out;
}

json our_claims(int64_t iat = t0) {
  return {{"sub", "user-1"}, {"email", "a@example.com"}, {"iss", "tandem"},
          {"aud", "tandem-clients"}, {"iat", iat}, {"exp", iat + 900}, {"jti", "j"}};
}

token_settings our_settings() {
  token_settings s;
  s.key = our_key;
  s.issuer = "tandem";
  s.audience = "tandem-clients";
  s.access_ttl_s = 900;
  return s;
}

/// A 2048-bit RSA key generated once per run, as PEM and as JWK n/e.
struct rsa_key {
  std::string private_pem;
  std::string public_pem;
  std::string n;
  std::string e;
};

std::string bn_b64url(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(pkey, name, &bn) == 1);
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_free(bn);
  return b64url(bytes);
}

rsa_key make_rsa_key(unsigned bits = 2048) {
  EVP_PKEY* pkey = EVP_RSA_gen(bits);
  REQUIRE(pkey != nullptr);
  auto pem = [&](bool priv) {
    BIO* bio = BIO_new(BIO_s_mem());
    REQUIRE((priv ? PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr)
                  : PEM_write_bio_PUBKEY(bio, pkey))
            == 1);
    char* data = nullptr;
    auto len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(len));
    BIO_free(bio);
    return out;
  };
  rsa_key key{pem(true), pem(false), bn_b64url(pkey, OSSL_PKEY_PARAM_RSA_N),
              bn_b64url(pkey, OSSL_PKEY_PARAM_RSA_E)};
  EVP_PKEY_free(pkey);
  return key;
}

const rsa_key& issuer_key() {
  static const rsa_key key = make_rsa_key();
  return key;
}

const rsa_key& other_key() {
  static const rsa_key key = make_rsa_key();
  return key;
}

json jwks_of(const std::string& kid, const rsa_key& key) {
  return {{"keys", json::array({{{"kty", "RSA"}, {"alg", "RS256"}, {"use", "sig"},
                                 {"kid", kid}, {"n", key.n}, {"e", key.e}}})}};
}

token_settings external_settings() {
  auto s = our_settings();
  s.external_issuer = external_issuer;
  s.external_audience = "client-123";
  s.external_keys = jwks_to_pem(jwks_of("kid-1", issuer_key()).dump());
  return s;
}

json id_token_claims(int64_t iat = t0) {
  return {{"sub", "6f0c-uuid"}, {"cognito:username", "google_1234"}, {"email", "g@example.com"},
          {"iss", external_issuer}, {"aud", "client-123"}, {"token_use", "id"},
          {"iat", iat}, {"exp", iat + 3600}};
}

void check_refused(const token_check& c) {
  CHECK_FALSE(c.accepted());
  CHECK_FALSE(c.failure.empty());
}

std::string sign_id_token(const json& claims) {
  return sign(JWT_ALG_RS256, issuer_key().private_pem, claims, {{"kid", "kid-1"}});
}

} // namespace

// -- our own tokens ---------------------------------------------------------------------

TEST_CASE("an issued access token verifies to its identity until it expires", "[tokens]") {
  token_service svc{our_settings()};
  auto issued = svc.issue(identity{"user-1", "a@example.com"}, "session-1", t0);
  CHECK(issued.expires_in == 900);

  auto checked = svc.verify(issued.token, t0 + 899);
  REQUIRE(checked.who.has_value());
  CHECK(checked.who->user_id == "user-1");
  CHECK(checked.who->email == "a@example.com");

  auto parts = issued.token.substr(issued.token.find('.') + 1);
  auto claims = json::parse(b64url_decode(parts.substr(0, parts.find('.'))));
  CHECK(claims["iss"] == "tandem");
  CHECK(claims["aud"] == "tandem-clients");
  CHECK(claims["iat"] == t0);
  CHECK(claims["exp"] == t0 + 900);
  CHECK(claims["jti"].get<std::string>().size() == 32);
  CHECK(claims["sid"] == "session-1");
  CHECK(checked.session == "session-1");
  CHECK(checked.expires_at == t0 + 900);
  CHECK(svc.issue(identity{"user-1", "a@example.com"}, "session-1", t0).token != issued.token);

  auto expired = svc.verify(issued.token, t0 + 900);
  CHECK_FALSE(expired.who.has_value());
  CHECK(expired.failure == "Token expired");
}

TEST_CASE("a missing or garbage token is refused", "[tokens]") {
  token_service svc{our_settings()};
  CHECK(svc.verify("", t0).failure == "Not authenticated");
  for (const char* garbage : {"garbage", "a.b", "a.b.c", "a.b.c.d", "..", "...", "e30.e30.",
                              "%%%.@@@.###", "eyJhbGciOiJIUzI1NiJ9.e30"})
    check_refused(svc.verify(garbage, t0));
  check_refused(svc.verify(std::string(token_service::max_token_size + 1, 'a'), t0));
}

TEST_CASE("alg none is refused, with or without a signature", "[tokens]") {
  token_service svc{our_settings()};
  auto unsigned_token = sign(JWT_ALG_NONE, "", our_claims());
  CHECK(unsigned_token.back() == '.');
  check_refused(svc.verify(unsigned_token, t0));
  // The same header and claims with a signature glued on.
  check_refused(svc.verify(unsigned_token + "c2lnbmF0dXJl", t0));
  auto header = b64url(R"({"alg":"none","typ":"JWT"})");
  check_refused(svc.verify(header + "." + b64url(our_claims().dump()) + ".", t0));
  auto mixed_case = b64url(R"({"alg":"None"})");
  check_refused(svc.verify(mixed_case + "." + b64url(our_claims().dump()) + ".AAAA", t0));
}

TEST_CASE("HS256 tokens signed with another key are refused", "[tokens]") {
  token_service svc{our_settings()};
  check_refused(svc.verify(sign(JWT_ALG_HS256, "some-other-key-0123456789abcdef", our_claims()), t0));
  auto other = our_settings();
  other.key = "another-deployment-key-0123456789abcdef";
  check_refused(svc.verify(token_service{other}.issue(identity{"user-1", "a@x.io"}, "s", t0).token, t0));
}

TEST_CASE("other HMAC algorithms are refused even with our key", "[tokens]") {
  token_service svc{our_settings()};
  check_refused(svc.verify(sign(JWT_ALG_HS384, our_key, our_claims()), t0));
  check_refused(svc.verify(sign(JWT_ALG_HS512, our_key, our_claims()), t0));
}

TEST_CASE("an RS256 token with our claims is refused", "[tokens]") {
  token_service plain{our_settings()};
  auto forged = sign(JWT_ALG_RS256, issuer_key().private_pem, our_claims(), {{"kid", "kid-1"}});
  check_refused(plain.verify(forged, t0));
  // Signed by the external issuer's own key but claiming to be ours: wrong issuer.
  token_service external{external_settings()};
  check_refused(external.verify(forged, t0));
  // Signed by a key outside the JWKS under a known kid.
  auto claims = id_token_claims();
  check_refused(external.verify(
    sign(JWT_ALG_RS256, other_key().private_pem, claims, {{"kid", "kid-1"}}), t0));
}

TEST_CASE("HS256 keyed with the issuer's RSA public key is refused (key confusion)", "[tokens]") {
  auto settings = external_settings();
  token_service svc{settings};
  const auto& pem = settings.external_keys.at("kid-1");
  check_refused(svc.verify(sign(JWT_ALG_HS256, pem, id_token_claims(), {{"kid", "kid-1"}}), t0));
  check_refused(svc.verify(sign(JWT_ALG_HS256, pem, our_claims(), {{"kid", "kid-1"}}), t0));
  check_refused(svc.verify(sign(JWT_ALG_HS256, issuer_key().public_pem, our_claims()), t0));
}

TEST_CASE("a token of another issuer or audience is refused", "[tokens]") {
  token_service svc{our_settings()};
  auto claims = our_claims();
  claims["iss"] = "someone-else";
  check_refused(svc.verify(sign(JWT_ALG_HS256, our_key, claims), t0));
  claims = our_claims();
  claims["aud"] = "another-app";
  check_refused(svc.verify(sign(JWT_ALG_HS256, our_key, claims), t0));
  claims.erase("aud");
  check_refused(svc.verify(sign(JWT_ALG_HS256, our_key, claims), t0));
  claims["aud"] = json::array({"another-app", "tandem-clients"});
  CHECK(svc.verify(sign(JWT_ALG_HS256, our_key, claims), t0).who.has_value());
}

TEST_CASE("a token without exp or sub is refused", "[tokens]") {
  token_service svc{our_settings()};
  auto claims = our_claims();
  claims.erase("exp");
  check_refused(svc.verify(sign(JWT_ALG_HS256, our_key, claims), t0));
  claims = our_claims();
  claims["exp"] = "never";
  check_refused(svc.verify(sign(JWT_ALG_HS256, our_key, claims), t0));
  claims = our_claims();
  claims.erase("sub");
  check_refused(svc.verify(sign(JWT_ALG_HS256, our_key, claims), t0));
  // Past any date's seconds (the fuzzer's find: once an undefined conversion to int64).
  for (double exp : {1.7e25, -1.7e25, 1e300}) {
    claims = our_claims();
    claims["exp"] = exp;
    check_refused(svc.verify(sign(JWT_ALG_HS256, our_key, claims), t0));
  }
}

TEST_CASE("a tampered payload or header is refused", "[tokens]") {
  token_service svc{our_settings()};
  auto token = svc.issue(identity{"user-1", "a@example.com"}, "session-1", t0).token;
  auto first = token.find('.');
  auto second = token.find('.', first + 1);
  auto claims = json::parse(b64url_decode(token.substr(first + 1, second - first - 1)));
  claims["sub"] = "admin";
  auto forged = token.substr(0, first + 1) + b64url(claims.dump()) + token.substr(second);
  check_refused(svc.verify(forged, t0));
  claims["sub"] = "user-1";
  claims["exp"] = t0 + 999999;
  check_refused(svc.verify(token.substr(0, first + 1) + b64url(claims.dump()) + token.substr(second), t0));
  auto header = b64url(R"({"alg":"HS256","typ":"JWT","kid":"x"})");
  check_refused(svc.verify(header + token.substr(first), t0));
  // A flipped signature character.
  auto flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  check_refused(svc.verify(flipped, t0));
}

TEST_CASE("only the one base64url spelling of a valid token is accepted", "[tokens]") {
  token_service svc{our_settings()};
  auto token = svc.issue(identity{"user-1", "a@example.com"}, "session-1", t0).token;
  REQUIRE(svc.verify(token, t0).who.has_value());
  // 32 MAC bytes in 43 characters leave the last character two unused bits: setting
  // one spells the same bytes differently, which a lenient decoder would take.
  const std::string alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  auto last = alphabet.find(token.back());
  REQUIRE(last % 4 == 0);
  auto respelled = token;
  respelled.back() = alphabet[last + 1];
  check_refused(svc.verify(respelled, t0));
  // Padding, blanks and the standard alphabet are not base64url.
  check_refused(svc.verify(token + "=", t0));
  check_refused(svc.verify(" " + token, t0));
  check_refused(svc.verify(token + "\n", t0));
  auto dot = token.find('.');
  check_refused(svc.verify(token.substr(0, dot) + " " + token.substr(dot), t0));
  auto standard = token;
  for (char& c : standard)
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  if (standard != token)
    check_refused(svc.verify(standard, t0));
}

// -- external ID tokens ----------------------------------------------------------------------

TEST_CASE("an external RS256 ID token names its subject, never a Tandem user id",
          "[tokens][external]") {
  token_service svc{external_settings()};
  auto token = sign_id_token(id_token_claims());
  auto checked = svc.verify(token, t0 + 10);
  REQUIRE(checked.accepted());
  CHECK_FALSE(checked.who.has_value());
  REQUIRE(checked.external.has_value());
  CHECK(checked.external->issuer == external_issuer);
  CHECK(checked.external->subject == "google_1234");
  CHECK(checked.external->email == "g@example.com");
  CHECK(svc.verify(token, t0 + 3600).failure == "Token expired");
  // A subject spelled like a native user id is still only an external subject.
  auto claims = id_token_claims();
  claims["cognito:username"] = "user-1";
  checked = svc.verify(sign_id_token(claims), t0);
  CHECK_FALSE(checked.who.has_value());
  REQUIRE(checked.external.has_value());
  CHECK(checked.external->subject == "user-1");
}

TEST_CASE("external tokens with a wrong kid, issuer or audience are refused", "[tokens][external]") {
  token_service svc{external_settings()};
  const auto& pem = issuer_key().private_pem;
  check_refused(svc.verify(sign(JWT_ALG_RS256, pem, id_token_claims(), {{"kid", "kid-2"}}), t0));
  check_refused(svc.verify(sign(JWT_ALG_RS256, pem, id_token_claims()), t0));
  auto claims = id_token_claims();
  claims["iss"] = "https://cognito-idp.example/other-pool";
  check_refused(svc.verify(sign(JWT_ALG_RS256, pem, claims, {{"kid", "kid-1"}}), t0));
  claims = id_token_claims();
  claims["aud"] = "another-client";
  check_refused(svc.verify(sign(JWT_ALG_RS256, pem, claims, {{"kid", "kid-1"}}), t0));
  claims = id_token_claims();
  claims.erase("cognito:username");
  check_refused(svc.verify(sign(JWT_ALG_RS256, pem, claims, {{"kid", "kid-1"}}), t0));
  // RS384 with the right key is not the pinned algorithm.
  check_refused(svc.verify(sign(JWT_ALG_RS384, pem, id_token_claims(), {{"kid", "kid-1"}}), t0));
}

TEST_CASE("without a configured audience external tokens are accepted for any aud", "[tokens][external]") {
  auto settings = external_settings();
  settings.external_audience.clear();
  token_service svc{settings};
  auto claims = id_token_claims();
  claims["aud"] = "whatever";
  CHECK(svc.verify(sign_id_token(claims), t0).accepted());
}

TEST_CASE("external tokens must be ID tokens: token_use id", "[tokens][external]") {
  token_service svc{external_settings()};
  auto claims = id_token_claims();
  claims["token_use"] = "access";
  check_refused(svc.verify(sign_id_token(claims), t0));
  claims["token_use"] = json::array({"id"});
  check_refused(svc.verify(sign_id_token(claims), t0));
  claims.erase("token_use");
  check_refused(svc.verify(sign_id_token(claims), t0));
  claims["token_use"] = "id";
  CHECK(svc.verify(sign_id_token(claims), t0).accepted());
}

TEST_CASE("external subjects that cannot be stored are refused", "[tokens][external]") {
  token_service svc{external_settings()};
  auto claims = id_token_claims();
  // (A NUL never gets this far: libjwt's JSON parser refuses it.)
  for (auto subject : {std::string{}, std::string(257, 'a'), std::string{"line\nbreak"},
                       std::string{"del\x7f"}}) {
    claims["cognito:username"] = subject;
    check_refused(svc.verify(sign_id_token(claims), t0));
  }
  claims["cognito:username"] = 42;
  check_refused(svc.verify(sign_id_token(claims), t0));
  claims["cognito:username"] = std::string(256, 'a');
  CHECK(svc.verify(sign_id_token(claims), t0).accepted());
}

TEST_CASE("iat or nbf later than now plus the clock leeway is refused", "[tokens][external]") {
  auto settings = external_settings();
  settings.clock_leeway_s = 60;
  token_service svc{settings};
  auto ours = [&](const json& claims) { return sign(JWT_ALG_HS256, our_key, claims); };
  for (const char* name : {"iat", "nbf"}) {
    INFO(name);
    auto external = id_token_claims();
    auto own = our_claims();
    // At the limit: the issuer's clock may run up to the leeway ahead of ours.
    external[name] = t0 + 60;
    own[name] = t0 + 60;
    CHECK(svc.verify(sign_id_token(external), t0).accepted());
    CHECK(svc.verify(ours(own), t0).accepted());
    external[name] = t0 + 61;
    own[name] = t0 + 61;
    auto refused = svc.verify(sign_id_token(external), t0);
    check_refused(refused);
    CHECK(refused.failure == "Token not yet valid");
    check_refused(svc.verify(ours(own), t0));
    external[name] = "now";
    check_refused(svc.verify(sign_id_token(external), t0));
  }
  settings.clock_leeway_s = 0;
  token_service strict{settings};
  auto claims = id_token_claims();
  claims["nbf"] = t0 + 1;
  check_refused(strict.verify(sign_id_token(claims), t0));
  CHECK(strict.verify(sign_id_token(claims), t0 + 1).accepted());
}

TEST_CASE("a bad JWKS document is refused with a reason", "[tokens][external]") {
  CHECK_THROWS_AS(jwks_to_pem("not json"), std::invalid_argument);
  CHECK_THROWS_AS(jwks_to_pem(R"({"keys": []})"), std::invalid_argument);
  CHECK_THROWS_AS(jwks_to_pem(R"({"keys": [{"kty": "RSA", "kid": "a", "n": "!!", "e": "AQAB"}]})"),
                  std::invalid_argument);
  json no_kid = jwks_of("x", issuer_key());
  no_kid["keys"][0].erase("kid");
  CHECK_THROWS_AS(jwks_to_pem(no_kid.dump()), std::invalid_argument);
  json twice = jwks_of("x", issuer_key());
  twice["keys"].push_back(twice["keys"][0]);
  CHECK_THROWS_AS(jwks_to_pem(twice.dump()), std::invalid_argument);
  CHECK_THROWS_WITH(jwks_to_pem(jwks_of("weak", make_rsa_key(1024)).dump()),
                    Catch::Contains("2048"));
  // EC keys are skipped, RSA keys kept.
  json mixed = jwks_of("rsa", issuer_key());
  mixed["keys"].push_back({{"kty", "EC"}, {"kid", "ec"}, {"crv", "P-256"}});
  auto keys = jwks_to_pem(mixed.dump());
  CHECK(keys.size() == 1);
  CHECK(keys.at("rsa").rfind("-----BEGIN PUBLIC KEY-----", 0) == 0);
}

// -- configuration ----------------------------------------------------------------------------

TEST_CASE("production mode refuses missing, short and development keys", "[tokens][config]") {
  config::app_config cfg;
  cfg.node.mode = "production";
  CHECK_THROWS_AS(config::resolve_jwt_key(cfg), config::config_error);
  CHECK_THROWS_AS(token_service::from_config(cfg), config::config_error);
  cfg.auth.jwt_key = config::development_jwt_key;
  CHECK_THROWS_WITH(config::resolve_jwt_key(cfg), Catch::Contains("development key"));
  cfg.auth.jwt_key = "too-short";
  CHECK_THROWS_AS(config::resolve_jwt_key(cfg), config::config_error);
  cfg.auth.jwt_key = our_key;
  CHECK(config::resolve_jwt_key(cfg) == our_key);
  CHECK_THROWS_AS(config::resolve_media_url_key(cfg), config::config_error);
  cfg.media.url_key = config::development_media_url_key;
  CHECK_THROWS_AS(config::resolve_media_url_key(cfg), config::config_error);
  cfg.media.url_key = our_key;
  CHECK(config::resolve_media_url_key(cfg) == our_key);
}

TEST_CASE("development mode falls back to the development key", "[tokens][config]") {
  config::app_config cfg;
  CHECK(config::resolve_jwt_key(cfg) == config::development_jwt_key);
  CHECK(config::resolve_media_url_key(cfg) == config::development_media_url_key);
  cfg.auth.jwt_key = "x";
  cfg.auth.jwt_key_file = "/nonexistent";
  CHECK_THROWS_WITH(config::resolve_jwt_key(cfg), Catch::Contains("not both"));
  cfg.auth.jwt_key.clear();
  CHECK_THROWS_WITH(config::resolve_jwt_key(cfg), Catch::Contains("/nonexistent"));
}

TEST_CASE("the key file is read without its trailing newline", "[tokens][config]") {
  auto path = std::string{"/tmp/tandem-unit-key-"} + new_random_id();
  std::ofstream{path} << our_key << "\n";
  config::app_config cfg;
  cfg.node.mode = "production";
  cfg.auth.jwt_key_file = path;
  CHECK(config::resolve_jwt_key(cfg) == our_key);
  std::remove(path.c_str());
}

TEST_CASE("production mode requires an audience for external tokens", "[tokens][config]") {
  auto path = std::string{"/tmp/tandem-unit-jwks-"} + new_random_id();
  std::ofstream{path} << jwks_of("kid-1", issuer_key()).dump();
  config::app_config cfg;
  cfg.node.mode = "production";
  cfg.auth.jwt_key = our_key;
  cfg.auth.external_issuer = external_issuer;
  cfg.auth.external_jwks_file = path;
  CHECK_THROWS_WITH(token_service::from_config(cfg), Catch::Contains("auth.external_audience"));
  cfg.auth.external_audience = "client-123";
  CHECK(token_service::from_config(cfg) != nullptr);
  cfg.node.mode = "development";
  cfg.auth.external_audience.clear();
  CHECK(token_service::from_config(cfg) != nullptr);
  std::remove(path.c_str());
}

TEST_CASE("a bad JWKS file stops the start with a clear error", "[tokens][config]") {
  config::app_config cfg;
  cfg.auth.jwt_key = our_key;
  cfg.auth.external_issuer = external_issuer;
  cfg.auth.external_jwks_file = "/nonexistent/jwks.json";
  CHECK_THROWS_WITH(token_service::from_config(cfg), Catch::Contains("auth.external_jwks_file"));
  auto path = std::string{"/tmp/tandem-unit-jwks-"} + new_random_id();
  std::ofstream{path} << R"({"keys": "nope"})";
  cfg.auth.external_jwks_file = path;
  CHECK_THROWS_WITH(token_service::from_config(cfg), Catch::Contains("not a JWKS"));
  std::ofstream{path} << jwks_of("kid-1", issuer_key()).dump();
  CHECK(token_service::from_config(cfg) != nullptr);
  std::remove(path.c_str());
  cfg.auth.external_jwks_file.clear();
  CHECK_THROWS_AS(token_service::from_config(cfg), config::config_error);
}

// -- external identities ---------------------------------------------------------------------

TEST_CASE("the identity cache holds its limit and drops the least recently used",
          "[tokens][identities]") {
  identity_cache cache{2};
  cache.insert("iss", "a", "id-a");
  cache.insert("iss", "b", "id-b");
  CHECK(cache.size() == 2);
  CHECK(cache.find("iss", "a") == "id-a");  // now a is the most recently used
  cache.insert("iss", "c", "id-c");
  CHECK(cache.size() == 2);
  CHECK_FALSE(cache.find("iss", "b").has_value());
  CHECK(cache.find("iss", "a") == "id-a");
  CHECK(cache.find("iss", "c") == "id-c");
  // The same subject of another issuer is another identity.
  CHECK_FALSE(cache.find("other-iss", "a").has_value());
  cache.insert("iss", "c", "id-c");
  CHECK(cache.size() == 2);
  CHECK_THROWS_AS(identity_cache{0}, std::invalid_argument);
}

// -- refresh token material ----------------------------------------------------------------------

TEST_CASE("refresh tokens name their family and generation under our MAC", "[tokens]") {
  token_service svc{our_settings()};
  auto family = new_random_id();
  auto first = svc.refresh_token(family, 0);
  auto later = svc.refresh_token(family, 41);
  CHECK(first.size() < 256);
  auto read = svc.read_refresh_token(later);
  REQUIRE(read.has_value());
  CHECK(read->family == family);
  CHECK(read->generation == 41);
  CHECK(svc.read_refresh_token(first)->generation == 0);

  // Anything not made with our key, or bent after, is not a token: no lookup is made.
  auto other = our_settings();
  other.key = std::string(32, 'z');
  CHECK_FALSE(svc.read_refresh_token(token_service{other}.refresh_token(family, 0)));
  auto bumped = later;
  bumped.replace(family.size() + 1, 2, "40");
  CHECK_FALSE(svc.read_refresh_token(bumped));
  CHECK_FALSE(svc.read_refresh_token(later.substr(0, later.size() - 1)));
  CHECK_FALSE(svc.read_refresh_token("dGhlIG9sZCBzY2hlbWUncyA0MyBjaGFyYWN0ZXJzIHh4eA"));
  CHECK_FALSE(svc.read_refresh_token(""));
  CHECK_FALSE(svc.read_refresh_token(".."));
  CHECK_FALSE(svc.read_refresh_token("ABC." + later.substr(family.size() + 1)));
  // The MAC is not an access token signature.
  CHECK_FALSE(svc.verify(first, t0).accepted());
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
