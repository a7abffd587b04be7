// The TCP socket under a WebSocket (http/ws_session.cpp), shared by two writers: Beast,
// for what it writes on its own (the handshake's answer, pings, pongs, the close), and
// the session, which writes a batch of data frames as one gather write (Beast writes one
// frame per call: a system call and a completion each). One write at a time: Beast's
// waits while a batch is out, a batch waits while one of Beast's is partly written.
// A plain socket, not Beast's tcp_stream: the WebSocket keeps its own timeouts, and the
// tcp_stream's timers would only sit in every idle connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace tandem::http {

/// The length of the header of a server's frame of `size` bytes (RFC 6455 5.2).
inline std::size_t frame_header_size(std::size_t size) {
  return size < 126 ? 2 : size <= 0xFFFF ? 4 : 10;
}

/// Appends the header of an unmasked, final text frame of `size` bytes (what a server
/// sends) to `out`.
inline void append_text_frame_header(std::string& out, std::size_t size) {
  out.push_back(static_cast<char>(0x81)); // FIN, opcode 1 (text)
  auto length_bytes = frame_header_size(size) - 2;
  if (length_bytes == 0)
    return out.push_back(static_cast<char>(size));
  out.push_back(static_cast<char>(length_bytes == 2 ? 126 : 127));
  for (auto shift = 8 * static_cast<int>(length_bytes - 1); shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((static_cast<uint64_t>(size) >> shift) & 0xFF));
}

class ws_socket {
public:
  using socket_type = boost::asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;
  using next_layer_type = socket_type;

  explicit ws_socket(socket_type&& socket) : socket_(std::move(socket)) {
  }

  executor_type get_executor() noexcept {
    return socket_.get_executor();
  }

  socket_type& next_layer() noexcept {
    return socket_;
  }

  const socket_type& next_layer() const noexcept {
    return socket_;
  }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    socket_.async_read_some(buffers, std::forward<Handler>(handler));
  }

  /// Beast's writes: after the batch being written, if any.
  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    write_after(batch_out_, &ws_socket::write_beasts<ConstBuffers, std::decay_t<Handler>>,
                buffers, std::forward<Handler>(handler));
  }

  /// Writes all of `buffers` (whole frames) once none of Beast's writes is partly done,
  /// then calls `handler(error, bytes)`. One batch at a time.
  template <class ConstBuffers, class Handler>
  void async_write_batch(const ConstBuffers& buffers, Handler&& handler) {
    write_after(beast_out_, &ws_socket::write_batch<ConstBuffers, std::decay_t<Handler>>,
                buffers, std::forward<Handler>(handler));
  }

private:
  /// Runs `write` now, or once the other kind of write (`other_out`) is done.
  template <class Write, class ConstBuffers, class Handler>
  void write_after(bool other_out, Write write, const ConstBuffers& buffers, Handler&& handler) {
    std::decay_t<Handler> own(std::forward<Handler>(handler));
    if (!other_out)
      return (this->*write)(buffers, std::move(own));
    auto held = std::make_shared<std::decay_t<Handler>>(std::move(own));
    waiting_ = [this, write, buffers, held] { (this->*write)(buffers, std::move(*held)); };
  }

  template <class ConstBuffers, class Handler>
  void write_beasts(const ConstBuffers& buffers, Handler&& handler) {
    auto size = boost::asio::buffer_size(buffers);
    beast_out_ = true;
    socket_.async_write_some(
      buffers, [this, size, h = std::forward<Handler>(handler)](
                 boost::beast::error_code ec, std::size_t written) mutable {
        // Partly written: Beast writes the rest next, and no batch may come between.
        beast_out_ = !ec && written < size;
        if (!beast_out_)
          run_waiting();
        h(ec, written);
      });
  }

  template <class ConstBuffers, class Handler>
  void write_batch(const ConstBuffers& buffers, Handler&& handler) {
    batch_out_ = true;
    boost::asio::async_write(socket_, buffers,
                             [this, h = std::forward<Handler>(handler)](
                               boost::beast::error_code ec, std::size_t written) mutable {
                               batch_out_ = false;
                               run_waiting();
                               h(ec, written);
                             });
  }

  void run_waiting() {
    if (!waiting_)
      return;
    auto next = std::move(waiting_);
    waiting_ = nullptr;
    next();
  }

  socket_type socket_;
  /// The write that waits for the other writer's (at most one: each writes one at a time).
  std::function<void()> waiting_;
  bool batch_out_ = false; ///< a batch of the session's is being written
  bool beast_out_ = false; ///< one of Beast's writes is under way, or partly done
};

/// How Beast ends the TCP side of a WebSocket (found by argument-dependent lookup).
inline void teardown(boost::beast::role_type role, ws_socket& s, boost::beast::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, s.next_layer(), ec);
}

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, ws_socket& s, TeardownHandler&& handler) {
  using boost::beast::websocket::async_teardown;
  async_teardown(role, s.next_layer(), std::forward<TeardownHandler>(handler));
}

} // namespace tandem::http
