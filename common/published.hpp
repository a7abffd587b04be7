// A value that one owner keeps current and any thread may read: how an actor shows its
// load on /metrics, whose rendering (on an io thread) must never wait for an actor.
#pragma once

#include <atomic>
#include <cstdint>
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

/// Stores in `gauge` how many messages wait in the mailbox of the actor `self` besides the
/// one it handles. Only the actor itself may call it (CAF's mailbox has one reader): it
/// samples in the handlers that matter, and the last message of a burst leaves the gauge
/// at what still waits, often 0.
template <class Self>
void sample_mailbox(Self* self, std::atomic<uint64_t>& gauge) {
  gauge.store(self->mailbox().size(), std::memory_order_relaxed);
}

} // namespace tandem
