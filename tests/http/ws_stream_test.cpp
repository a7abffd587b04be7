// A WebSocket's batched writes (http/ws_stream.hpp) over a real loopback connection,
// read by Beast's own client: frame headers of every length class, and Beast's pong
// to a ping that arrives while a batch is partly written goes out after it, whole.
#include "http/ws_stream.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using tandem::http::ws_socket;

TEST_CASE("frame headers carry 7-bit, 16-bit and 64-bit lengths", "[ws_stream]") {
  auto header = [](std::size_t size) {
    std::string out;
    tandem::http::append_text_frame_header(out, size);
    CHECK(out.size() == tandem::http::frame_header_size(size));
    return out;
  };
  CHECK(header(0) == std::string{"\x81\x00", 2});
  CHECK(header(125) == std::string{"\x81\x7d", 2});
  CHECK(header(126) == std::string{"\x81\x7e\x00\x7e", 4});
  CHECK(header(65535) == std::string{"\x81\x7e\xff\xff", 4});
  CHECK(header(65536) == std::string{"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10});
}

TEST_CASE("a batch goes out as whole frames, and a pong waits for it", "[ws_stream]") {
  net::io_context ioc;
  tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), 0});
  websocket::stream<tcp::socket> client(ioc);
  client.next_layer().connect(acceptor.local_endpoint());
  websocket::stream<ws_socket, false> server(acceptor.accept());
  // Small buffers on both sides: the batch cannot go out in one system call, so the
  // ping's pong comes while it is partly written.
  server.next_layer().next_layer().set_option(net::socket_base::send_buffer_size(4096));
  client.next_layer().set_option(net::socket_base::receive_buffer_size(4096));

  std::vector<std::string> texts;
  for (std::size_t size : {0, 5, 125, 126, 1000, 65535, 65536, 300000})
    texts.emplace_back(size, static_cast<char>('a' + texts.size()));
  std::string headers;
  for (const auto& t : texts)
    tandem::http::append_text_frame_header(headers, t.size());
  std::vector<net::const_buffer> buffers;
  const char* h = headers.data();
  for (const auto& t : texts) {
    auto length = tandem::http::frame_header_size(t.size());
    buffers.emplace_back(h, length);
    h += length;
    buffers.emplace_back(t.data(), t.size());
  }

  // Then a close, which Beast writes behind the batch too.
  bool accepted = false;
  beast::error_code batch_error = net::error::would_block;
  beast::flat_buffer server_in;
  server.async_accept([&](beast::error_code ec) {
    accepted = !ec;
    if (ec)
      return;
    server.async_read(server_in, [](beast::error_code, std::size_t) {});  // answers the ping
    server.next_layer().async_write_batch(buffers, [&](beast::error_code ec, std::size_t) {
      batch_error = ec;
      server.async_close(websocket::close_code::normal, [](beast::error_code) {});
    });
  });
  std::thread io([&ioc] { ioc.run(); });
  client.handshake("127.0.0.1", "/");
  int pongs = 0;
  client.control_callback([&](websocket::frame_type kind, beast::string_view) {
    pongs += kind == websocket::frame_type::pong ? 1 : 0;
  });
  client.ping({});
  std::vector<std::string> received;
  beast::error_code read_error;
  while (!read_error) {
    beast::flat_buffer in;
    client.read(in, read_error);
    if (!read_error)
      received.push_back(beast::buffers_to_string(in.data()));
  }
  io.join();
  CHECK(accepted);
  CHECK(!batch_error);
  CHECK(read_error == websocket::error::closed);
  CHECK(received == texts);
  CHECK(pongs == 1);
}
