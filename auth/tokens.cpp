#include "auth/tokens.hpp"

#include "auth/sodium.hpp"
#include "common/wall_clock.hpp"
#include "config/secrets.hpp"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace tandem {

namespace {

using json = nlohmann::json;

// -- small RAII wrappers for the C libraries -------------------------------------

struct jwt_deleter {
  void operator()(jwt_t* p) const noexcept {
    jwt_free(p);
  }
};
using jwt_ptr = std::unique_ptr<jwt_t, jwt_deleter>;

struct free_deleter {
  void operator()(char* p) const noexcept {
    std::free(p);
  }
};
using c_string = std::unique_ptr<char, free_deleter>;

template <class T, void (*Free)(T*)>
struct ossl_deleter {
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using bn_ptr = std::unique_ptr<BIGNUM, ossl_deleter<BIGNUM, BN_free>>;
using bld_ptr = std::unique_ptr<OSSL_PARAM_BLD, ossl_deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using param_ptr = std::unique_ptr<OSSL_PARAM, ossl_deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, ossl_deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, ossl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using bio_ptr = std::unique_ptr<BIO, ossl_deleter<BIO, BIO_free_all>>;

std::optional<std::string> base64url_decode(const std::string& in) {
  std::string out(in.size() * 3 / 4 + 3, '\0');
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(),
                        in.size(), nullptr, &len, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING)
        != 0
      || end != in.data() + in.size())
    return std::nullopt;
  out.resize(len);
  return out;
}

std::string base64url_encode(const unsigned char* data, std::size_t len) {
  constexpr auto variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(len, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data, len, variant);
  out.resize(out.size() - 1); // the terminating NUL written by libsodium
  return out;
}

std::string hex(const unsigned char* data, std::size_t len) {
  std::string out(len * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, len);
  out.resize(len * 2);
  return out;
}

// -- token parsing -----------------------------------------------------------------

const char* const invalid_token = "Invalid token";
const char* const malformed_token = "Malformed token";
const char* const expired_token = "Token expired";
const char* const premature_token = "Token not yet valid";

/// The three dot-separated parts of a compact JWS.
struct jws_parts {
  std::string header;
  std::string payload;
  std::string signature;
};

std::optional<jws_parts> split_jws(const std::string& token) {
  auto first = token.find('.');
  if (first == std::string::npos)
    return std::nullopt;
  auto second = token.find('.', first + 1);
  if (second == std::string::npos || token.find('.', second + 1) != std::string::npos)
    return std::nullopt;
  jws_parts parts{token.substr(0, first), token.substr(first + 1, second - first - 1),
                  token.substr(second + 1)};
  // An empty signature is what alg "none" produces: never a token of ours.
  if (parts.header.empty() || parts.payload.empty() || parts.signature.empty())
    return std::nullopt;
  return parts;
}

