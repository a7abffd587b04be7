// The frames waiting for one WebSocket while a write is in flight (docs/api.md,
// Presence and WebSockets: slow consumers): bounded, and coalescing frames that carry the same key (the
// latest presence of a friend replaces the one still queued).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tandem {

class outbound_queue {
public:
  explicit outbound_queue(std::size_t limit) : limit_(limit) {
  }

  /// Queues `frame`, replacing a queued frame with the same non-empty `key` in place.
  /// Returns false, queuing nothing, when `limit` frames wait already: the caller
  /// closes the connection rather than buffer without bound.
  bool push(std::string frame, const std::string& key);

  bool empty() const {
    return frames_.empty();
  }

  std::size_t size() const {
    return frames_.size();
  }

  /// Everything queued, in order; the queue is empty afterwards.
  std::vector<std::string> take_all();

private:
  std::size_t limit_;
  std::vector<std::string> frames_;
  /// The key of each queued frame (parallel to `frames_`); empty when none. Linear
  /// search: the queue is short and usually empty (no memory for idle connections).
  std::vector<std::string> keys_;
};

} // namespace tandem
