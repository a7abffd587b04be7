// Socket errors of the HTTP and WebSocket sessions: which of them are the ordinary end of
// a connection, and the rate-limited warning about the others (which used to vanish).
// Beast-free: the classifier is defined in server.cpp, which knows Beast's error codes.
#pragma once

#include "common/token_bucket.hpp"

#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace tandem::http {

/// Whether `ec`, which ended a socket operation, is an ordinary end of a connection: the
/// peer closed it (end of stream, also in the middle of a message; a reset or broken pipe;
/// a WebSocket close frame), the node did (an operation cancelled by a close or shutdown),
/// or one of the node's deadlines passed (idle, header, body, linger, WebSocket pings).
/// Everything else (a WebSocket protocol violation or oversized frame, a network fault
/// such as a TCP timeout or an unreachable host, a descriptor misused) is not.
bool is_ordinary_close(const boost::system::error_code& ec);

/// Reports the socket errors that are not ordinary closes: counts each in `count` (on
/// /metrics) and logs it at warn with the peer and the error, at most `per_s` a second
/// (and as many at once; log.socket_errors_per_s), so that a flood of failing clients
/// cannot flood the log. A warning after suppressed ones says how many. Any thread.
class socket_error_log {
public:
  using time_point = std::chrono::steady_clock::time_point;

  socket_error_log(int per_s, std::atomic<uint64_t>& count);

  /// For `ec`, which ended the operation `during` ("http read", "websocket write", ...)
  /// on the connection from `peer`: whether a warning was logged (never for an ordinary
  /// close, nor past the budget).
  bool report(const char* during, const std::string& peer, const boost::system::error_code& ec,
              time_point now = std::chrono::steady_clock::now());

private:
  std::mutex mutex_;
  token_bucket budget_;
  uint64_t suppressed_ = 0;  ///< errors not logged since the last warning
  std::atomic<uint64_t>& count_;
};

} // namespace tandem::http
