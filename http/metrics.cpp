#include "http/metrics.hpp"

#include <algorithm>
#include <sstream>

namespace tandem::http {

namespace {

std::string label_value(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

/// A bucket bound as Prometheus writes it: shortest round-trip form (0.0001, 2.5, 10).
std::string format_bound(double bound) {
  std::ostringstream out;
  out.precision(15);
  out << bound;
  return out.str();
}

} // namespace

const std::vector<double>& metrics::buckets() {
  static const std::vector<double> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1,    2.5, 5};
  return bounds;
}

const std::string& metrics::method_label(const std::string& method) {
  static const std::vector<std::string> known = {"GET",     "HEAD",    "POST",  "PUT", "DELETE",
                                                 "CONNECT", "OPTIONS", "TRACE", "PATCH", "-"};
  static const std::string other = "other";
  auto i = std::find(known.begin(), known.end(), method);
  return i == known.end() ? other : *i;
}

void metrics::observe(const std::string& method, const std::string& route, unsigned status,
                      double seconds) {
  const auto& m = method_label(method);
  std::lock_guard<std::mutex> guard{mutex_};
  ++requests_[{m, route, status}];
  auto& h = latency_[{m, route}];
  if (h.counts.empty())
    h.counts.resize(buckets().size());
  for (std::size_t i = 0; i < buckets().size(); ++i)
    if (seconds <= buckets()[i]) {
      ++h.counts[i];
      break;
    }
  ++h.count;
  h.sum += seconds;
}

void metrics::add_collector(std::function<std::string()> collector) {
  std::lock_guard<std::mutex> guard{mutex_};
  collectors_.push_back(std::move(collector));
}

std::string metrics::sample(const char* type, const char* name, const char* help,
                            uint64_t value) {
  return family(type, name, help, {{"", value}});
}

std::string metrics::family(const char* type, const char* name, const char* help,
                            const std::vector<series>& samples) {
  auto out = std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  for (const auto& [labels, value] : samples)
    out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(value) + "\n";
  return out;
}

std::string metrics::histogram_family(
  const char* name, const char* help,
  const std::vector<std::pair<std::string, tandem::histogram::snapshot>>& samples,
  double scale) {
  std::ostringstream out;
  out.precision(15);
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
  for (const auto& [labels, h] : samples) {
    auto with = [&labels = labels](const std::string& more) {
      if (labels.empty())
        return more.empty() ? std::string{} : "{" + more + "}";
      return "{" + labels + (more.empty() ? "" : "," + more) + "}";
    };
    for (std::size_t i = 0; i < h.bounds.size(); ++i)
      out << name << "_bucket" << with("le=\"" + format_bound(h.bounds[i] / scale) + "\"")
          << " " << h.cumulative[i] << "\n";
    out << name << "_bucket" << with("le=\"+Inf\"") << " " << h.count << "\n";
    out << name << "_sum" << with("") << " " << h.sum / scale << "\n";
    out << name << "_count" << with("") << " " << h.count << "\n";
  }
  return out.str();
}

std::string metrics::render() const {
  std::ostringstream out;
  std::vector<std::function<std::string()>> collectors;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    out << "# HELP tandem_http_requests_total HTTP requests answered, by route and status.\n"
           "# TYPE tandem_http_requests_total counter\n";
    for (auto& [key, n] : requests_)
      out << "tandem_http_requests_total{method=\"" << std::get<0>(key) << "\",route=\""
          << label_value(std::get<1>(key)) << "\",status=\"" << std::get<2>(key) << "\"} " << n
          << "\n";
    out << "# HELP tandem_http_request_duration_seconds Time from a request's arrival to its "
           "response.\n"
           "# TYPE tandem_http_request_duration_seconds histogram\n";
    for (auto& [key, h] : latency_) {
      auto labels = "method=\"" + key.first + "\",route=\"" + label_value(key.second) + "\"";
      uint64_t cumulative = 0;
      for (std::size_t i = 0; i < buckets().size(); ++i) {
        cumulative += h.counts[i];
        out << "tandem_http_request_duration_seconds_bucket{" << labels << ",le=\""
            << buckets()[i] << "\"} " << cumulative << "\n";
      }
      out << "tandem_http_request_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} "
          << h.count << "\n";
      out << "tandem_http_request_duration_seconds_sum{" << labels << "} " << h.sum << "\n";
      out << "tandem_http_request_duration_seconds_count{" << labels << "} " << h.count << "\n";
    }
    collectors = collectors_;
  }
  out << "# HELP tandem_http_open_connections Open HTTP connections.\n"
         "# TYPE tandem_http_open_connections gauge\n"
         "tandem_http_open_connections "
      << open_connections.load() << "\n"
      << "# HELP tandem_http_requests_in_flight Requests received and not yet answered.\n"
         "# TYPE tandem_http_requests_in_flight gauge\n"
         "tandem_http_requests_in_flight "
      << requests_in_flight.load() << "\n"
      << "# HELP tandem_websocket_connections Open WebSocket connections.\n"
         "# TYPE tandem_websocket_connections gauge\n"
         "tandem_websocket_connections "
      << open_websockets.load() << "\n"
      << sample("counter", "tandem_websocket_opened_total", "WebSocket handshakes completed.",
                websockets_opened.load())
      << sample("counter", "tandem_websocket_closed_total",
                "WebSocket connections closed after their handshake, by either side.",
                websockets_closed.load())
      << sample("counter", "tandem_websocket_frames_sent_total",
                "Text frames written to WebSocket clients.", websocket_frames_sent.load())
      << sample("counter", "tandem_websocket_sent_bytes_total",
                "Payload bytes of the text frames written to WebSocket clients.",
                websocket_bytes_sent.load())
      << sample("counter", "tandem_websocket_frames_received_total",
                "Frames read from WebSocket clients (oversized and binary ones included).",
                websocket_frames_received.load())
      << sample("counter", "tandem_socket_errors_total",
                "HTTP and WebSocket connections that failed other than by an ordinary close.",
                socket_errors.load());
  for (auto& c : collectors)
    out << c();
  return out.str();
}

} // namespace tandem::http
