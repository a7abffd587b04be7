#include "wire/polled_views.hpp"

#include <algorithm>
#include <functional>

namespace tandem {

std::string json_page(const std::vector<std::string>& entries, list_window page) {
  auto first = std::min(entries.size(), static_cast<std::size_t>(std::max(page.offset, 0)));
  auto last = std::min(entries.size(), first + static_cast<std::size_t>(std::max(page.limit, 0)));
  std::size_t size = 2;
  for (auto i = first; i < last; ++i)
    size += entries[i].size() + 1;
  std::string out;
  out.reserve(size);
  out += '[';
  for (auto i = first; i < last; ++i) {
    if (i != first)
      out += ',';
    out += entries[i];
  }
  out += ']';
  return out;
}

polled_views::polled_views() : shards_(new shard[shard_count]) {
  // nop
}

polled_views::shard& polled_views::shard_of(const std::string& user) const {
  return shards_[std::hash<std::string>{}(user) % shard_count];
}

std::shared_ptr<const polled_view> polled_views::find(const std::string& user) const {
  std::shared_ptr<const polled_view> view;
  {
    auto& s = shard_of(user);
    std::lock_guard<std::mutex> guard{s.mtx};
    auto i = s.views.find(user);
    if (i == s.views.end())
      return nullptr;
    view = i->second;
  }
  view->reads.fetch_add(1, std::memory_order_relaxed);
  return view;
}

void polled_views::publish(const std::string& user, std::shared_ptr<const polled_view> view) {
  std::shared_ptr<const polled_view> replaced; // freed outside the lock
  auto& s = shard_of(user);
  std::lock_guard<std::mutex> guard{s.mtx};
  auto& slot = s.views[user];
  if (slot && slot->owner > view->owner)
    return;
  replaced = std::move(slot);
  slot = std::move(view);
}

void polled_views::withdraw(const std::string& user, uint64_t owner) {
  std::shared_ptr<const polled_view> removed; // freed outside the lock
  auto& s = shard_of(user);
  std::lock_guard<std::mutex> guard{s.mtx};
  auto i = s.views.find(user);
  if (i == s.views.end() || i->second->owner != owner)
    return;
  removed = std::move(i->second);
  s.views.erase(i);
}

std::size_t polled_views::size() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < shard_count; ++i) {
    std::lock_guard<std::mutex> guard{shards_[i].mtx};
    n += shards_[i].views.size();
  }
  return n;
}

} // namespace tandem
