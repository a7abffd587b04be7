// Private to http/server.cpp and http/ws_session.cpp (the only Beast translation
// units): the server's shared state and what both kinds of sessions need from it.
#pragma once

#include "vocabulary/messages.hpp"
#include "http/auth.hpp"
#include "http/cors.hpp"
#include "http/server.hpp"
#include "http/socket_errors.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace tandem::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

/// "address:port" of the socket's peer, for logs; empty when the socket has none.
inline std::string peer_of(const tcp::socket& socket) {
  beast::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  return ec ? std::string{} : peer.address().to_string() + ":" + std::to_string(peer.port());
}

/// The IP address of the socket's peer; "0.0.0.0" when the socket has none (as an
/// unset endpoint's).
inline std::string address_of(const tcp::socket& socket) {
  beast::error_code ignored;
  return socket.remote_endpoint(ignored).address().to_string();
}

/// The headers of every response the node writes, whoever made it (a route, the server
/// before routing, the WebSocket handshake or its refusal): the server's name, and
/// `nosniff`, so that a browser takes each body as its declared type only (a JSON error
/// or an image is never run as a script or shown as HTML).
template <class Message>
void set_common_headers(Message& res) {
  res.set(bhttp::field::server, "tandem");
  res.set("X-Content-Type-Options", "nosniff");
}

/// A connection the server must close on shutdown: HTTP or WebSocket. It leaves the
/// server's registry in this base's destructor, i.e. after the session's own members
/// (socket, strand, timers) are gone: shutdown() ends the io_context once the registry
/// is empty, so a session destroyed on another thread (an actor dropping the last
/// reference) must be done with it by then.
class live_session {
public:
  explicit live_session(server::impl& srv) : registry_(srv) {
  }
  virtual ~live_session();
  /// Closes the connection, after the response or write in flight; any thread.
  virtual void shutdown() = 0;
  /// Called by shutdown() after the io threads stopped, for a session still open at its
  /// deadline: closes the socket now and tells whoever waits for it.
  virtual void cut() {
  }

private:
  server::impl& registry_;
};

struct server::impl {
  impl(const config::http_config& c, const config::log_config& log, router r, metrics& m,
       std::shared_ptr<const ws_gateway> g)
    : cfg(c), log_requests(log.requests), routes(std::move(r)), stats(m), gateway(std::move(g)),
      cors(c.cors_origins), socket_errors(log.socket_errors_per_s, m.socket_errors),
      acceptor(net::make_strand(ioc)), retry_timer(acceptor.get_executor()) {
  }

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void track(const std::shared_ptr<live_session>& s);
  void forget(live_session* s);

  config::http_config cfg;
  bool log_requests;
  router routes;
  metrics& stats;
  std::shared_ptr<const ws_gateway> gateway;
  cors_policy cors;
  socket_error_log socket_errors;
  std::atomic<bool> stopping{false};
  // Before the io_context, so destroyed after it: handlers it still holds when it is
  // destroyed may hold the last reference to a session, which then leaves the registry.
  std::mutex sessions_mutex;
  std::condition_variable sessions_cv;
  std::unordered_map<live_session*, std::weak_ptr<live_session>> sessions;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;
  std::vector<std::thread> threads;
  int accept_failures = 0;            ///< accept errors in a row (on the acceptor's strand)
  std::atomic<int> refusing{0};       ///< sessions answering 503 over http.max_connections
};

inline live_session::~live_session() {
  registry_.forget(this);
}

/// Takes over an HTTP connection whose request `req` asked for a WebSocket on a path
/// subscribing to `kinds`, for the verified user `who`: registers a connection actor
/// with the user's actor, then completes (or refuses) the handshake, whose answer
/// carries `request_id` as every answer does. Defined in http/ws_session.cpp.
void start_websocket(server::impl& srv, beast::tcp_stream stream,
                     bhttp::request<bhttp::string_body> req, uint8_t kinds, principal who,
                     std::string request_id);

} // namespace tandem::http
