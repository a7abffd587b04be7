// Signed URLs of the built-in media store, standing in for S3 presigned URLs:
//   <base>/media/<object key>?expires=<unix seconds>&signature=<hex HMAC-SHA256>
// The MAC covers a version tag, the method, the object key and the expiry, so a URL
// can be used for neither another method, nor another object, nor later.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::http {

/// The path prefix under which signed media URLs are served.
inline constexpr std::string_view media_path_prefix = "/media/";

/// Signs and checks media URLs. Immutable after construction except for the bound
/// port, so one instance is shared by io threads and actors.
class media_url_signer {
public:
  using clock = std::chrono::system_clock;

  /// The outcome of `verify`.
  enum class verdict { valid, bad_signature, expired };

  /// `key`: the HMAC key (any length). `public_url`: the base of URLs, e.g.
  /// "https://api.example"; when empty, URLs use "http://<address>:<port>" with the
  /// port given later to `set_port`. `ttl`: how long a signed URL stays valid.
  media_url_signer(std::string key, std::string public_url, std::string address,
                   std::chrono::seconds ttl);

  /// Sets the port this node listens on, known only once the server has bound it.
  void set_port(uint16_t port);

  /// A URL for `method` ("GET", "PUT") on `object_key`, valid until `now` + ttl;
  /// nullopt while the base is not known yet (no public URL and no port).
  std::optional<std::string> sign(std::string_view method, std::string_view object_key,
                                  clock::time_point now) const;

  /// Checks the `expires` and `signature` query values of a request for `method`
  /// on `object_key`: the MAC is compared in constant time; a well-signed URL
  /// past its expiry at `now` is `expired`. Anything malformed is `bad_signature`.
  verdict verify(std::string_view method, std::string_view object_key,
                 std::string_view expires, std::string_view signature,
                 clock::time_point now) const;

  /// The lifetime of the URLs this signer issues.
  std::chrono::seconds ttl() const {
    return ttl_;
  }

private:
  /// HMAC-SHA256 of one (method, object key, expiry).
  std::array<unsigned char, 32> mac(std::string_view method, std::string_view object_key,
                                    int64_t expires) const;

  std::string key_;
  std::string public_url_;
  std::string host_;
  std::chrono::seconds ttl_;
  std::atomic<uint16_t> port_{0};
};

} // namespace tandem::http
