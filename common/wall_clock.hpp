// Wall-clock time since the Unix epoch, for the times that leave the process (token
// expiries, friend request expiries, message and log times). Durations within the node
// use an actor's clock.
#pragma once

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace tandem {

/// Now, in milliseconds since the Unix epoch.
inline std::chrono::milliseconds unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::system_clock::now().time_since_epoch());
}

/// Now, in whole seconds since the Unix epoch.
inline std::chrono::seconds unix_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(unix_now_ms());
}

/// `since_epoch` as ISO 8601 UTC with milliseconds and Z: "2026-12-07T01:38:37.123Z".
inline std::string iso8601_utc(std::chrono::milliseconds since_epoch) {
  auto ms = since_epoch.count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];  // sized for any int the compiler can imagine, not just real dates
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

/// Now, as `iso8601_utc` writes it.
inline std::string unix_now_iso8601() {
  return iso8601_utc(unix_now_ms());
}

} // namespace tandem
