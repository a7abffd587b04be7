// The frames waiting for one WebSocket while a write is in flight (docs/api.md,
// Presence and WebSockets: slow consumers): bounded, and coalescing frames that carry the same key (the
// latest presence of a friend replaces the one still queued).
#pragma once

#include "vocabulary/realtime_types.hpp"

#include <cstddef>
#include <vector>

namespace tandem {

class outbound_queue {
public:
  explicit outbound_queue(std::size_t limit) : limit_(limit) {
  }

  /// Queues `frame`, replacing a queued frame with the same non-empty key in place.
  /// Returns false, queuing nothing, when `limit` frames wait already: the caller
  /// closes the connection rather than buffer without bound.
  bool push(shared_frame frame);

  bool empty() const {
    return frames_.empty();
  }

  std::size_t size() const {
    return frames_.size();
  }

  /// Everything queued, in order; the queue is empty afterwards.
  std::vector<shared_frame> take_all();

private:
  std::size_t limit_;
  /// Linear search for a key: the queue is short and usually empty (no memory for
  /// idle connections).
  std::vector<shared_frame> frames_;
};

} // namespace tandem
