// Registrable domains by the Public Suffix List and the share rule (docs/api.md,
// Presence and WebSockets).
#include "wire/page_privacy.hpp"

#include <catch2/catch.hpp>

using namespace tandem;

namespace {

std::string domain_of(const std::string& url) {
  auto d = registrable_domain(url);
  return d ? *d : "<null>";
}

user_profile profile(share_mode mode, std::vector<std::string> allow,
                     std::vector<std::string> deny) {
  user_profile p;
  p.sharing = mode;
  p.domain_allow = std::move(allow);
  p.domain_deny = std::move(deny);
  return p;
}

} // namespace

TEST_CASE("registrable domains follow the Public Suffix List, private suffixes included",
          "[presence]") {
  CHECK(domain_of("https://www.pagenow.io") == "pagenow.io");
  CHECK(domain_of("https://www.pagenow.io/path?q=1#x") == "pagenow.io");
  CHECK(domain_of("https://news.bbc.co.uk/") == "bbc.co.uk");
  CHECK(domain_of("https://someone.github.io/project") == "someone.github.io");
  CHECK(domain_of("http://user:pw@WWW.Example.COM:8080/") == "example.com");
  CHECK(domain_of("") == "");
  CHECK(domain_of("not a url") == "");
  CHECK(domain_of("http://localhost:3000/") == "<null>");
  CHECK(domain_of("http://127.0.0.1/") == "<null>");
  CHECK(domain_of("http://[::1]:8080/") == "<null>");
  CHECK(domain_of("chrome://newtab/") == "<null>");
  CHECK(domain_of("https://co.uk/") == "<null>");
}

TEST_CASE("a page is shared by the extension's rule", "[presence]") {
  auto none = profile(share_mode::default_none, {"example.com"}, {"bank.com"});
  auto all = profile(share_mode::default_all, {"example.com"}, {"bank.com"});
  CHECK(visible_page(none, {"https://www.example.com/a", "A"}).url == "https://www.example.com/a");
  CHECK(visible_page(none, {"https://other.org/", "B"}).blank());
  CHECK(visible_page(none, {"https://other.org/", "B"}).title.empty());
  CHECK(visible_page(none, {"http://localhost/", "L"}).blank());
  CHECK(visible_page(all, {"https://other.org/", "B"}).url == "https://other.org/");
  CHECK(visible_page(all, {"https://www.bank.com/", "Bank"}).blank());
  CHECK(visible_page(all, {"http://localhost/", "L"}).url == "http://localhost/");
}
