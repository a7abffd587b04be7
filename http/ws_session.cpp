// WebSocket sessions (docs/api.md, Presence and WebSockets): the socket side of a connection actor.
// Everything here runs on the connection's strand; the actor reaches it through
// `ws_link`, whose calls are posted onto that strand.
#include "http/server_impl.hpp"

#include "actors/connection_actor.hpp"
#include "config/log.hpp"
#include "http/error_mapping.hpp"
#include "http/ws_stream.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket.hpp>

#include <sys/socket.h>

#include <algorithm>

namespace tandem::http {

namespace websocket = beast::websocket;

namespace {

/// Frames larger than this end the connection (close 1009, by Beast) instead of being
/// read and discarded: a frame between ws.frame_limit and this gets an error frame.
std::size_t hard_frame_limit(std::size_t frame_limit) {
  return std::max<std::size_t>(frame_limit * 4, 1024 * 1024);
}

class ws_session : public live_session, public std::enable_shared_from_this<ws_session> {
public:
  ws_session(server::impl& srv, beast::tcp_stream&& stream,
             bhttp::request<bhttp::string_body>&& req, std::string request_id)
    : live_session(srv), srv_(srv), peer_(peer_of(stream.socket())), ws_(stream.release_socket()),
      deadline_(ws_.get_executor()), alarm_(ws_.get_executor()), req_(std::move(req)),
      request_id_(std::move(request_id)) {
    ++srv_.stats.open_websockets;
  }

  ~ws_session() override {
    --srv_.stats.open_websockets;
  }

  /// Spawns the connection actor, which answers with accept() or refuse().
  void start(connection_params params);

  void shutdown() override {
    post([](ws_session& s) { s.close(close_code::going_away, "server shutting down"); });
  }

  /// Only once the io threads are joined (nothing else runs on the strand).
  void cut() override {
    finish();
  }

  // -- what the connection actor asks, through the link (on the strand) ----------------

  void accept() {
    if (finished_)
      return;
    auto& sock = srv_.gateway->socket;
    // Beast's own timeouts: pings at half the idle timeout, and a peer that answers
    // nothing is dropped.
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(10);
    timeouts.idle_timeout = std::chrono::seconds(sock.idle_timeout_s);
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
      [id = request_id_](websocket::response_type& res) {
        set_common_headers(res);
        res.set("X-Request-Id", id);
      }));
    ws_.read_message_max(hard_frame_limit(sock.frame_limit));
    auto req = std::make_shared<bhttp::request<bhttp::string_body>>(std::move(req_));
    ws_.async_accept(*req, [self = shared_from_this(), req](beast::error_code ec) {
      if (ec)
        return self->fail("websocket handshake", ec);
      self->accepted_ = true;
      ++self->srv_.stats.websockets_opened;
      caf::anon_send(self->actor_, atom::websocket_opened_v);
      self->read();
    });
  }

