#include "wire/outbound_queue.hpp"

#include <algorithm>

namespace tandem {

bool outbound_queue::push(std::string frame, const std::string& key) {
  if (!key.empty()) {
    auto i = std::find(keys_.begin(), keys_.end(), key);
    if (i != keys_.end()) {
      frames_[static_cast<std::size_t>(i - keys_.begin())] = std::move(frame);
      return true;
    }
  }
  if (frames_.size() >= limit_)
    return false;
  frames_.push_back(std::move(frame));
  keys_.push_back(key);
  return true;
}

std::vector<std::string> outbound_queue::take_all() {
  std::vector<std::string> out;
  out.swap(frames_);
  keys_.clear();
  keys_.shrink_to_fit();
  return out;
}

} // namespace tandem
