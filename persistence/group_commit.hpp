// Group commit, as chat's message writer and the database facade's shares do it: writes
// that arrive while a batch commits wait, and go together in the next batch, so that under
// load one commit (one wait for the disk's flush) serves many writes and an idle writer
// commits each at once.
#pragma once

#include <cstddef>
#include <deque>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

namespace tandem::persistence {

/// The writes waiting for their batch, oldest first, and whether a batch is committing
/// (one at a time). Not thread-safe: the state of one actor.
template <class Write>
class group_commit {
public:
  using batch = std::shared_ptr<std::vector<Write>>;

  bool committing() const {
    return committing_;
  }

  /// The writes waiting, oldest first.
  const std::deque<Write>& waiting() const {
    return waiting_;
  }

  void add(Write w) {
    waiting_.push_back(std::move(w));
  }

  /// Hands each waiting write at the front for which `expired(write)` holds to `drop`,
  /// and removes it: writes wait in arrival order, so the oldest expire first.
  template <class Expired, class Drop>
  void drop_expired(Expired expired, Drop drop) {
    while (!waiting_.empty() && expired(waiting_.front())) {
      drop(waiting_.front());
      waiting_.pop_front();
    }
  }

  /// Moves the oldest `n` waiting writes (at most all) into a batch, which commits from
  /// now on until `finish`.
  batch start(std::size_t n) {
    auto end = waiting_.begin() + static_cast<std::ptrdiff_t>(std::min(n, waiting_.size()));
    auto out = std::make_shared<std::vector<Write>>(std::make_move_iterator(waiting_.begin()),
                                                    std::make_move_iterator(end));
    waiting_.erase(waiting_.begin(), end);
    committing_ = true;
    return out;
  }

  /// The batch is answered: whether writes wait for the next one (what arrived during a
  /// commit goes at once: it has waited long enough).
  bool finish() {
    committing_ = false;
    return !waiting_.empty();
  }

private:
  std::deque<Write> waiting_;
  bool committing_ = false;
};

/// The two halves of a batch that a row error failed, to be tried one after the other,
/// each in a transaction of its own, and so on down: only the offending rows fail.
template <class Write>
std::pair<std::shared_ptr<std::vector<Write>>, std::shared_ptr<std::vector<Write>>>
split_in_halves(std::vector<Write>& failed) {
  auto middle = failed.begin() + static_cast<std::ptrdiff_t>(failed.size() / 2);
  return {std::make_shared<std::vector<Write>>(std::make_move_iterator(failed.begin()),
                                               std::make_move_iterator(middle)),
          std::make_shared<std::vector<Write>>(std::make_move_iterator(middle),
                                               std::make_move_iterator(failed.end()))};
}

} // namespace tandem::persistence
