#include "auth/external_identities.hpp"

namespace tandem {

// -- identity_cache ---------------------------------------------------------------------

identity_cache::identity_cache(std::size_t limit) : limit_(limit) {
  if (limit_ == 0)
    throw std::invalid_argument("identity_cache needs room for one mapping");
}

std::size_t identity_cache::key_hash::operator()(const key& k) const noexcept {
  auto h = std::hash<std::string>{}(k.first);
  return h ^ (std::hash<std::string>{}(k.second) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

std::optional<std::string> identity_cache::find(const std::string& issuer,
                                                const std::string& subject) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = index_.find(key{issuer, subject});
  if (i == index_.end())
    return std::nullopt;
  order_.splice(order_.begin(), order_, i->second);
  return i->second->second;
}

void identity_cache::insert(const std::string& issuer, const std::string& subject,
                            const std::string& user_id) {
  std::lock_guard<std::mutex> guard{mtx_};
  key k{issuer, subject};
  if (auto i = index_.find(k); i != index_.end()) {
    i->second->second = user_id;
    order_.splice(order_.begin(), order_, i->second);
    return;
  }
  if (index_.size() >= limit_) {
    index_.erase(order_.back().first);
    order_.pop_back();
  }
  order_.emplace_front(k, user_id);
  index_.emplace(std::move(k), order_.begin());
}

std::size_t identity_cache::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return index_.size();
}

// -- external_identity_map ------------------------------------------------------------------

external_identity_map::external_identity_map(caf::actor_system& sys, persistence::db_actor db,
                                             std::size_t cache_limit, caf::timespan timeout)
  : sys_(sys),
    db_(std::move(db)),
    timeout_(timeout),
    cache_(std::make_shared<identity_cache>(cache_limit)) {
}

std::optional<identity> external_identity_map::cached(const external_subject& who) {
  if (auto id = cache_->find(who.issuer, who.subject))
    return identity{std::move(*id), who.email};
  return std::nullopt;
}

void external_identity_map::resolve(const external_subject& who,
                                    std::function<void(caf::expected<identity>)> done) {
  sys_.spawn([db = db_, timeout = timeout_, cache = cache_, who,
              done = std::move(done)](caf::event_based_actor* self) {
    self->request(db, timeout, atom::map_external_v, who.issuer, who.subject)
      .then(
        [=](std::string& user_id) {
          cache->insert(who.issuer, who.subject, user_id);
          done(identity{std::move(user_id), who.email});
        },
        [=](caf::error& err) { done(std::move(err)); });
  });
}

} // namespace tandem