/// A base64url segment of a JWS (the JOSE header, or the claims) as a JSON object, or
/// nullopt.
std::optional<json> decode_json_segment(const std::string& part) {
  auto text = base64url_decode(part);
  if (!text)
    return std::nullopt;
  auto parsed = json::parse(*text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return std::nullopt;
  return parsed;
}

std::string string_member(const json& obj, const char* name) {
  auto i = obj.find(name);
  return i != obj.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

/// Decodes and verifies `token` with libjwt under exactly `alg` and `key`; returns the
/// claims, or nullopt when libjwt rejects the token or reports another algorithm.
std::optional<json> decode_claims(const std::string& token, jwt_alg_t alg, const std::string& key) {
  jwt_t* raw = nullptr;
  auto rc = jwt_decode(&raw, token.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                       static_cast<int>(key.size()));
  jwt_ptr decoded{raw};
  if (rc != 0 || !decoded || jwt_get_alg(decoded.get()) != alg)
    return std::nullopt;
  c_string grants{jwt_get_grants_json(decoded.get(), nullptr)};
  if (!grants)
    return std::nullopt;
  auto claims = json::parse(grants.get(), nullptr, false);
  if (claims.is_discarded() || !claims.is_object())
    return std::nullopt;
  return claims;
}

bool audience_matches(const json& claims, const std::string& expected) {
  auto aud = claims.find("aud");
  if (aud == claims.end())
    return false;
  if (aud->is_string())
    return aud->get<std::string>() == expected;
  if (aud->is_array())
    for (auto& item : *aud)
      if (item.is_string() && item.get<std::string>() == expected)
        return true;
  return false;
}

/// Whether `claims` has no `name`, or a number no later than `latest`.
bool not_after(const json& claims, const char* name, int64_t latest) {
  auto t = claims.find(name);
  return t == claims.end() || (t->is_number() && t->get<double>() <= static_cast<double>(latest));
}

/// The `exp` claim in whole seconds: none when it is missing, not a number, or too large
/// for the seconds of a date (a forged or fuzzed 1.7e25 must not reach a conversion to
/// int64, whose overflow is undefined).
std::optional<int64_t> expiry_of(const json& claims) {
  constexpr double latest = 1e15; // about 31 million years from 1970
  auto exp = claims.find("exp");
  if (exp == claims.end() || !exp->is_number())
    return std::nullopt;
  auto seconds = exp->get<double>();
  if (!(seconds > -latest && seconds < latest)) // NaN too
    return std::nullopt;
  return static_cast<int64_t>(std::floor(seconds));
}

/// Empty when `claims` are current at `now`: `exp` after it, `iat` and `nbf` (when
/// present) no later than `now + leeway_s`, which absorbs the issuer's clock running
/// ahead of ours. Otherwise the failure text.
std::string check_times(const json& claims, int64_t now, int64_t leeway_s) {
  auto exp = expiry_of(claims);
  if (!exp)
    return invalid_token;
  if (*exp <= now)
    return expired_token;
  if (!not_after(claims, "iat", now + leeway_s) || !not_after(claims, "nbf", now + leeway_s))
    return premature_token;
  return {};
}

/// User ids are text of 1..128 characters in the schema.
bool valid_user_id(const std::string& id) {
  return !id.empty() && id.size() <= 128;
}

/// An external subject is stored (external_identities.subject): 1..256 bytes without
/// control characters (the JSON parser has already refused invalid UTF-8).
bool valid_subject(const std::string& subject) {
  return !subject.empty() && subject.size() <= 256
         && std::none_of(subject.begin(), subject.end(), [](char c) {
              return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
            });
}

token_check refused(std::string failure) {
  return {std::nullopt, std::nullopt, std::move(failure), {}, 0};
}

// -- JWKS ------------------------------------------------------------------------

std::string rsa_public_pem(const std::string& kid, const std::string& n_b64,
                           const std::string& e_b64) {
  auto fail = [&kid](const std::string& why) {
    return std::invalid_argument("JWKS key \"" + kid + "\": " + why);
  };
  auto n_bytes = base64url_decode(n_b64);
  auto e_bytes = base64url_decode(e_b64);
  if (!n_bytes || !e_bytes || n_bytes->empty() || e_bytes->empty())
    throw fail("n and e must be non-empty base64url");
  bn_ptr n{BN_bin2bn(reinterpret_cast<const unsigned char*>(n_bytes->data()),
                     static_cast<int>(n_bytes->size()), nullptr)};
  bn_ptr e{BN_bin2bn(reinterpret_cast<const unsigned char*>(e_bytes->data()),
                     static_cast<int>(e_bytes->size()), nullptr)};
  if (!n || !e)
    throw fail("cannot read n or e");
  // Shorter moduli are factorable; every mainstream issuer (Cognito included) uses 2048+.
  if (BN_num_bits(n.get()) < 2048)
    throw fail("RSA modulus shorter than 2048 bits");
  bld_ptr bld{OSSL_PARAM_BLD_new()};
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1
      || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1)
    throw fail("cannot build key parameters");
  param_ptr params{OSSL_PARAM_BLD_to_param(bld.get())};
  pkey_ctx_ptr ctx{EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr)};
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1
      || EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    throw fail("not a valid RSA public key");
  pkey_ptr key{raw};
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1)
    throw fail("cannot encode the key as PEM");
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string read_file(const std::string& path, const char* key) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw config::config_error(std::string{key} + ": cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

// -- free functions ------------------------------------------------------------------

std::map<std::string, std::string> jwks_to_pem(const std::string& jwks_json) {
  auto doc = json::parse(jwks_json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    throw std::invalid_argument("not a JWKS document: expected {\"keys\": [...]}");
  std::map<std::string, std::string> keys;
  for (auto& jwk : doc["keys"]) {
    if (!jwk.is_object())
      throw std::invalid_argument("JWKS entries must be objects");
    auto use = string_member(jwk, "use");
    auto alg = string_member(jwk, "alg");
    if (string_member(jwk, "kty") != "RSA" || (!use.empty() && use != "sig")
        || (!alg.empty() && alg != "RS256"))
      continue;
    auto kid = string_member(jwk, "kid");
    if (kid.empty())
      throw std::invalid_argument("JWKS RSA key without a kid");
    if (keys.count(kid) != 0)
      throw std::invalid_argument("JWKS key \"" + kid + "\" appears twice");
    keys.emplace(kid, rsa_public_pem(kid, string_member(jwk, "n"), string_member(jwk, "e")));
  }
  if (keys.empty())
    throw std::invalid_argument("JWKS holds no RS256 signing key");
  return keys;
}

std::string new_random_id() {
  ensure_sodium();
  unsigned char bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  return hex(bytes, sizeof bytes);
}

std::string sha256_hex(const std::string& text) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  return hex(digest, sizeof digest);
}

// -- token_service ---------------------------------------------------------------------

namespace {

/// The raw 32-byte HMAC-SHA256 of `text` under a key of any length.
std::string hmac_sha256(const std::string& key, const std::string& text) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(text.data()),
                                text.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
}

/// Families are new_random_id(): 32 lower-case hex digits.
bool valid_family(const std::string& family) {
  return family.size() == 32 && std::all_of(family.begin(), family.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

} // namespace

token_service::token_service(token_settings settings) : settings_(std::move(settings)) {
  ensure_sodium();
  if (settings_.key.empty())
    throw std::invalid_argument("token_service needs an HS256 key");
  // A key of its own: a refresh token MAC is never a valid access token signature.
  refresh_key_ = hmac_sha256(settings_.key, "tandem refresh token");
}

std::string token_service::refresh_mac(const std::string& body) const {
  auto mac = hmac_sha256(refresh_key_, body);
  return base64url_encode(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

std::string token_service::refresh_token(const std::string& family, int64_t generation) const {
  auto body = family + "." + std::to_string(generation);
  return body + "." + refresh_mac(body);
}

std::optional<token_service::refresh_claim>
token_service::read_refresh_token(const std::string& token) const {
  auto first = token.find('.');
  auto last = token.rfind('.');
  if (first == std::string::npos || first == last)
    return std::nullopt;
  auto family = token.substr(0, first);
  auto generation = token.substr(first + 1, last - first - 1);
  if (!valid_family(family) || generation.empty() || generation.size() > 18
      || !std::all_of(generation.begin(), generation.end(),
                      [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  auto expected = refresh_mac(token.substr(0, last));
  auto presented = token.substr(last + 1);
  if (presented.size() != expected.size()
      || sodium_memcmp(presented.data(), expected.data(), expected.size()) != 0)
    return std::nullopt;
  return refresh_claim{std::move(family), std::stoll(generation)};
}

std::shared_ptr<const token_service> token_service::from_config(const config::app_config& cfg) {
  const auto& auth = cfg.auth;
  token_settings s;
  s.key = config::resolve_jwt_key(cfg);
  s.issuer = auth.issuer;
  s.audience = auth.audience;
  s.access_ttl_s = auth.access_ttl_s;
  s.clock_leeway_s = auth.clock_leeway_s;
  s.external_issuer = auth.external_issuer;
  s.external_audience = auth.external_audience;
  s.external_user_claim = auth.external_user_claim;
  if (auth.external_issuer.empty() != auth.external_jwks_file.empty())
    throw config::config_error(
      "auth.external_issuer and auth.external_jwks_file must be set together");
  // Without an audience, an ID token the pool issued to any other app client would do.
  if (!auth.external_issuer.empty() && auth.external_audience.empty()
      && cfg.node.mode == "production")
    throw config::config_error(
      "node.mode=production requires auth.external_audience when auth.external_issuer is set");
  if (!auth.external_jwks_file.empty()) {
    try {
      s.external_keys = jwks_to_pem(read_file(auth.external_jwks_file, "auth.external_jwks_file"));
    } catch (const std::invalid_argument& e) {
      throw config::config_error("auth.external_jwks_file: " + auth.external_jwks_file + ": "
                                 + e.what());
    }
  }
  return std::make_shared<const token_service>(std::move(s));
}

access_token token_service::issue(const identity& who, const std::string& session,
                                   int64_t now) const {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0)
    throw std::bad_alloc();
  jwt_ptr token{raw};
  auto exp = now + settings_.access_ttl_s;
  auto jti = new_random_id();
  const auto& key = settings_.key;
  if (jwt_add_grant(raw, "sub", who.user_id.c_str()) != 0
      || jwt_add_grant(raw, "email", who.email.c_str()) != 0
      || jwt_add_grant(raw, "sid", session.c_str()) != 0
      || jwt_add_grant(raw, "iss", settings_.issuer.c_str()) != 0
      || jwt_add_grant(raw, "aud", settings_.audience.c_str()) != 0
      || jwt_add_grant(raw, "jti", jti.c_str()) != 0
      || jwt_add_grant_int(raw, "iat", static_cast<long>(now)) != 0
      || jwt_add_grant_int(raw, "exp", static_cast<long>(exp)) != 0
      || jwt_set_alg(raw, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(key.data()),
                     static_cast<int>(key.size()))
           != 0)
    throw std::runtime_error("cannot build an access token");
  c_string encoded{jwt_encode_str(raw)};
  if (!encoded)
    throw std::runtime_error("cannot sign an access token");
  return {encoded.get(), settings_.access_ttl_s};
}

access_token token_service::issue(const identity& who, const std::string& session) const {
  return issue(who, session, unix_now_s().count());
}

token_check token_service::verify(const std::string& token, int64_t now) const {
  if (token.empty())
    return refused("Not authenticated");
  if (token.size() > max_token_size)
    return refused(malformed_token);
  auto parts = split_jws(token);
  if (!parts)
    return refused(malformed_token);
  auto header = decode_json_segment(parts->header);
  if (!header)
    return refused(malformed_token);
  // The algorithm decides which key is used, so it is pinned per kind of token here,
  // before anything is verified: this is what refuses "none" and HS/RS confusion.
  auto alg = string_member(*header, "alg");
  if (alg == "HS256")
    return verify_own(token, now);
  if (alg == "RS256" && !settings_.external_issuer.empty())
    return verify_external(token, string_member(*header, "kid"), now);
  return refused(invalid_token);
}

token_check token_service::verify(const std::string& token) const {
  return verify(token, unix_now_s().count());
}

token_check token_service::verify_own(const std::string& token, int64_t now) const {
  // The MAC (HMAC-SHA256 from libsodium, compared in constant time) covers header and
  // payload, so once it matches the claims are read from the payload as they are:
  // handing the token to libjwt as well would only check the same MAC again.
  auto parts = split_jws(token);
  if (!parts)
    return refused(malformed_token);
  auto signature = base64url_decode(parts->signature);
  auto mac = hmac_sha256(settings_.key, token.substr(0, token.rfind('.')));
  if (!signature || signature->size() != mac.size()
      || sodium_memcmp(mac.data(), signature->data(), mac.size()) != 0)
    return refused(invalid_token);
  auto claims = decode_json_segment(parts->payload);
  if (!claims || string_member(*claims, "iss") != settings_.issuer
      || !audience_matches(*claims, settings_.audience))
    return refused(invalid_token);
  if (auto failure = check_times(*claims, now, settings_.clock_leeway_s); !failure.empty())
    return refused(failure);
  identity who{string_member(*claims, "sub"), string_member(*claims, "email")};
  if (!valid_user_id(who.user_id))
    return refused(invalid_token);
  return {std::move(who), std::nullopt, {}, string_member(*claims, "sid"), *expiry_of(*claims)};
}

token_check token_service::verify_external(const std::string& token, const std::string& kid,
                                           int64_t now) const {
  auto key = settings_.external_keys.find(kid);
  if (key == settings_.external_keys.end())
    return refused(invalid_token);
  auto claims = decode_claims(token, JWT_ALG_RS256, key->second);
  // Cognito signs its access tokens with the same keys: only its ID tokens say "id".
  if (!claims || string_member(*claims, "iss") != settings_.external_issuer
      || string_member(*claims, "token_use") != "id")
    return refused(invalid_token);
  if (!settings_.external_audience.empty()
      && !audience_matches(*claims, settings_.external_audience))
    return refused(invalid_token);
  if (auto failure = check_times(*claims, now, settings_.clock_leeway_s); !failure.empty())
    return refused(failure);
  external_subject who{settings_.external_issuer,
                       string_member(*claims, settings_.external_user_claim.c_str()),
                       string_member(*claims, "email")};
  if (!valid_subject(who.subject))
    return refused(invalid_token);
  return {std::nullopt, std::move(who), {}, {}, *expiry_of(*claims)};
}

} // namespace tandem
