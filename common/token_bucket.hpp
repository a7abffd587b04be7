// Token buckets: the one budget type behind every rate limit of the node (per
// socket, per user, per address). Header-only and free of CAF, so that any room may
// use it; time comes from the caller (an actor's clock), which keeps tests in
// virtual time deterministic.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <unordered_map>

namespace tandem {

/// `per_s` tokens a second, at most `burst` at once; a new bucket starts full.
class token_bucket {
public:
  using time_point = std::chrono::steady_clock::time_point;

  token_bucket() = default;
  token_bucket(double per_s, double burst, time_point now)
    : per_s_(per_s), burst_(burst), tokens_(burst), refilled_(now) {}

  /// Takes one token at `now`: 0 if there was one, else the seconds until there is
  /// (nothing is taken then).
  double take(time_point now) {
    refill(now);
    if (tokens_ < 1.0)
      return (1.0 - tokens_) / per_s_;
    tokens_ -= 1.0;
    return 0;
  }

  /// Whether the bucket would be full at `now`, i.e. it carries no information.
  bool full_at(time_point now) const {
    return tokens_ + seconds_since(now) * per_s_ >= burst_;
  }

private:
  double seconds_since(time_point now) const {
    return std::chrono::duration<double>(now - refilled_).count();
  }
  void refill(time_point now) {
    tokens_ = std::min(burst_, tokens_ + seconds_since(now) * per_s_);
    refilled_ = now;
  }

  double per_s_ = 1;
  double burst_ = 1;
  double tokens_ = 1;
  time_point refilled_{};
};

/// One bucket per key (a user, an address). Memory stays proportional to the keys
/// that spent tokens recently: full buckets are dropped by a scan once the map has
/// doubled since the last one, so each take costs O(1) amortised.
template <class Key>
class keyed_token_buckets {
public:
  using time_point = token_bucket::time_point;

  keyed_token_buckets() = default;
  keyed_token_buckets(double per_s, double burst) : per_s_(per_s), burst_(burst) {}

  /// Takes a token of `key` at `now`: 0 if there was one, else the seconds until there is.
  double take(const Key& key, time_point now) {
    if (buckets_.size() >= prune_at_) {
      for (auto i = buckets_.begin(); i != buckets_.end();)
        i = i->second.full_at(now) ? buckets_.erase(i) : std::next(i);
      prune_at_ = std::max(min_prune_at, 2 * buckets_.size());
    }
    auto i = buckets_.try_emplace(key, per_s_, burst_, now).first;
    return i->second.take(now);
  }

  /// Keys currently holding a bucket (for tests and metrics).
  std::size_t size() const { return buckets_.size(); }

private:
  static constexpr std::size_t min_prune_at = 10000;
  double per_s_ = 1;
  double burst_ = 1;
  std::unordered_map<Key, token_bucket> buckets_;
  std::size_t prune_at_ = min_prune_at;
};

} // namespace tandem
