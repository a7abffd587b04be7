#include "wire/polled_views.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
#include <utility>

namespace tandem {

struct json_entries::node {
  std::string text;
  std::shared_ptr<const node> next;

  node(std::string text, std::shared_ptr<const node> next)
    : text(std::move(text)), next(std::move(next)) {
    // nop
  }

  // Unlinks the nodes only this one holds one by one: a long list freed by recursion
  // would take a stack frame per entry.
  ~node() {
    auto n = std::move(next);
    while (n && n.use_count() == 1) {
      // The last owner of a node built mutable (make_shared<node>) may take its link.
      auto after = std::move(const_cast<node&>(*n).next);
      n = std::move(after);
    }
  }
};

const std::string& json_entries::const_iterator::operator*() const {
  return at_->text;
}

json_entries::const_iterator& json_entries::const_iterator::operator++() {
  at_ = at_->next.get();
  if (--left_ == 0)
    at_ = nullptr;
  return *this;
}

json_entries::const_iterator json_entries::begin() const {
  if (size_ == 0)
    return {};
  return {head_.get(), size_};
}

std::shared_ptr<const json_entries::node>
json_entries::chain_of(std::vector<std::string>& texts, std::shared_ptr<const node> tail) {
  for (auto i = texts.rbegin(); i != texts.rend(); ++i)
    tail = std::make_shared<node>(std::move(*i), std::move(tail));
  return tail;
}

json_entries json_entries::of(std::vector<std::string> texts) {
  json_entries out;
  out.size_ = out.chain_ = texts.size();
  out.head_ = chain_of(texts, nullptr);
  return out;
}

json_entries json_entries::inserted(std::size_t at, std::string text) const {
  at = std::min(at, size_);
  std::vector<std::string> before;
  before.reserve(at + 1);
  auto rest = head_;
  for (std::size_t i = 0; i < at; ++i, rest = rest->next)
    before.push_back(rest->text);
  before.push_back(std::move(text));
  json_entries out;
  out.size_ = size_ + 1;
  out.chain_ = chain_ + 1;
  out.head_ = chain_of(before, std::move(rest));
  return out.first(out.size_);
}

json_entries json_entries::first(std::size_t n) const {
  n = std::min(n, size_);
  json_entries out = *this;
  out.size_ = n;
  if (chain_ <= 2 * n + 16)
    return out;
  // Too many cut-off nodes kept alive: copy the entries still in the list (amortized
  // over the inserts that made the garbage).
  return of(std::vector<std::string>(begin(), std::next(begin(), static_cast<std::ptrdiff_t>(n))));
}

std::string json_page(const json_entries& entries, list_window page) {
  auto first = std::min(entries.size(), static_cast<std::size_t>(std::max(page.offset, 0)));
  auto last = std::min(entries.size(), first + static_cast<std::size_t>(std::max(page.limit, 0)));
  auto from = std::next(entries.begin(), static_cast<std::ptrdiff_t>(first));
  std::size_t size = 2;
  auto it = from;
  for (auto i = first; i < last; ++i, ++it)
    size += it->size() + 1;
  std::string out;
  out.reserve(size);
  out += '[';
  it = from;
  for (auto i = first; i < last; ++i, ++it) {
    if (i != first)
      out += ',';
    out += *it;
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
