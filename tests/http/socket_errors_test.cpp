// Which socket errors are the ordinary end of a connection, and the budget of the
// warnings about the others (http/socket_errors.hpp).
#include "http/socket_errors.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/websocket/error.hpp>

#include <chrono>

using namespace tandem::http;
namespace net_error = boost::asio::error;
namespace beast = boost::beast;
using boost::system::error_code;

TEST_CASE("the ordinary ends of a connection are ordinary closes", "[socket_errors]") {
  for (error_code ec : {error_code{net_error::eof}, error_code{beast::http::error::end_of_stream},
                        error_code{beast::http::error::partial_message},
                        error_code{net_error::connection_reset},
                        error_code{net_error::connection_aborted},
                        error_code{net_error::broken_pipe}, error_code{net_error::not_connected},
                        error_code{net_error::operation_aborted},
                        error_code{beast::error::timeout},
                        error_code{beast::websocket::error::closed}}) {
    INFO(ec.category().name() << ":" << ec.value() << " " << ec.message());
    CHECK(is_ordinary_close(ec));
  }
}

TEST_CASE("protocol violations and network faults are not ordinary closes", "[socket_errors]") {
  for (error_code ec : {error_code{beast::websocket::error::bad_unmasked_frame},
                        error_code{beast::websocket::error::bad_opcode},
                        error_code{beast::websocket::error::message_too_big},
                        error_code{beast::websocket::error::no_sec_key},
                        error_code{net_error::timed_out}, error_code{net_error::host_unreachable},
                        error_code{net_error::network_down},
                        error_code{net_error::no_buffer_space},
                        error_code{net_error::bad_descriptor}}) {
    INFO(ec.category().name() << ":" << ec.value() << " " << ec.message());
    CHECK_FALSE(is_ordinary_close(ec));
  }
}

TEST_CASE("socket errors are counted, and warned about within log.socket_errors_per_s",
          "[socket_errors]") {
  using namespace std::chrono_literals;
  std::atomic<uint64_t> count{0};
  socket_error_log errors{3, count};
  auto t0 = std::chrono::steady_clock::now() + 1s;
  error_code violation{beast::websocket::error::bad_unmasked_frame};

  SECTION("an ordinary close is neither counted nor logged") {
    CHECK_FALSE(errors.report("http read", "127.0.0.1:1", net_error::eof, t0));
    CHECK_FALSE(errors.report("http read", "127.0.0.1:1", error_code{}, t0));
    CHECK(count == 0);
  }

  SECTION("at most per_s at once, then per_s a second; every error counted") {
    int logged = 0;
    for (int i = 0; i < 5; ++i)
      logged += errors.report("websocket read", "127.0.0.1:1", violation, t0) ? 1 : 0;
    CHECK(logged == 3);
    CHECK(count == 5);
    CHECK_FALSE(errors.report("websocket read", "127.0.0.1:1", violation, t0 + 300ms));
    CHECK(errors.report("websocket read", "127.0.0.1:1", violation, t0 + 340ms));
    CHECK_FALSE(errors.report("websocket read", "127.0.0.1:1", violation, t0 + 340ms));
    CHECK(count == 8);
  }
}
