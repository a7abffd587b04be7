// When a worker may try to reach its server again after a failed connection attempt.
// Shared by the database and Redis workers, and by the e-mail outbox's retries.
#pragma once

#include <algorithm>
#include <chrono>

namespace tandem::persistence {

/// Exponential backoff between connection attempts: after a failure the next attempt
/// waits `initial`, doubling with each further failure up to `max`. Within that
/// window a worker fails its jobs at once instead of blocking on a server that is
/// down, so a dead database costs callers microseconds, not connect timeouts.
class reconnect_backoff {
public:
  using clock = std::chrono::steady_clock;

  explicit reconnect_backoff(clock::duration initial = std::chrono::milliseconds{100},
                             clock::duration max = std::chrono::seconds{5})
      : initial_(initial), max_(max), delay_(initial) {
    // nop
  }

  /// True unless a failed attempt's waiting window is still running at `now`.
  bool may_attempt(clock::time_point now) const {
    return now >= next_attempt_;
  }

  /// Records a failed attempt at `now`; returns how long the next one must wait.
  clock::duration failed(clock::time_point now) {
    auto wait = delay_;
    next_attempt_ = now + wait;
    delay_ = std::min(delay_ * 2, max_);
    return wait;
  }

  /// Records a successful connection: the next failure starts over at `initial`.
  void succeeded() {
    delay_ = initial_;
    next_attempt_ = clock::time_point{};
  }

private:
  clock::duration initial_;
  clock::duration max_;
  clock::duration delay_;
  clock::time_point next_attempt_{};
};

/// The wait before a retry after `failures` failed tries (at least one): `base`, doubled
/// for each failure after the first, never more than `max` (and never overflowing).
inline std::chrono::milliseconds doubling_delay(std::chrono::milliseconds base, int failures,
                                                std::chrono::milliseconds max) {
  auto delay = std::min(base, max);
  for (int i = 1; i < failures && delay < max; ++i)
    delay = std::min(delay * 2, max);
  return delay;
}

} // namespace tandem::persistence