  void refuse(const caf::error& err) {
    if (finished_)
      return;
    // A client that never reads the answer does not keep the socket.
    arm_deadline(srv_.gateway->socket.close_timeout_ms);
    // The client reads a plain detail; internals go to the log only (5xx).
    auto answer = error_to_response(err, "websocket_upgrade");
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
      static_cast<bhttp::status>(answer.status), req_.version());
    set_common_headers(*res);
    res->set("X-Request-Id", request_id_);
    res->set(bhttp::field::content_type, answer.content_type);
    for (auto& [name, value] : answer.headers)
      res->insert(name, value);
    res->body() = std::move(answer.body);
    res->keep_alive(false);
    res->prepare_payload();
    bhttp::async_write(ws_.next_layer(), *res,
                       [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                         self->fail("websocket refusal", ec);
                       });
  }

  void write(std::vector<shared_frame> frames) {
    // Nothing more goes out once closing (shutdown closes without the actor).
    if (finished_ || closing_)
      return;
    out_ = std::move(frames);
    // A peer that stops reading blocks the write, and everything behind it (the close
    // handshake too): past the deadline the socket is cut.
    arm_deadline(srv_.gateway->socket.write_timeout_ms);
    // The whole batch in one gather write (one system call, one TCP push, one wake-up
    // of the peer), the frames' bytes shared, not copied: each frame's header here,
    // then its text.
    for (const auto& f : out_)
      append_text_frame_header(headers_, f->text.size());
    std::vector<net::const_buffer> buffers;
    buffers.reserve(2 * out_.size());
    const char* header = headers_.data();
    for (const auto& f : out_) {
      auto length = frame_header_size(f->text.size());
      buffers.emplace_back(header, length);
      header += length;
      buffers.emplace_back(f->text.data(), f->text.size());
    }
    ws_.next_layer().async_write_batch(
      std::move(buffers), [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->written(ec);
      });
  }

  void read_more() {
    if (unacked_ > 0)
      --unacked_;
    read();
  }

  void close(uint16_t code, std::string reason) {
    if (finished_ || closing_)
      return;
    closing_ = true;
    if (!accepted_)
      return finish();
    // Beast's close waits for the batch in flight (ws_socket), then for the peer's close frame:
    // neither may keep the socket (and its seat among the user's connections) open.
    arm_deadline(srv_.gateway->socket.close_timeout_ms);
    ws_.async_close(websocket::close_reason{static_cast<websocket::close_code>(code), reason},
                    [self = shared_from_this()](beast::error_code ec) {
                      self->fail("websocket close", ec);
                    });
  }

  void alarm(caf::timespan after) {
    if (finished_)
      return;
    alarm_.expires_after(after);
    alarm_.async_wait([self = shared_from_this()](beast::error_code ec) {
      // Cancelled (re-armed or finished): a newer wait, if any, reports.
      if (!ec && self->actor_)
        caf::anon_send(self->actor_, atom::token_expiring_v);
    });
  }

  /// Runs `fn(*this)` on the strand.
  template <class F>
  void post(F fn) {
    net::post(ws_.get_executor(), [self = shared_from_this(), fn = std::move(fn)]() mutable {
      fn(*self);
    });
  }

private:
  /// Reads the next piece of a frame, unless ws.inbound_window frames wait for the
  /// actor: then the socket is not read until it catches up (TCP pushes back).
  void read() {
    if (reading_ || finished_ || unacked_ >= srv_.gateway->socket.inbound_window)
      return;
    reading_ = true;
    ws_.async_read_some(in_, srv_.gateway->socket.frame_limit + 1,
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          self->on_read(ec);
                        });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec)
      return fail("websocket read", ec);
    auto limit = srv_.gateway->socket.frame_limit;
    if (in_.size() > limit) {
      oversized_ = true;  // read the rest of it, keeping none
      in_.consume(in_.size());
    }
    if (!ws_.is_message_done())
      return read();
    ++srv_.stats.websocket_frames_received;
    if (oversized_)
      caf::anon_send(actor_, atom::websocket_bad_frame_v,
                     "Frame larger than " + std::to_string(limit) + " bytes");
    else if (!ws_.got_text())
      caf::anon_send(actor_, atom::websocket_bad_frame_v, std::string{"Frames must be JSON text, not binary"});
    else
      caf::anon_send(actor_, atom::websocket_frame_v, beast::buffers_to_string(in_.data()));
    oversized_ = false;
    in_.consume(in_.size());
    in_.shrink_to_fit();  // idle connections keep no read buffer
    ++unacked_;
    read();
  }

  void written(beast::error_code ec) {
    if (ec)
      return fail("websocket write", ec);
    std::size_t bytes = 0;
    for (const auto& f : out_)
      bytes += f->text.size();
    srv_.stats.websocket_frames_sent += out_.size();
    srv_.stats.websocket_bytes_sent += bytes;
    if (!closing_)
      disarm_deadline();
    out_.clear();
    out_.shrink_to_fit();
    headers_.clear();
    headers_.shrink_to_fit();
    caf::anon_send(actor_, atom::websocket_sent_v);
  }

  /// Cuts the socket at `ms` from now unless disarmed (or re-armed) before.
  void arm_deadline(int ms) {
    deadline_.expires_after(std::chrono::milliseconds(ms));
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      // A wait that completed just before a re-arm must not cut: check the expiry.
      if (!ec && self->deadline_.expiry() <= std::chrono::steady_clock::now())
        self->cut_now();
    });
  }

  void disarm_deadline() {
    deadline_.expires_at(std::chrono::steady_clock::time_point::max());
  }

  /// Past a deadline the peer is not cooperating: reset the connection instead of a
  /// graceful close, whose FIN would wait behind the unread bytes (and hold their
  /// kernel buffers) for as long as the peer likes.
  void cut_now() {
    if (finished_)
      return;
    log::warn("websocket cut: the peer did not take its frames or the close in time",
              {{"closing", closing_}});
    auto fd = beast::get_lowest_layer(ws_).native_handle();
    linger hard{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    finish();
  }

  /// A socket operation ended with `ec` (success, for a refusal or close that completed):
  /// report it unless it is an ordinary close, then finish. After a cut, the operations
  /// still pending end as cancelled, an ordinary close.
  void fail(const char* during, const beast::error_code& ec) {
    srv_.socket_errors.report(during, peer_, ec);
    finish();
  }

  /// The socket is done (closed by either side, failed, cut, or refused): the actor
  /// stops, and with it the link that keeps this session alive.
  void finish() {
    if (finished_)
      return;
    finished_ = true;
    if (accepted_)
      ++srv_.stats.websockets_closed;
    beast::error_code ignored;
    deadline_.cancel();
    alarm_.cancel();
    beast::get_lowest_layer(ws_).close(ignored);
    caf::anon_send(actor_, atom::websocket_closed_v);
    actor_ = nullptr;
  }

  server::impl& srv_;
  std::string peer_;  ///< "address:port", for the log
  // Without permessage-deflate support: never negotiated (frames are small JSON), and
  // its state would sit in every idle socket's stream.
  websocket::stream<ws_socket, false> ws_;
  /// The write deadline while a batch is out, then the close deadline once closing.
  net::steady_timer deadline_;
  /// The connection actor's alarm (`ws_link::alarm`): token expiry.
  net::steady_timer alarm_;
  bhttp::request<bhttp::string_body> req_;  // the upgrade request, until answered
  std::string request_id_;                  // the upgrade's, on its answer (101 or refusal)
  connection_actor actor_;
  beast::flat_buffer in_;
  std::vector<shared_frame> out_;  ///< the batch being written
  std::string headers_;            ///< its frames' headers, one after the other
  int unacked_ = 0;        // frames handed to the actor and not yet handled
  bool reading_ = false;
  bool oversized_ = false; // the frame being read is over ws.frame_limit
  bool accepted_ = false;
  bool closing_ = false;
  bool finished_ = false;

  friend class session_link;
};

