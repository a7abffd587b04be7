#include "http/cors.hpp"
#include "http/message.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace tandem::http;

namespace {

handler tagged(std::string tag, std::string& hit) {
  return [tag, &hit](request&, responder) { hit = tag; };
}

request make_request(std::string method, std::vector<std::pair<std::string, std::string>> headers,
                     std::string body = "") {
  request req;
  req.method = std::move(method);
  req.headers = std::move(headers);
  req.body = std::move(body);
  return req;
}

std::optional<std::string> header_of(const response& res, const std::string& name) {
  for (auto& [k, v] : res.headers)
    if (k == name)
      return v;
  return std::nullopt;
}

} // namespace

TEST_CASE("routes match by method and path with decoded parameters", "[router]") {
  std::string hit;
  router r;
  r.add("GET", "/users/id/{id}", tagged("get-user", hit));
  r.add("GET", "/users/me", tagged("me", hit));
  r.add("PUT", "/users/me", tagged("put-me", hit));

  auto m = r.match("GET", "/users/id/google_123%20x");
  REQUIRE(m.kind == router::match_result::found);
  CHECK(m.matched->pattern == "/users/id/{id}");
  CHECK(m.params.at("id") == "google_123 x");

  m = r.match("PUT", "/users/me/");
  REQUIRE(m.kind == router::match_result::found);
  request req;
  m.matched->fn(req, nullptr);
  CHECK(hit == "put-me");
}

TEST_CASE("an unknown path is 404 and a known path with another method is 405", "[router]") {
  router r;
  std::string hit;
  r.add("GET", "/users/me", tagged("me", hit));
  r.add("POST", "/users/me", tagged("me", hit));
  CHECK(r.match("GET", "/nope").kind == router::match_result::not_found);
  CHECK(r.match("GET", "/users/me/extra").kind == router::match_result::not_found);
  auto m = r.match("DELETE", "/users/me");
  CHECK(m.kind == router::match_result::method_not_allowed);
  CHECK(m.allowed == std::vector<std::string>{"GET", "POST"});
}

TEST_CASE("malformed percent-encoding in the path is reported, not matched", "[router]") {
  router r;
  std::string hit;
  r.add("GET", "/users/id/{id}", tagged("x", hit));
  CHECK(r.match("GET", "/users/id/%zz").kind == router::match_result::bad_path);
  CHECK(r.match("GET", "/users/id/%4").kind == router::match_result::bad_path);
  CHECK(r.match("GET", "/users/id/%00").kind == router::match_result::bad_path);
}

TEST_CASE("a path or query value that is not UTF-8 text is refused by the decoder", "[router]") {
  router r;
  std::string hit;
  r.add("GET", "/users/id/{id}", tagged("x", hit));
  CHECK(r.match("GET", "/users/id/%FF").kind == router::match_result::bad_path);
  CHECK(r.match("GET", "/users/id/%C0%AF").kind == router::match_result::bad_path);     // overlong
  CHECK(r.match("GET", "/users/id/%ED%A0%80").kind == router::match_result::bad_path);  // surrogate
  CHECK(r.match("GET", "/users/id/a\xFF" "b").kind == router::match_result::bad_path);    // raw byte
  auto ok = r.match("GET", "/users/id/caf%C3%A9");
  REQUIRE(ok.kind == router::match_result::found);
  CHECK(ok.params.at("id") == "caf\xC3\xA9");
  auto q = parse_query("a=%FF&b=%F4%90%80%80&c=%C3%A9&d=ok");
  CHECK(q.count("a") == 0);
  CHECK(q.count("b") == 0);
  CHECK(q.at("c") == "\xC3\xA9");
  CHECK(q.at("d") == "ok");
}

