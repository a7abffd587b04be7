#include "http/server_impl.hpp"

#include "actors/connection_actor.hpp"
#include "common/text.hpp"
#include "config/log.hpp"
#include "http/auth.hpp"
#include "http/error_mapping.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <cctype>
#include <limits>
#include <random>

namespace tandem::http {

namespace {

constexpr auto accept_retry_delay = std::chrono::milliseconds(50);
constexpr auto accept_retry_max = std::chrono::milliseconds(1000);
/// Bytes read at once while waiting for a keep-alive request or draining a closing one.
constexpr std::size_t read_chunk = 4096;

std::string lower(beast::string_view s) {
  return text::ascii_lower({s.data(), s.size()});
}

/// Keeps a client's X-Request-Id when it is short and plain; otherwise makes one.
std::string request_id_for(const std::optional<std::string>& incoming) {
  auto plain = [](const std::string& s) {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
  };
  if (incoming && plain(*incoming))
    return *incoming;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

/// RFC 9112 section 6.3: the one transfer coding accepted is a single `chunked`, never
/// beside Content-Length and never in HTTP/1.0. Beast takes `chunked, identity` or
/// `gzip` + Content-Length as another framing than a proxy in front may have used, so
/// the body would run as a second request (smuggling). The refusal, or nullptr.
const char* framing_error(const bhttp::request<bhttp::string_body>& head) {
  std::vector<std::string> codings;
  bool transfer_encoding = false;
  for (auto& field : head) {
    if (field.name() != bhttp::field::transfer_encoding)
      continue;
    transfer_encoding = true;
    std::string value{field.value()};
    std::size_t pos = 0;
    while (pos <= value.size()) {
      auto comma = std::min(value.find(',', pos), value.size());
      auto item = text::trim(std::string_view{value}.substr(pos, comma - pos), text::http_space);
      if (!item.empty())
        codings.push_back(text::ascii_lower(item));
      pos = comma + 1;
    }
  }
  if (!transfer_encoding)
    return nullptr;
  if (head.version() < 11)
    return "Transfer-Encoding is not allowed in HTTP/1.0";
  if (head.count(bhttp::field::content_length) != 0)
    return "Transfer-Encoding and Content-Length together";
  if (codings.size() != 1 || codings.front() != "chunked")
    return "Transfer-Encoding must be chunked alone";
  return nullptr;
}

/// The sessions still open, held so that the caller can act on them outside the lock.
std::vector<std::shared_ptr<live_session>> live_sessions(server::impl& d) {
  std::vector<std::shared_ptr<live_session>> live;
  std::lock_guard<std::mutex> guard{d.sessions_mutex};
  for (auto& [ptr, weak] : d.sessions)
    if (auto s = weak.lock())
      live.push_back(std::move(s));
  return live;
}

} // namespace

bool is_ordinary_close(const boost::system::error_code& ec) {
  namespace error = net::error;
  // Compared by value and category: each enum converts to its own category's code.
  return ec == error::eof || ec == bhttp::error::end_of_stream
         || ec == bhttp::error::partial_message || ec == error::connection_reset
         || ec == error::connection_aborted || ec == error::broken_pipe
         || ec == error::not_connected || ec == error::operation_aborted
         || ec == beast::error::timeout || ec == beast::websocket::error::closed;
}

/// One keep-alive HTTP connection. Everything runs on the connection's strand;
/// only the responder crosses threads, by posting back onto it.
///
/// What a connection can make the node hold is bounded: the read buffer holds at most
/// http.header_limit bytes (one header block, chunk-size line or trailer block; body
/// bytes go straight to the body), and the body at most the route's limit.
class session : public live_session, public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, server::impl& srv)
    : live_session(srv), peer_(peer_of(socket)), address_(address_of(socket)),
      stream_(std::move(socket)), buffer_(srv.cfg.header_limit), srv_(srv) {
    ++srv_.stats.open_connections;
  }

  ~session() override {
    --srv_.stats.open_connections;
    if (refusal_)
      --srv_.refusing;
  }

  void run() {
    beast::error_code ignored;
    stream_.socket().set_option(tcp::no_delay(true), ignored);
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&session::read_header, shared_from_this()));
  }

  /// Over http.max_connections: answers 503 without reading anything, then closes the
  /// way every early answer does (`linger`), so that the client reads it.
  void refuse() {
    refusal_ = true;
    ++srv_.refusing;
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->started_ = std::chrono::steady_clock::now();
      self->keep_alive_ = false;
      self->begin_request("-", "refused", std::nullopt, std::nullopt);
      auto res = error_response(503, "Too many connections; try again later");
      res.headers.emplace_back("Retry-After", "1");
      self->send(std::move(res));
    });
  }

  /// Server shutdown: close now if idle, else after the response in flight.
  void shutdown() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (!self->busy_)
        self->close();
    });
  }

