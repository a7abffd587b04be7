#include "http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace tandem::http {

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    auto next = path.find('/', pos);
    out.push_back(path.substr(pos, next - pos));
    pos = next == std::string::npos ? path.size() : next;
  }
  return out;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

} // namespace

std::map<std::string, std::string> parse_query(const std::string& query) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    auto pair = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      auto key = percent_decode(pair.substr(0, eq), true);
      auto value = percent_decode(eq == std::string::npos ? "" : pair.substr(eq + 1), true);
      if (key && value && !key->empty())
        out.emplace(std::move(*key), std::move(*value));
    }
    if (amp == std::string::npos)
      break;
    pos = amp + 1;
  }
  return out;
}

void router::add(std::string method, std::string pattern, handler fn, std::size_t body_limit) {
  add(std::move(method), std::move(pattern), guarded_handler{nullptr, std::move(fn), "public"},
      body_limit);
}

void router::add(std::string method, std::string pattern, guarded_handler g,
                 std::size_t body_limit) {
  for (auto& r : routes_)
    if (r.method == method && r.pattern == pattern)
      throw std::invalid_argument("duplicate route " + method + " " + pattern);
  auto segments = split_path(pattern);
  routes_.push_back(route{std::move(method), std::move(pattern), std::move(segments),
                          std::move(g.fn), body_limit, std::move(g.check),
                          std::move(g.guard)});
}

router::match_result router::match(const std::string& method, const std::string& raw_path) const {
  match_result result;
  std::vector<std::string> segments;
  for (auto& raw : split_path(raw_path)) {
    auto decoded = percent_decode(raw, false);
    if (!decoded) {
      result.kind = match_result::bad_path;
      return result;
    }
    segments.push_back(std::move(*decoded));
  }
  for (auto& r : routes_) {
    if (r.segments.size() != segments.size())
      continue;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i)
      ok = is_param(r.segments[i]) || r.segments[i] == segments[i];
    if (!ok)
      continue;
    if (std::find(result.allowed.begin(), result.allowed.end(), r.method) == result.allowed.end())
      result.allowed.push_back(r.method);
    if (r.method == method && result.matched == nullptr) {
      result.matched = &r;
      // Captured for the route that matched only: most routes tried do not.
      for (std::size_t i = 0; i < segments.size(); ++i)
        if (is_param(r.segments[i]))
          result.params[r.segments[i].substr(1, r.segments[i].size() - 2)] = segments[i];
    }
  }
  if (result.matched != nullptr)
    result.kind = match_result::found;
  else if (!result.allowed.empty())
    result.kind = match_result::method_not_allowed;
  return result;
}

} // namespace tandem::http
