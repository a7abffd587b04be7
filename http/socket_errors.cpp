#include "http/socket_errors.hpp"

#include "config/log.hpp"

namespace tandem::http {

socket_error_log::socket_error_log(int per_s, std::atomic<uint64_t>& count)
  : budget_(per_s, per_s, std::chrono::steady_clock::now()), count_(count) {
}

bool socket_error_log::report(const char* during, const std::string& peer,
                              const boost::system::error_code& ec, time_point now) {
  if (!ec || is_ordinary_close(ec))
    return false;
  ++count_;
  uint64_t suppressed = 0;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (budget_.take(now) > 0) {
      ++suppressed_;
      return false;
    }
    suppressed = suppressed_;
    suppressed_ = 0;
  }
  nlohmann::json fields = {{"peer", peer},
                           {"during", during},
                           {"error", ec.message()},
                           {"code", std::string{ec.category().name()} + ":"
                                      + std::to_string(ec.value())}};
  if (suppressed > 0)
    fields["suppressed"] = suppressed;
  log::warn("socket failed", std::move(fields));
  return true;
}

} // namespace tandem::http
