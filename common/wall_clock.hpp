// Wall-clock time since the Unix epoch, for the times that leave the process (token
// expiries, friend request expiries). Durations within the node use an actor's clock.
#pragma once

#include <chrono>

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

} // namespace tandem