private:
  using ms = std::chrono::milliseconds;

  /// Between keep-alive requests: http.idle_timeout_ms for the first byte of the next
  /// one, then its header deadline starts. A new connection starts at read_header.
  void await_request() {
    if (closing_)
      return close();
    if (buffer_.size() != 0)
      return read_header();  // pipelined: the next request is already here
    stream_.expires_after(ms(srv_.cfg.idle_timeout_ms));
    stream_.async_read_some(buffer_.prepare(std::min(read_chunk, buffer_.max_size())),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec)
                                return self->fail("http read", ec);
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void read_header() {
    if (closing_)
      return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(srv_.cfg.header_limit, std::numeric_limits<std::uint32_t>::max())));
    // No limit while the headers are read: the parser would check Content-Length
    // against it as soon as the headers end, before on_header could apply the
    // route's own (possibly larger) limit. on_header sets the limit that applies.
    body_limit_ = srv_.cfg.body_limit;
    parser_->body_limit(boost::none);
    match_ = router::match_result{};
    // Shorter than the body's: a slow client cannot hold a connection on its headers.
    stream_.expires_after(ms(srv_.cfg.header_timeout_ms));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&session::on_header, shared_from_this()));
  }

  // The headers name the route, and a route may accept larger bodies (uploads)
  // than http.body_limit: set the limit before the body is read. Everything that
  // can be refused from the headers is refused here, before any body byte is read.
  void on_header(beast::error_code ec, std::size_t) {
    if (ec)
      return on_read(ec, 0);
    started_ = std::chrono::steady_clock::now();
    const auto& head = parser_->get();
    keep_alive_ = head.keep_alive();
    version_ = head.version();
    req_ = request{};
    req_.method = std::string{head.method_string()};
    for (auto& field : head)
      req_.headers.emplace_back(lower(field.name_string()), std::string{field.value()});
    std::string target{head.target()};
    auto qpos = target.find('?');
    std::string raw_path = target.substr(0, qpos);
    if (qpos != std::string::npos)
      req_.query = parse_query(target.substr(qpos + 1));
    req_.path = percent_decode(raw_path, false).value_or(raw_path);
    req_.remote_address = address_;
    // Matched once per request: handle() dispatches on this same result.
    match_ = srv_.routes.match(req_.method, raw_path);

    if (auto bad = framing_error(head))
      return answer_early(error_response(400, bad));
    if (srv_.gateway && beast::websocket::is_upgrade(head)) {
      if (auto kinds = subscriptions_of(req_.path); kinds != 0)
        return upgrade(kinds);
    }
    if (match_.matched != nullptr && match_.matched->check) {
      req_.params = match_.params;
      if (auto denied = match_.matched->check(req_))
        return answer_early(std::move(*denied));
    }
    if (match_.matched != nullptr && match_.matched->body_limit != 0)
      body_limit_ = match_.matched->body_limit;
    parser_->body_limit(body_limit_);
    // A declared length over the limit is refused before any of the body is read;
    // chunked bodies are counted by the parser as they arrive.
    if (auto length = parser_->content_length(); length && *length > body_limit_)
      return on_read(bhttp::error::body_limit, 0);
    if (version_ >= 11 && !parser_->is_done()
        && beast::iequals(head[bhttp::field::expect], "100-continue"))
      return continue_then_read_body();
    read_body();
  }

  /// A client that sent `Expect: 100-continue` waits for this before it sends the body;
  /// it goes out only once the checks above passed, so a refused client sends none.
  void continue_then_read_body() {
    static const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.expires_after(ms(srv_.cfg.body_timeout_ms));
    net::async_write(stream_, net::buffer(interim),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec)
                         return self->fail("http write", ec);
                       self->read_body();
                     });
  }

  void read_body() {
    stream_.expires_after(ms(srv_.cfg.body_timeout_ms));
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (!ec)
      return handle(parser_->release());
    auto answer = protocol_error_response(ec);
    if (!answer)
      return fail("http read", ec);  // end of stream, timeout, reset, shutdown, or worse
    if (!parser_->is_header_done()) {
      started_ = std::chrono::steady_clock::now();
      req_ = request{};
      req_.method = "-";
    }
    answer_early(std::move(*answer));
  }

  /// Answers before the request was read in full: the rest of the stream cannot be
  /// told from a next request, so the connection closes after the answer.
  void answer_early(response res) {
    keep_alive_ = false;
    begin_request(req_.method, match_.matched ? match_.matched->pattern : "unmatched",
                  req_.header("origin"), req_.header("x-request-id"));
    send(std::move(res));
  }

  std::optional<response> protocol_error_response(const beast::error_code& ec) const {
    if (ec == bhttp::error::body_limit)
      return error_response(413, "Request body exceeds the limit of "
                                   + std::to_string(body_limit_) + " bytes");
    if (ec == bhttp::error::header_limit)
      return error_response(431, "Request headers are too large");
    // The read buffer is full and the parser still wants more: a chunk-size line (with
    // its extensions) or the trailers of a chunked body are longer than the buffer.
    if (ec == bhttp::error::buffer_overflow)
      return error_response(400, "A chunk-size line or the trailers exceed "
                                   + std::to_string(srv_.cfg.header_limit) + " bytes");
    bool parse_error = ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
    if (parse_error && ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
      return error_response(400, "Malformed HTTP request: " + ec.message());
    return std::nullopt;
  }

  void begin_request(const std::string& method, std::string route,
                     std::optional<std::string> origin, std::optional<std::string> incoming_id) {
    busy_ = true;
    ++srv_.stats.requests_in_flight;
    method_ = metrics::method_label(method);  // logs and metrics name only known methods
    route_ = std::move(route);
    origin_ = std::move(origin);
    request_id_ = request_id_for(incoming_id);
  }

  void handle(bhttp::request<bhttp::string_body> raw) {
    request req = std::move(req_);
    req.body = std::move(raw.body());

    auto m = std::move(match_);
    bool preflight = cors_policy::is_preflight(req);
    begin_request(req.method,
                  m.matched ? m.matched->pattern : preflight ? "preflight" : "unmatched",
                  req.header("origin"), req.header("x-request-id"));
    req.request_id = request_id_;

    using kind = router::match_result;
    if (m.kind == kind::bad_path)
      return send(error_response(400, "Malformed percent-encoding in the path"));
    if (m.kind == kind::not_found)
      return send(error_response(404, "Not Found"));
    if (preflight)
      return send(srv_.cors.preflight(req, m.allowed));
    if (m.kind == kind::method_not_allowed) {
      auto res = error_response(405, "Method Not Allowed");
      std::string allow;
      for (auto& a : m.allowed)
        allow += (allow.empty() ? "" : ", ") + a;
      res.headers.emplace_back("Allow", allow);
      return send(std::move(res));
    }
    req.params = std::move(m.params);
    auto answered = std::make_shared<std::atomic<bool>>(false);
    responder respond = [self = shared_from_this(), answered](response res) {
      if (answered->exchange(true))
        return;  // a handler may answer once only
      // Answered on the io thread (a polled view, /ping): written at once, without a
      // second trip through the io_context's queue.
      if (self->on_own_strand())
        return self->send(std::move(res));
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
    };
    try {
      m.matched->fn(req, respond);
    } catch (const std::exception& e) {
      log::error("handler threw", {{"request_id", request_id_}, {"error", e.what()}});
      respond(error_response(500, "Internal Server Error"));
    }
  }

  /// A WebSocket upgrade is decided from its headers alone, before any byte after them
  /// is read: the token is checked here, once (a bad one is refused with 401 and never
  /// upgraded), and an upgrade carries no body (a declared one is refused with 400 and,
  /// as every early answer, closes the connection). An external identity that is not
  /// cached is mapped by the database first: the upgrade then goes on later, back on
  /// this strand. Once upgraded, the socket belongs to a WebSocket session.
  void upgrade(uint8_t kinds) {
    begin_request(req_.method, req_.path, req_.header("origin"), req_.header("x-request-id"));
    auto credential = req_.query.count("Authorization") != 0
                        ? req_.query.at("Authorization")
                        : req_.header("authorization").value_or("");
    if (!parser_->is_done()) {
      keep_alive_ = false;
      auto check = authenticate(*srv_.gateway->tokens, credential);
      return send(check.accepted()
                    ? error_response(400, "A WebSocket upgrade request carries no body")
                    : unauthorized_response(check.failure));
    }
    resolve_principal(*srv_.gateway->tokens, *srv_.gateway->identities, credential,
                      [self = shared_from_this(), kinds](principal p) {
                        net::dispatch(self->stream_.get_executor(), [self, kinds, p]() mutable {
                          self->accept_upgrade(kinds, std::move(p));
                        });
                      });
  }

  void accept_upgrade(uint8_t kinds, principal p) {
    if (!p.who)
      return send(std::move(p.refusal));
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_);
    srv_.stats.observe(method_, route_, 101, elapsed.count());
    --srv_.stats.requests_in_flight;
    busy_ = false;
    closed_ = true;  // the WebSocket session owns the socket now
    start_websocket(srv_, std::move(stream_), parser_->release(), kinds, std::move(p),
                    request_id_);
  }

  void send(response res) {
    srv_.cors.decorate(origin_, res);
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>(
      static_cast<bhttp::status>(res.status), version_);
    set_common_headers(*msg);
    if (!res.content_type.empty())
      msg->set(bhttp::field::content_type, res.content_type);
    msg->set("X-Request-Id", request_id_);
    for (auto& [name, value] : res.headers)
      msg->insert(name, value);
    msg->body() = std::move(res.body);
    msg->keep_alive(keep_alive_ && !closing_ && !srv_.stopping);
    msg->prepare_payload();

    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_);
    srv_.stats.observe(method_, route_, res.status, elapsed.count());
    --srv_.stats.requests_in_flight;
    if (srv_.log_requests)
      log::info("request", {{"request_id", request_id_},
                            {"method", method_},
                            {"route", route_},
                            {"status", res.status},
                            {"latency_ms", elapsed.count() * 1000.0}});
    // The handler may have taken a while: the write gets a deadline of its own.
    stream_.expires_after(ms(srv_.cfg.body_timeout_ms));
    bhttp::async_write(stream_, *msg,
                       [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
                         self->on_write(ec, msg->keep_alive());
                       });
  }

  /// Whether this thread runs the connection's strand now (the handler answered at once).
  bool on_own_strand() {
    using strand_type = net::strand<net::io_context::executor_type>;
    // A copy that outlives `strand`: target() points into the executor it is called on.
    auto executor = stream_.get_executor();
    const auto* strand = executor.target<strand_type>();
    return strand != nullptr && strand->running_in_this_thread();
  }

  void on_write(beast::error_code ec, bool keep_alive) {
    busy_ = false;
    if (ec)
      return fail("http write", ec);
    if (!keep_alive)
      return linger();
    await_request();
  }

  /// Closes after an answer without reading what the client may still send (an early
  /// answer, a refusal, `Connection: close`): half-close, then read and discard for at
  /// most http.linger_timeout_ms and http.linger_max_bytes, as nginx's lingering close
  /// does. Closing with unread bytes would send a reset, which can destroy the answer
  /// before the client has read it.
  void linger() {
    if (closing_ || srv_.stopping)
      return close();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(ms(srv_.cfg.linger_timeout_ms));
    drain();
  }

  void drain() {
    auto left = srv_.cfg.linger_max_bytes - std::min(lingered_, srv_.cfg.linger_max_bytes);
    if (left == 0)
      return close();
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(std::min({read_chunk, buffer_.max_size(), left})),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->lingered_ += n;
                              if (ec)  // the client closed, or the deadline
                                return self->fail("http linger", ec);
                              self->drain();
                            });
  }

  /// A socket operation failed: report it unless it is an ordinary close, then close.
  void fail(const char* during, const beast::error_code& ec) {
    srv_.socket_errors.report(during, peer_, ec);
    close();
  }

  void close() {
    if (closed_)
      return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  std::string peer_;  ///< "address:port", for the log
  std::string address_;  ///< the peer's IP address, for every request's remote_address
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;  ///< at most http.header_limit bytes (its max_size)
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::size_t body_limit_ = 0;
  router::match_result match_;  ///< the route of the request being read, from its headers
  request req_;                 ///< the request being read, built from its headers
  server::impl& srv_;
  // -- the request being answered (one at a time: the next read starts after the write)
  bool busy_ = false;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::string method_;
  std::string route_;
  std::optional<std::string> origin_;
  std::string request_id_;
  std::chrono::steady_clock::time_point started_;
  // -- life cycle
  bool closing_ = false;
  bool closed_ = false;
  bool refusal_ = false;       ///< over the connection cap: answers 503 and closes
  std::size_t lingered_ = 0;   ///< bytes drained while closing
};

