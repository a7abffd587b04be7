// Prometheus metrics of the HTTP front: request counts by route and status,
// latency histograms by route, open connections, WebSockets and requests in flight.
#pragma once

#include "common/histogram.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace tandem::http {

class metrics {
public:
  /// Records one answered request. `route` is the route's pattern or another fixed
  /// name ("unmatched"), never the raw path; `method` is reduced to `method_label`.
  void observe(const std::string& method, const std::string& route, unsigned status,
               double seconds);

  /// The label of a request method: the method itself when it is one of RFC 9110's
  /// (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE) or PATCH, "-" when none
  /// was read, else "other", so that clients cannot add series.
  static const std::string& method_label(const std::string& method);

  std::atomic<long> open_connections{0};
  std::atomic<long> requests_in_flight{0};
  std::atomic<long> open_websockets{0};
  /// WebSocket handshakes completed, and those connections since closed (either side,
  /// cut or failed).
  std::atomic<uint64_t> websockets_opened{0};
  std::atomic<uint64_t> websockets_closed{0};
  /// Text frames written to WebSockets (deliveries) and their payload bytes, and whole
  /// frames read from clients.
  std::atomic<uint64_t> websocket_frames_sent{0};
  std::atomic<uint64_t> websocket_bytes_sent{0};
  std::atomic<uint64_t> websocket_frames_received{0};
  /// Socket errors other than an ordinary close (socket_error_log).
  std::atomic<uint64_t> socket_errors{0};

  /// Adds text produced by another component (already in exposition format).
  void add_collector(std::function<std::string()> collector);

  /// One sample in exposition format with its HELP and TYPE lines, for collectors.
  static std::string sample(const char* type, const char* name, const char* help,
                            uint64_t value);

  /// One series of a family: its labels (`pool="db"`, already escaped) and its value.
  using series = std::pair<std::string, uint64_t>;

  /// A family of labelled samples with its HELP and TYPE lines, for collectors.
  static std::string family(const char* type, const char* name, const char* help,
                            const std::vector<series>& samples);

  /// A histogram family with its HELP and TYPE lines, for collectors: one series per
  /// `labels` (already escaped, or empty), each bound and the sum divided by `scale`
  /// (1e6 for microseconds shown in seconds).
  static std::string histogram_family(
    const char* name, const char* help,
    const std::vector<std::pair<std::string, tandem::histogram::snapshot>>& samples,
    double scale = 1);

  /// The Prometheus text exposition of everything recorded.
  std::string render() const;

  /// Upper bounds of the latency buckets, in seconds.
  static const std::vector<double>& buckets();

private:
  struct histogram {
    std::vector<uint64_t> counts;  // one per bucket, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, unsigned>, uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, histogram> latency_;
  std::vector<std::function<std::string()>> collectors_;
};

} // namespace tandem::http
