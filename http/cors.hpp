// CORS for the extension's chrome-extension:// origin and web clients: echo an
// allowed Origin with credentials, and answer preflight requests.
#pragma once

#include "http/message.hpp"

#include <string>
#include <vector>

namespace tandem::http {

class cors_policy {
public:
  /// `origins` from config; "*" allows any Origin (echoed, never a literal "*",
  /// since credentials are allowed).
  explicit cors_policy(std::vector<std::string> origins);

  bool allows(const std::string& origin) const;

  /// True for OPTIONS with Origin and Access-Control-Request-Method.
  static bool is_preflight(const request& req);

  /// Adds Access-Control-* headers when `origin` (the request's Origin) is allowed.
  void decorate(const std::optional<std::string>& origin, response& res) const;

  /// The answer to a preflight for a path that accepts `methods`: 204 with the
  /// allowed methods and headers (`decorate` adds the origin's), or 403 for an
  /// Origin not on the list.
  response preflight(const request& req, const std::vector<std::string>& methods) const;

private:
  std::vector<std::string> origins_;
  bool any_ = false;
};

} // namespace tandem::http
