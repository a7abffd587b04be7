#include "wire/outbound_queue.hpp"

#include <algorithm>

namespace tandem {

bool outbound_queue::push(shared_frame frame) {
  const auto& key = frame->coalesce_key;
  if (!key.empty()) {
    auto i = std::find_if(frames_.begin(), frames_.end(),
                          [&key](const shared_frame& f) { return f->coalesce_key == key; });
    if (i != frames_.end()) {
      *i = std::move(frame);
      return true;
    }
  }
  if (frames_.size() >= limit_)
    return false;
  frames_.push_back(std::move(frame));
  return true;
}

std::vector<shared_frame> outbound_queue::take_all() {
  std::vector<shared_frame> out;
  out.swap(frames_);
  return out;
}

} // namespace tandem
