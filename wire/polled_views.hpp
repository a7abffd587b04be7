// The hot polled reads of a user (F4, N3 unread, U10 about oneself), rendered to JSON
// by the user's actor whenever its state changes and pinned here, so that an io thread
// answers them with no hand-off to the actors (BENCHMARKS.md, Targets: 50k polled
// reads/s per node). The actor stays the only writer of its state: a view is immutable,
// replaced as a whole after each change (before the change's write is answered), and
// withdrawn when the actor ends. A user without a view is served by the actor path.
#pragma once

#include "vocabulary/social_types.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace tandem {

/// Whether the newest `held` entries of a list, `complete` if they are all of it,
/// answer `page`.
inline bool page_within(std::size_t held, bool complete, list_window page) {
  return complete || int64_t{page.offset} + int64_t{page.limit} <= static_cast<int64_t>(held);
}

/// One user's polled reads as rendered JSON.
struct polled_view {
  /// The id of the actor that published it: only it may replace or withdraw it.
  uint64_t owner = 0;
  /// F4 `GET /friendship/requests`: the whole body.
  std::string requests;
  /// N3 `is_read=false` entries, newest first, and whether they are all of them.
  std::vector<std::string> unread;
  bool unread_complete = true;
  /// U10 about the user themselves: one entry per accepted friend, by name.
  std::vector<std::string> friends;
  /// Reads served from this view since the actor last looked: a user who only polls
  /// is still active, so the actor does not idle away under them.
  mutable std::atomic<uint64_t> reads{0};

  /// Whether `unread` answers `page` (it holds the newest entries only).
  bool unread_serves(list_window page) const {
    return page_within(unread.size(), unread_complete, page);
  }
};

/// `entries[offset, offset + limit)` as one JSON array.
std::string json_page(const std::vector<std::string>& entries, list_window page);

/// Every live user actor's view, by user id; safe from any thread. Sharded so that
/// io threads and actors rarely meet on a lock, and a lock is held only to copy or
/// swap a pointer.
class polled_views {
public:
  polled_views();

  /// The view of `user`, counted as a read; null when the user has no live actor.
  std::shared_ptr<const polled_view> find(const std::string& user) const;

  /// Pins `view` for `user`, unless a view of a newer actor (higher owner id) is
  /// there: an actor on its way out never hides its successor's state.
  void publish(const std::string& user, std::shared_ptr<const polled_view> view);

  /// Removes the view of `user` if `owner` published it.
  void withdraw(const std::string& user, uint64_t owner);

  /// The number of views pinned.
  std::size_t size() const;

private:
  struct shard {
    mutable std::mutex mtx;
    std::unordered_map<std::string, std::shared_ptr<const polled_view>> views;
  };
  static constexpr std::size_t shard_count = 64;

  shard& shard_of(const std::string& user) const;

  std::unique_ptr<shard[]> shards_;
};

} // namespace tandem
