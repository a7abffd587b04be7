// The helpers of common/ that have no room of their own: percent-encoding (Boost.URL)
// and the wall clock's text form.
#include "common/url.hpp"
#include "common/wall_clock.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace tandem;

TEST_CASE("percent_decode decodes escapes and, in queries, '+'", "[url]") {
  CHECK(url::percent_decode("a%20b%2Fc", false) == std::optional<std::string>{"a b/c"});
  CHECK(url::percent_decode("a+b", false) == std::optional<std::string>{"a+b"});
  CHECK(url::percent_decode("a+b", true) == std::optional<std::string>{"a b"});
  CHECK(url::percent_decode("%C3%a9", false) == std::optional<std::string>{"\xC3\xA9"});
  CHECK(url::percent_decode("", true) == std::optional<std::string>{""});
}

TEST_CASE("percent_decode refuses malformed escapes and text that is not text", "[url]") {
  for (auto bad : {"%", "%4", "a%", "%zz", "%4g", "100%"})
    CHECK_FALSE(url::percent_decode(bad, false));
  CHECK_FALSE(url::percent_decode("a%00b", false));    // NUL
  CHECK_FALSE(url::percent_decode("%FF", true));       // not UTF-8
  CHECK_FALSE(url::percent_decode("%ED%A0%80", true)); // a surrogate
}

TEST_CASE("encode_path keeps unreserved characters and '/'", "[url]") {
  CHECK(url::encode_path("u_ab-1.x~/profile_image.png") == "u_ab-1.x~/profile_image.png");
  CHECK(url::encode_path("a b/\xC3\xA9?#%") == "a%20b/%C3%A9%3F%23%25");
  CHECK(url::encode_path("") == "");
}

TEST_CASE("iso8601_utc writes UTC with milliseconds and Z", "[time]") {
  using std::chrono::milliseconds;
  CHECK(iso8601_utc(milliseconds{0}) == "1970-01-01T00:00:00.000Z");
  CHECK(iso8601_utc(milliseconds{999}) == "1970-01-01T00:00:00.999Z");
  CHECK(iso8601_utc(milliseconds{1'796'609'977'236}) == "2026-12-07T02:19:37.236Z");
  CHECK(iso8601_utc(milliseconds{253'402'300'799'999}) == "9999-12-31T23:59:59.999Z");
  CHECK(unix_now_iso8601().size() == 24);
}
