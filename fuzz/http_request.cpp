// The HTTP request path up to a handler: raw bytes, as one keep-alive connection sends
// them, through Beast's request parser with the server's limits, the route table of a
// node (404/405/bad path), percent decoding of the path and its parameters, and the
// query string. Pipelined requests are parsed one after another; the first refused one
// ends the input, as it ends the connection. No handler runs (route_bodies does that).
#include "actors/connection_actor.hpp"
#include "fuzz/fuzz_support.hpp"
#include "http/cors.hpp"
#include "http/routes.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include <cctype>

namespace {

namespace bhttp = boost::beast::http;
using namespace tandem;

/// http/server.cpp's header_limit.
constexpr std::size_t header_limit = 16 * 1024;

const config::app_config& app_config() {
  static const config::app_config cfg;
  return cfg;
}

/// The route table of a node; its handlers are never called here, so the actor
/// handles stay unset.
const http::router& routes() {
  static const http::router* table = [] {
    static http::metrics stats;
    http::services svc{tandem_fuzz::deterministic_system::instance().sys,
                       app_config(), {}, {}, stats, nullptr, nullptr, {}, {}, nullptr, {}, nullptr, {}};
    return new http::router(http::make_routes(svc));
  }();
  return *table;
}

/// Feeds `rest` to `parser` until `done` holds; false when the parser refuses the
/// bytes. Where they run out, the client has closed the connection: a body that lasts
/// until the end of the stream ends there, anything else is incomplete.
template <class Done>
bool feed(bhttp::request_parser<bhttp::string_body>& parser, boost::asio::const_buffer& rest,
          Done done) {
  while (!done()) {
    boost::beast::error_code ec;
    auto used = parser.put(rest, ec);
    rest += used;
    if (ec && ec != bhttp::error::need_more)
      return false;
    if (ec || used == 0) {
      ec = {};
      parser.put_eof(ec);
      return !ec && done();
    }
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto& table = routes();
  boost::asio::const_buffer rest{data, size};
  while (rest.size() > 0) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(header_limit);
    parser.body_limit(boost::none);
    if (!feed(parser, rest, [&] { return parser.is_header_done(); }))
      return 0;
    // As session::on_header: the route names the body limit before the body is read.
    auto target = parser.get().target();
    std::string raw_path{target.substr(0, target.find('?'))};
    auto match = table.match(std::string{parser.get().method_string()}, raw_path);
    auto limit = app_config().http.body_limit;
    if (match.matched != nullptr && match.matched->body_limit != 0)
      limit = match.matched->body_limit;
    parser.body_limit(limit);
    if (auto length = parser.content_length(); length && *length > limit)
      return 0;
    if (!feed(parser, rest, [&] { return parser.is_done(); }))
      return 0;
    // As session::handle: the request the handlers see.
    auto raw = parser.release();
    http::request req;
    req.method = std::string{raw.method_string()};
    for (auto& field : raw) {
      std::string name{field.name_string()};
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string{field.value()});
    }
    std::string whole{raw.target()};
    auto qpos = whole.find('?');
    if (qpos != std::string::npos)
      req.query = http::parse_query(whole.substr(qpos + 1));
    req.path = http::percent_decode(raw_path, false).value_or(raw_path);
    req.body = std::move(raw.body());
    subscriptions_of(req.path);
    http::cors_policy::is_preflight(req);
    if (!raw.keep_alive())
      return 0;
  }
  return 0;
}
