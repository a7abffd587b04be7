// A static route table: method + pattern ("/users/id/{id}") to handler, with
// path parameters, and the 404/405 distinction the clients and tests rely on.
#pragma once

#include "common/url.hpp"
#include "http/message.hpp"

#include <optional>
#include <string>
#include <vector>

namespace tandem::http {

/// Percent-decodes a path segment or query value (common/url.hpp).
using url::percent_decode;

/// Splits "a=1&b=x%20y" into decoded pairs; malformed pairs (percent_decode's
/// nullopt) are dropped.
std::map<std::string, std::string> parse_query(const std::string& query);

/// Checks a request from its head alone (method, path, query, headers, params), before
/// any byte of its body is read: the refusal to answer, or nullopt to go on (and what it
/// verified may stay in the request for the handler). Must not block.
using head_check = std::function<std::optional<response>(request&)>;

/// A handler that requires a check of the request's head first (a token, a signature):
/// the server runs `check` before reading the body, so a refused client sends no body.
struct guarded_handler {
  head_check check;
  handler fn;
  /// What `check` requires, as the route listing names it ("token", "signed-url").
  std::string guard = "checked";
};

class router {
public:
  struct route {
    std::string method;
    std::string pattern;                 ///< also the metrics label of the route
    std::vector<std::string> segments;   ///< "{name}" segments capture
    handler fn;
    std::size_t body_limit = 0;          ///< 0: http.body_limit; else this route's own
    head_check check;                    ///< run on the head, before the body; may be empty
    std::string guard;                   ///< what `check` requires; "public" without one
  };

  struct match_result {
    enum kind_t { found, not_found, method_not_allowed, bad_path } kind = not_found;
    const route* matched = nullptr;
    std::map<std::string, std::string> params;
    std::vector<std::string> allowed;    ///< methods of the path, for 405's Allow and CORS
  };

  /// Adds a route; throws std::invalid_argument on a duplicate method + pattern.
  /// `body_limit` (bytes) replaces http.body_limit for this route when not 0.
  void add(std::string method, std::string pattern, handler fn, std::size_t body_limit = 0);
  /// Adds a route whose `g.check` must pass before its body is read and `g.fn` runs.
  void add(std::string method, std::string pattern, guarded_handler g, std::size_t body_limit = 0);

  /// Matches a raw (still percent-encoded) path without its query string.
  match_result match(const std::string& method, const std::string& raw_path) const;

  /// Every route in the order added (`tandem routes` lists them; tests check them all).
  const std::vector<route>& routes() const { return routes_; }

private:
  std::vector<route> routes_;
};

} // namespace tandem::http