TEST_CASE("JSON bodies are text: no NUL, even escaped, and valid UTF-8", "[json]") {
  auto parsed = [](std::string body, std::string& detail) {
    request req;
    req.body = std::move(body);
    response error;
    auto out = parse_json_object(req, error);
    if (!out) {
      CHECK(error.status == 400);
      detail = json::parse(error.body).at("detail").get<std::string>();
    }
    return out.has_value();
  };
  std::string detail;
  CHECK(parsed(R"({"email":"a@b.co","nested":[{"x":"caf\u00e9"}]})", detail));
  CHECK_FALSE(parsed(R"({"email":"a@b.co\u0000"})", detail));
  CHECK(detail == "'email' must not contain NUL characters");
  CHECK_FALSE(parsed(R"({"list":["ok","a\u0000"]})", detail));
  CHECK(detail == "'list' must not contain NUL characters");
  CHECK_FALSE(parsed(R"({"a\u0000b":1})", detail));
  CHECK(detail == "A member name must not contain NUL characters");
  CHECK_FALSE(parsed(std::string{"{\"email\":\"a\0\"}", 14}, detail));
  CHECK(detail == "Text must not contain NUL characters");
  CHECK_FALSE(parsed("{\"email\":\"\xC0\xAF\"}", detail));
  CHECK(detail == "Text must be valid UTF-8");
  CHECK_FALSE(parsed(R"({"x":"\ud800"})", detail));  // a lone surrogate escape
  CHECK(detail == "Request body is not valid JSON");
}

TEST_CASE("duplicate routes are refused when the table is built", "[router]") {
  router r;
  std::string hit;
  r.add("GET", "/ping", tagged("a", hit));
  CHECK_THROWS_AS(r.add("GET", "/ping", tagged("b", hit)), std::invalid_argument);
}

TEST_CASE("query strings decode plus signs and escapes", "[router]") {
  auto q = parse_query("is_read=false&name=Ann+Lee&x=%41%42&&=skip&flag");
  CHECK(q.at("is_read") == "false");
  CHECK(q.at("name") == "Ann Lee");
  CHECK(q.at("x") == "AB");
  CHECK(q.at("flag").empty());
  CHECK(q.count("") == 0);
}

TEST_CASE("errors have the JSON detail shape", "[json]") {
  auto res = error_response(404, "Not Found");
  CHECK(res.status == 404);
  CHECK(res.content_type == "application/json");
  CHECK(json::parse(res.body) == json{{"detail", "Not Found"}});
}

TEST_CASE("JSON bodies parse whatever the content type, and bad ones are 400", "[json]") {
  response err;
  auto ok = parse_json_object(
    make_request("POST", {{"content-type", "text/plain"}}, R"({"email":"a@b.c","extra":1})"), err);
  REQUIRE(ok);
  CHECK((*ok)["email"] == "a@b.c");

  for (std::string bad : {"{bad", "", "[1,2]", "\"text\""}) {
    INFO("body: " << bad);
    response e;
    CHECK_FALSE(parse_json_object(make_request("POST", {}, bad), e));
    CHECK(e.status == 400);
    CHECK(json::parse(e.body).contains("detail"));
  }
}

TEST_CASE("CORS echoes an allowed origin with credentials", "[cors]") {
  cors_policy any{{"*"}};
  response res;
  any.decorate(std::string{"chrome-extension://abcdef"}, res);
  CHECK(header_of(res, "Access-Control-Allow-Origin") == "chrome-extension://abcdef");
  CHECK(header_of(res, "Access-Control-Allow-Credentials") == "true");

  cors_policy listed{{"https://app.example"}};
  response other;
  listed.decorate(std::string{"https://evil.example"}, other);
  CHECK_FALSE(header_of(other, "Access-Control-Allow-Origin"));
  response none;
  listed.decorate(std::nullopt, none);
  CHECK(none.headers.empty());
}

TEST_CASE("CORS preflight lists methods and the Authorization header", "[cors]") {
  cors_policy any{{"*"}};
  auto req = make_request("OPTIONS", {{"origin", "chrome-extension://x"},
                                      {"access-control-request-method", "PUT"}});
  REQUIRE(cors_policy::is_preflight(req));
  auto res = any.preflight(req, {"GET", "PUT"});
  CHECK(res.status == 204);
  CHECK(header_of(res, "Access-Control-Allow-Methods") == "GET, PUT, OPTIONS");
  CHECK_THAT(*header_of(res, "Access-Control-Allow-Headers"), Catch::Contains("Authorization")
                                                                 && Catch::Contains("Content-Type"));
  any.decorate(req.header("origin"), res);
  CHECK(header_of(res, "Access-Control-Allow-Origin") == "chrome-extension://x");

  cors_policy listed{{"https://app.example"}};
  CHECK(listed.preflight(req, {"GET"}).status == 403);
  CHECK_FALSE(cors_policy::is_preflight(make_request("OPTIONS", {{"origin", "x"}})));
}

