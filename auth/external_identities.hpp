// The Tandem identities of external ID tokens. A token of the external issuer names
// (issuer, subject); the Tandem user id is the one mapped to them in table
// external_identities (minted on first sight), never the subject itself. Mappings never
// change, so the most recently used ones are cached in memory: a request whose mapping
// is cached is answered on its io thread, and only a miss goes to the database.
#pragma once

#include "auth/tokens.hpp"
#include "persistence/db.hpp"

#include <caf/all.hpp>

#include <cstddef>
#include <functional>
#include <list>
#include <stdexcept>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace tandem {

/// At most `limit` mappings (issuer, subject) -> user id; the least recently used one
/// makes room for a new one. Safe from any thread; a lock is held for one lookup.
class identity_cache {
public:
  explicit identity_cache(std::size_t limit);

  /// The user id of (`issuer`, `subject`), now the most recently used; or nullopt.
  std::optional<std::string> find(const std::string& issuer, const std::string& subject);

  /// Remembers a mapping as the most recently used one.
  void insert(const std::string& issuer, const std::string& subject, const std::string& user_id);

  std::size_t size() const;

private:
  using key = std::pair<std::string, std::string>;
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept;
  };
  using entry = std::pair<key, std::string>;

  mutable std::mutex mtx_;
  std::size_t limit_;
  std::list<entry> order_;  ///< most recently used first
  std::unordered_map<key, std::list<entry>::iterator, key_hash> index_;
};

/// Maps verified external subjects to Tandem identities: from the cache, or through
/// the database facade. Shared by io threads (HTTP and WebSocket authentication).
class external_identity_map {
public:
  external_identity_map(caf::actor_system& sys, persistence::db_actor db,
                        std::size_t cache_limit, caf::timespan timeout);

  /// The identity of `who` when its mapping is cached; never waits.
  std::optional<identity> cached(const external_subject& who);

  /// Maps `who` through the database (its Tandem id minted on first sight), caches the
  /// mapping and calls `done` once, on a scheduler thread, with the identity or the
  /// database's error. The request is made by a one-shot actor: no caller thread waits.
  void resolve(const external_subject& who, std::function<void(caf::expected<identity>)> done);

  /// The number of cached mappings.
  std::size_t cached_count() const {
    return cache_->size();
  }

private:
  caf::actor_system& sys_;
  persistence::db_actor db_;
  caf::timespan timeout_;
  std::shared_ptr<identity_cache> cache_;
};

} // namespace tandem