/// The actor's side of the session. It holds the session alive until the actor stops
/// (the actor stops once the session reports `websocket_closed`).
class session_link : public ws_link {
public:
  explicit session_link(std::shared_ptr<ws_session> s) : s_(std::move(s)) {
  }

  void accept() override {
    s_->post([](ws_session& s) { s.accept(); });
  }

  void refuse(caf::error err) override {
    s_->post([err = std::move(err)](ws_session& s) { s.refuse(err); });
  }

  void write(std::vector<shared_frame> frames) override {
    s_->post([frames = std::move(frames)](ws_session& s) mutable { s.write(std::move(frames)); });
  }

  void read_more() override {
    s_->post([](ws_session& s) { s.read_more(); });
  }

  void close(uint16_t code, std::string reason) override {
    s_->post([code, reason = std::move(reason)](ws_session& s) { s.close(code, reason); });
  }

  void alarm(caf::timespan after) override {
    s_->post([after](ws_session& s) { s.alarm(after); });
  }

private:
  std::shared_ptr<ws_session> s_;
};

void ws_session::start(connection_params params) {
  auto link = std::make_shared<session_link>(shared_from_this());
  actor_ = spawn_connection(srv_.gateway->sys, std::move(params), std::move(link));
}

} // namespace

void start_websocket(server::impl& srv, beast::tcp_stream stream,
                     bhttp::request<bhttp::string_body> req, uint8_t kinds, principal who,
                     std::string request_id) {
  auto session = std::make_shared<ws_session>(srv, std::move(stream), std::move(req),
                                              std::move(request_id));
  srv.track(session);
  const auto& gw = *srv.gateway;
  session->start({std::move(who.who->user_id), kinds, gw.users, gw.settings,
                  gw.request_timeout, gw.chats, gw.max_message_length, std::move(who.session),
                  who.expires_at, gw.tokens, gw.identities, gw.cluster});
  // Upgraded while the server stops, after it told the sessions it knew of.
  if (srv.stopping)
    session->shutdown();
}

} // namespace tandem::http
