// A value that one owner keeps current and any thread may read: how an actor shows its
// load on /metrics, whose rendering (on an io thread) must never wait for an actor.
#pragma once

#include <mutex>

namespace tandem {

/// The latest copy of a small struct: the owner stores one after each change, a reader
/// takes one. The mutex is held for one copy only.
template <class T>
class published {
public:
  void store(const T& value) {
    std::lock_guard<std::mutex> guard{mutex_};
    value_ = value;
  }

  T load() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return value_;
  }

private:
  mutable std::mutex mutex_;
  T value_{};
};

} // namespace tandem