TEST_CASE("metrics render counters and cumulative histograms", "[metrics]") {
  metrics m;
  m.observe("GET", "/ping", 200, 0.0004);
  m.observe("GET", "/ping", 200, 0.003);
  m.observe("GET", "/users/id/{id}", 404, 0.2);
  auto text = m.render();
  CHECK_THAT(text, Catch::Contains(
                     "tandem_http_requests_total{method=\"GET\",route=\"/ping\",status=\"200\"} 2"));
  CHECK_THAT(text, Catch::Contains("tandem_http_request_duration_seconds_bucket{method=\"GET\","
                                   "route=\"/ping\",le=\"0.0005\"} 1"));
  CHECK_THAT(text, Catch::Contains("tandem_http_request_duration_seconds_bucket{method=\"GET\","
                                   "route=\"/ping\",le=\"0.005\"} 2"));
  CHECK_THAT(text, Catch::Contains("tandem_http_request_duration_seconds_count{method=\"GET\","
                                   "route=\"/users/id/{id}\"} 1"));
}

TEST_CASE("a guarded route keeps its head check for the server to run first", "[router]") {
  std::string hit;
  router r;
  r.add("PUT", "/open", tagged("open", hit));
  r.add("PUT", "/guarded",
        guarded_handler{[](request& req) -> std::optional<response> {
                          if (req.header("authorization"))
                            return std::nullopt;
                          return error_response(401, "no");
                        },
                        tagged("guarded", hit)});
  REQUIRE_FALSE(r.match("PUT", "/open").matched->check);
  auto m = r.match("PUT", "/guarded");
  REQUIRE(m.matched->check);
  auto anonymous = make_request("PUT", {});
  CHECK(m.matched->check(anonymous)->status == 401);
  auto signed_in = make_request("PUT", {{"authorization", "x"}});
  CHECK_FALSE(m.matched->check(signed_in));
}

TEST_CASE("the route listing names every route in order with its guard", "[router]") {
  std::string hit;
  router r;
  r.add("GET", "/open", tagged("open", hit));
  r.add("PUT", "/users/{id}",
        guarded_handler{[](const request&) { return std::optional<response>{}; },
                        tagged("guarded", hit), "token"},
        1024);
  const auto& routes = r.routes();
  REQUIRE(routes.size() == 2);
  CHECK(routes[0].method == "GET");
  CHECK(routes[0].pattern == "/open");
  CHECK(routes[0].guard == "public");
  CHECK(routes[1].method == "PUT");
  CHECK(routes[1].pattern == "/users/{id}");
  CHECK(routes[1].guard == "token");
  CHECK(routes[1].body_limit == 1024);
}

TEST_CASE("metric labels name only known methods, whatever the client sends", "[metrics]") {
  CHECK(metrics::method_label("GET") == "GET");
  CHECK(metrics::method_label("PATCH") == "PATCH");
  CHECK(metrics::method_label("-") == "-");
  CHECK(metrics::method_label("get") == "other");
  CHECK(metrics::method_label("FOO") == "other");
  metrics m;
  m.observe("BREW", "unmatched", 405, 0.001);
  auto once = m.render();
  for (int i = 0; i < 50; ++i)
    m.observe("BREW" + std::to_string(i), "unmatched", 405, 0.001);
  auto lines = [](const std::string& text) { return std::count(text.begin(), text.end(), '\n'); };
  CHECK(lines(m.render()) == lines(once));
  CHECK(m.render().find("method=\"other\"") != std::string::npos);
  CHECK(m.render().find("BREW") == std::string::npos);
}
