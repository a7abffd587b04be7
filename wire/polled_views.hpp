// The hot polled reads of a user (F4, N3 unread, U10 about oneself, and the profile as
// U3 and U6 answer it), rendered to JSON
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
#include <iterator>
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

/// Rendered JSON entries in order, as an immutable list whose nodes views share: a
/// new entry at the front (where a new share goes) reuses every entry behind it, so
/// the next view of a user with a long unread backlog costs one node, not a copy of
/// the backlog. Safe to read from any thread; only its builder makes new lists.
class json_entries {
  struct node;

public:
  class const_iterator {
  public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string*;
    using reference = const std::string&;

    const_iterator() = default;
    reference operator*() const;
    pointer operator->() const {
      return &**this;
    }
    const_iterator& operator++();
    const_iterator operator++(int) {
      auto was = *this;
      ++*this;
      return was;
    }
    bool operator==(const const_iterator& other) const {
      return left_ == other.left_;
    }
    bool operator!=(const const_iterator& other) const {
      return left_ != other.left_;
    }

  private:
    friend class json_entries;
    const_iterator(const node* at, std::size_t left) : at_(at), left_(left) {
      // nop
    }
    const node* at_ = nullptr;
    std::size_t left_ = 0; ///< entries from here to the end
  };

  json_entries() = default;

  /// The entries of `texts`, in that order.
  static json_entries of(std::vector<std::string> texts);

  std::size_t size() const {
    return size_;
  }
  bool empty() const {
    return size_ == 0;
  }
  const_iterator begin() const;
  const_iterator end() const {
    return {};
  }
  const std::string& front() const {
    return *begin();
  }

  /// These entries with `text` inserted before the `at`th: the entries before it are
  /// copied, the ones behind it shared.
  json_entries inserted(std::size_t at, std::string text) const;

  /// The first `n` entries (all of them if fewer).
  json_entries first(std::size_t n) const;

  /// The nodes this list keeps alive: its entries and those `first` cut off but did
  /// not free yet (copying the list to free them once they outnumber the entries).
  std::size_t held() const {
    return chain_;
  }

private:
  /// `texts` in order, in front of `tail` (their strings are moved).
  static std::shared_ptr<const node> chain_of(std::vector<std::string>& texts,
                                              std::shared_ptr<const node> tail);

  std::shared_ptr<const node> head_;
  std::size_t size_ = 0;
  /// Nodes reachable from `head_`: those past `size_` are what `first` cut off, kept
  /// until a later insert copies the list (the garbage stays under about `size_`).
  std::size_t chain_ = 0;
};

/// One user's polled reads as rendered JSON, each part shared with the views before
/// and after it that did not change it.
struct polled_view {
  /// The id of the actor that published it: only it may replace or withdraw it.
  uint64_t owner = 0;
  /// F4 `GET /friendship/requests`: the whole body.
  std::shared_ptr<const std::string> requests;
  /// N3 `is_read=false` entries, newest first, and whether they are all of them.
  json_entries unread;
  bool unread_complete = true;
  /// U10 about the user themselves: one entry per accepted friend, by name.
  json_entries friends;
  /// The profile as U3 `GET /users/me` (private) and U6 `GET /users/id/{id}` (public)
  /// answer it; null while the user has no profile (the actor answers 404).
  std::shared_ptr<const std::string> own_profile;
  std::shared_ptr<const std::string> public_profile;
  /// Reads served from this view since the actor last looked: a user who only polls
  /// is still active, so the actor does not idle away under them.
  mutable std::atomic<uint64_t> reads{0};

  /// Whether `unread` answers `page` (it holds the newest entries only).
  bool unread_serves(list_window page) const {
    return page_within(unread.size(), unread_complete, page);
  }
};

/// `entries[offset, offset + limit)` as one JSON array.
std::string json_page(const json_entries& entries, list_window page);

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
