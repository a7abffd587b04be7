#include "http/media_urls.hpp"

#include "auth/sodium.hpp"
#include "common/url.hpp"
#include "config/log.hpp"

#include <sodium.h>

#include <stdexcept>

namespace tandem::http {

namespace {

static_assert(crypto_auth_hmacsha256_BYTES == 32);

/// Tags the MAC input, so that a MAC of this key for another purpose or a later
/// URL format can never be replayed as a media URL.
constexpr std::string_view mac_context = "tandem-media-url-v1";

/// Longest `expires` accepted: 12 digits reach the year 33658, far from overflow.
constexpr std::size_t max_expires_digits = 12;

int64_t unix_seconds(media_url_signer::clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::optional<int64_t> parse_expires(std::string_view text) {
  if (text.empty() || text.size() > max_expires_digits)
    return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

} // namespace

media_url_signer::media_url_signer(std::string key, std::string public_url, std::string address,
                                   std::chrono::seconds ttl)
    : key_(std::move(key)), public_url_(std::move(public_url)), ttl_(ttl) {
  ensure_sodium();
  while (!public_url_.empty() && public_url_.back() == '/')
    public_url_.pop_back();
  host_ = address.find(':') == std::string::npos ? address : "[" + address + "]";
  if (public_url_.empty() && (address == "0.0.0.0" || address == "::"))
    log::warn("media URLs name a wildcard address that clients cannot reach; set media.public_url",
              {{"http.address", address}});
}

void media_url_signer::set_port(uint16_t port) {
  port_.store(port, std::memory_order_release);
}

std::optional<std::string> media_url_signer::sign(std::string_view method,
                                                  std::string_view object_key,
                                                  clock::time_point now) const {
  std::string base = public_url_;
  if (base.empty()) {
    auto port = port_.load(std::memory_order_acquire);
    if (port == 0)
      return std::nullopt;
    base = "http://" + host_ + ":" + std::to_string(port);
  }
  auto expires = unix_seconds(now) + ttl_.count();
  auto tag = mac(method, object_key, expires);
  std::array<char, tag.size() * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), tag.data(), tag.size());
  // Keys made by media_dir_name pass the encoding unchanged.
  return base + std::string{media_path_prefix} + url::encode_path(object_key)
         + "?expires=" + std::to_string(expires) + "&signature=" + hex.data();
}

media_url_signer::verdict media_url_signer::verify(std::string_view method,
                                                   std::string_view object_key,
                                                   std::string_view expires,
                                                   std::string_view signature,
                                                   clock::time_point now) const {
  auto when = parse_expires(expires);
  std::array<unsigned char, 32> given{};
  std::size_t given_len = 0;
  if (!when || signature.size() != given.size() * 2
      || sodium_hex2bin(given.data(), given.size(), signature.data(), signature.size(), nullptr,
                        &given_len, nullptr)
           != 0
      || given_len != given.size())
    return verdict::bad_signature;
  auto expected = mac(method, object_key, *when);
  // Constant time: how much of a forged signature matches must not show in timing.
  if (crypto_verify_32(given.data(), expected.data()) != 0)
    return verdict::bad_signature;
  return unix_seconds(now) > *when ? verdict::expired : verdict::valid;
}

std::array<unsigned char, 32> media_url_signer::mac(std::string_view method,
                                                    std::string_view object_key,
                                                    int64_t expires) const {
  // Fields are separated by '\n', which neither the method, nor an object key built
  // from media_dir_name, nor the digits of the expiry can contain.
  std::string input{mac_context};
  input += '\n';
  input += method;
  input += '\n';
  input += object_key;
  input += '\n';
  input += std::to_string(expires);
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key_.data()),
                              key_.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(input.data()),
                                input.size());
  std::array<unsigned char, 32> out{};
  crypto_auth_hmacsha256_final(&state, out.data());
  sodium_memzero(&state, sizeof state);
  return out;
}

} // namespace tandem::http