void server::impl::do_accept() {
  acceptor.async_accept(net::make_strand(ioc),
                        beast::bind_front_handler(&server::impl::on_accept, this));
}

void server::impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (stopping || !acceptor.is_open())
    return;
  if (ec) {
    // Out of file descriptors and the like: back off, doubling up to a second while the
    // failures go on, and log the first of a run only, instead of spinning or flooding.
    if (accept_failures == 0)
      log::warn("accept failed; backing off", {{"error", ec.message()}});
    auto delay = std::min<std::chrono::milliseconds>(
      accept_retry_delay * (1 << std::min(accept_failures, 5)), accept_retry_max);
    ++accept_failures;
    retry_timer.expires_after(delay);
    retry_timer.async_wait([this](beast::error_code e) {
      if (!e)
        do_accept();
    });
    return;
  }
  accept_failures = 0;
  std::size_t open = 0;
  {
    std::lock_guard<std::mutex> guard{sessions_mutex};
    open = sessions.size();
  }
  auto cap = static_cast<std::size_t>(cfg.max_connections);
  auto refusals = static_cast<std::size_t>(refusing.load());
  auto active = open - std::min(open, refusals);
  if (active < cap) {
    auto s = std::make_shared<session>(std::move(socket), *this);
    track(s);
    s->run();
  } else if (refusals < cap) {
    auto s = std::make_shared<session>(std::move(socket), *this);
    track(s);
    s->refuse();
  } else {
    // Refusals linger too, so they have a cap of their own (as many again): beyond
    // it a connection is closed at once, unanswered.
    beast::error_code ignored;
    socket.close(ignored);
  }
  do_accept();
}

