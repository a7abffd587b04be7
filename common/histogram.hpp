// A distribution that one owner records into and any thread may read: how a component shows
// latencies and sizes on /metrics without a lock on its hot path (relaxed atomics only).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace tandem {

/// Counts of observed values by fixed upper bounds (Prometheus buckets), with their sum.
/// Values are integers in the owner's unit (microseconds, messages); the reader scales.
class histogram {
public:
  /// A copy of the counts: `cumulative[i]` observations were at most `bounds[i]`, and
  /// `count` (the +Inf bucket) is every observation.
  struct snapshot {
    std::vector<uint64_t> bounds;
    std::vector<uint64_t> cumulative;
    uint64_t count = 0;
    uint64_t sum = 0;
  };

  /// `bounds` ascending; a value above the last counts in +Inf only.
  explicit histogram(std::vector<uint64_t> bounds)
      : bounds_(std::move(bounds)),
        counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  }

  void observe(uint64_t value) noexcept {
    std::size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i])
      ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }

  /// The counts now; an observation recorded meanwhile may be in its bucket and not yet
  /// in the sum, never the other way round within a bucket.
  snapshot load() const {
    snapshot s;
    s.bounds = bounds_;
    uint64_t running = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      running += counts_[i].load(std::memory_order_relaxed);
      s.cumulative.push_back(running);
    }
    s.count = running + counts_[bounds_.size()].load(std::memory_order_relaxed);
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
  }

  /// Bounds for latencies in microseconds: 100 µs to 10 s, about three to a decade.
  static std::vector<uint64_t> latency_bounds_us() {
    return {100,    250,    500,     1000,    2500,    5000,    10000,   25000,
            50000,  100000, 250000,  500000,  1000000, 2500000, 5000000, 10000000};
  }

private:
  std::vector<uint64_t> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_; ///< one per bound, then +Inf
  std::atomic<uint64_t> sum_{0};
};

} // namespace tandem
