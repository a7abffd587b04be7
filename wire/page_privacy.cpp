#include "wire/page_privacy.hpp"

#include "common/text.hpp"

#include <libpsl.h>

#include <algorithm>
#include <arpa/inet.h>
#include <stdexcept>

namespace tandem {

namespace {

/// The newest list on the system (Debian's publicsuffix package), else the one built
/// into libpsl. Loaded once; libpsl contexts are read-only and thread-safe.
const psl_ctx_t* suffix_list() {
  static const psl_ctx_t* list = [] {
    const psl_ctx_t* latest = psl_latest(nullptr);
    return latest != nullptr ? latest : psl_builtin();
  }();
  return list;
}

/// The host of an absolute URL (`scheme://[user@]host[:port]/...`), lower case;
/// empty when there is none.
std::string host_of(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0)
    return {};
  auto rest = url.substr(scheme_end + 3);
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  std::string_view host;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    host = close == std::string_view::npos ? std::string_view{} : authority.substr(1, close - 1);
  } else {
    host = authority.substr(0, authority.find(':'));
  }
  auto out = text::ascii_lower(host);
  if (!out.empty() && out.back() == '.')
    out.pop_back();
  return out;
}

bool is_ip_address(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

} // namespace

caf::optional<std::string> registrable_domain(std::string_view url) {
  if (url.empty())
    return std::string{};
  auto host = host_of(url);
  if (host.empty()) {
    // No authority: chrome://-style pages parse with a host, data: and the like do not.
    return url.find(':') == std::string_view::npos ? caf::optional<std::string>{std::string{}}
                                                   : caf::none;
  }
  if (is_ip_address(host))
    return caf::none;
  const char* domain = psl_registrable_domain(suffix_list(), host.c_str());
  if (domain == nullptr)
    return caf::none;
  return std::string{domain};
}

bool page_shared(const user_profile& profile, const caf::optional<std::string>& domain) {
  if (profile.sharing == share_mode::default_all)
    return !domain || !contains(profile.domain_deny, *domain);
  return domain && contains(profile.domain_allow, *domain);
}

page_info visible_page(const user_profile& profile, page_info page) {
  if (page.blank() || !page_shared(profile, registrable_domain(page.url)))
    return {};
  return page;
}

void check_public_suffix_list() {
  if (suffix_list() == nullptr)
    throw std::runtime_error("no Public Suffix List: install the publicsuffix package");
}

} // namespace tandem