void server::impl::track(const std::shared_ptr<live_session>& s) {
  std::lock_guard<std::mutex> guard{sessions_mutex};
  sessions.emplace(s.get(), s);
}

void server::impl::forget(live_session* s) {
  std::lock_guard<std::mutex> guard{sessions_mutex};
  sessions.erase(s);
  sessions_cv.notify_all();
}

server::server(const config::http_config& cfg, const config::log_config& log, router routes,
               metrics& stats, std::shared_ptr<const ws_gateway> gateway)
  : impl_(std::make_unique<impl>(cfg, log, std::move(routes), stats, std::move(gateway))) {
}

server::~server() {
  if (!impl_->threads.empty())
    shutdown();
}

uint16_t server::start() {
  auto& d = *impl_;
  beast::error_code ec;
  auto address = net::ip::make_address(d.cfg.address, ec);
  if (ec)
    throw std::runtime_error("http.address '" + d.cfg.address + "' is not an IP address");
  tcp::endpoint endpoint{address, d.cfg.port};
  auto check = [&](const char* what) {
    if (ec)
      throw std::runtime_error(std::string{"cannot "} + what + " " + d.cfg.address + ":"
                               + std::to_string(d.cfg.port) + ": " + ec.message());
  };
  d.acceptor.open(endpoint.protocol(), ec);
  check("open");
  d.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  check("configure");
  d.acceptor.bind(endpoint, ec);
  check("bind");
  d.acceptor.listen(net::socket_base::max_listen_connections, ec);
  check("listen on");
  auto port = d.acceptor.local_endpoint().port();
  net::dispatch(d.acceptor.get_executor(), [&d] { d.do_accept(); });
  for (int i = 0; i < d.cfg.io_threads; ++i)
    d.threads.emplace_back([&d] { d.ioc.run(); });
  return port;
}

std::size_t server::shutdown() {
  auto& d = *impl_;
  if (d.stopping.exchange(true))
    return 0;
  net::post(d.acceptor.get_executor(), [&d] {
    beast::error_code ignored;
    d.acceptor.close(ignored);
    d.retry_timer.cancel();
  });
  for (auto& s : live_sessions(d))
    s->shutdown();
  std::size_t cut = 0;
  {
    std::unique_lock<std::mutex> guard{d.sessions_mutex};
    auto deadline = std::chrono::steady_clock::now()
                    + std::chrono::milliseconds(d.cfg.shutdown_timeout_ms);
    d.sessions_cv.wait_until(guard, deadline, [&d] { return d.sessions.empty(); });
    cut = d.sessions.size();
  }
  d.ioc.stop();
  for (auto& t : d.threads)
    t.join();
  d.threads.clear();
  // No handler runs any more: whoever waits for a session still open hears it now.
  for (auto& s : live_sessions(d))
    s->cut();
  return cut;
}

} // namespace tandem::http
