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
      << sample("counter", "tandem_socket_errors_total",
                "HTTP and WebSocket connections that failed other than by an ordinary close.",
                socket_errors.load());
  for (auto& c : collectors)
    out << c();
  return out.str();
}

} // namespace tandem::http
