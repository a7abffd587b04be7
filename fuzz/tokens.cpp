// Both token verifiers of auth/tokens.cpp: our HS256 access tokens and the RS256 ID
// tokens of an external issuer, keyed by a fixed test JWKS (tokens/test_rsa_key.pem).
// The first byte picks what the rest is:
//   0: a token as a client sends it (a forged MAC or signature is what most get);
//   1: `header \n claims`, which this target signs with our HS256 key;
//   2: `header \n claims`, which this target signs with the test RSA key;
// so that the claims checks behind a valid signature are fuzzed too. A verifier must
// answer, never throw, and name a user only for a token it accepts.
#include "auth/tokens.hpp"
#include "fuzz/fuzz_support.hpp"

#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

namespace {

using namespace tandem;

constexpr int64_t now = 1'700'000'000;
constexpr const char* hs256_key = "fuzz-hs256-key-0123456789abcdef-0123456789abcdef";

std::string b64url(const void* data, std::size_t len) {
  constexpr auto variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(len, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), static_cast<const unsigned char*>(data), len, variant);
  out.resize(out.size() - 1);
  return out;
}

std::string b64url(const std::string& s) {
  return b64url(s.data(), s.size());
}

std::string bn_b64url(EVP_PKEY* key, const char* param) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
    std::abort();
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_free(bn);
  return b64url(bytes);
}

struct fixture {
  EVP_PKEY* rsa = nullptr;
  std::unique_ptr<token_service> tokens;

  fixture() {
    if (sodium_init() < 0)
      std::abort();
    std::ifstream in{TANDEM_FUZZ_DIR "/tokens/test_rsa_key.pem"};
    std::stringstream pem;
    pem << in.rdbuf();
    auto text = pem.str();
    BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
    rsa = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (rsa == nullptr)
      std::abort();
    nlohmann::json jwks{{"keys", {{{"kty", "RSA"}, {"alg", "RS256"}, {"use", "sig"},
                                   {"kid", "fuzz-kid"}, {"n", bn_b64url(rsa, OSSL_PKEY_PARAM_RSA_N)},
                                   {"e", bn_b64url(rsa, OSSL_PKEY_PARAM_RSA_E)}}}}};
    token_settings s;
    s.key = hs256_key;
    s.issuer = "tandem";
    s.audience = "tandem-clients";
    s.external_issuer = "https://cognito-idp.example/pool";
    s.external_audience = "client-123";
    s.external_keys = jwks_to_pem(jwks.dump());
    tokens = std::make_unique<token_service>(std::move(s));
  }

  std::string hs256(const std::string& signing_input) const {
    const std::string key = hs256_key;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(signing_input.data()),
                                  signing_input.size());
    crypto_auth_hmacsha256_final(&st, mac);
    return b64url(mac, sizeof mac);
  }

  std::string rs256(const std::string& signing_input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = 0;
    std::string sig;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, rsa) != 1
        || EVP_DigestSign(ctx, nullptr, &len,
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size())
             != 1)
      std::abort();
    sig.resize(len);
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size())
        != 1)
      std::abort();
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    return b64url(sig);
  }
};

const fixture& the_fixture() {
  static const fixture* f = new fixture;
  return *f;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  const auto& f = the_fixture();
  auto rest = tandem_fuzz::text_of(data + 1, size - 1);
  std::string token;
  if (data[0] % 3 == 0) {
    token = rest;
  } else {
    auto nl = rest.find('\n');
    if (nl == std::string::npos)
      return 0;
    auto signing_input = b64url(rest.substr(0, nl)) + "." + b64url(rest.substr(nl + 1));
    token = signing_input + "." + (data[0] % 3 == 1 ? f.hs256(signing_input) : f.rs256(signing_input));
  }
  auto checked = f.tokens->verify(token, now);
  if (checked.who && checked.external)
    std::abort();  // one outcome only: ours or external
  bool named = checked.who ? !checked.who->user_id.empty()
                           : checked.external && !checked.external->subject.empty()
                               && checked.external->issuer == "https://cognito-idp.example/pool";
  if (checked.accepted() ? !named : checked.failure.empty())
    std::abort();  // accepted without a user or subject, or refused without a reason
  return 0;
}
