// Private to the database facade's translation units: db.cpp (its own operations, and the
// facade) and one per area (db_social.cpp, db_chat.cpp, db_lease.cpp), which compile
// apart, so that a change to one area recompiles its handlers only and the areas build
// in parallel.
#pragma once

#include "persistence/db.hpp"
#include "persistence/db_session.hpp"
#include "persistence/group_commit.hpp"

#include <optional>
#include <string>
#include <vector>

namespace tandem::persistence {

/// A share waiting for its batch (see `commit_shares` in db_social.cpp).
struct pending_share {
  std::string sender;
  share_request req;
  write_fence fence;
  caf::typed_response_promise<share_receipt> rp;
  caf::actor_clock::time_point arrived; ///< when the facade took it
};

/// The facade's state: its pool of workers, each owning one connection, and the worker
/// that commits shares in batches on a connection of its own (see commit_shares).
struct db_state {
  std::optional<worker_pool<db_session, db_actor::base>> pool;
  worker_factory<db_session> make_worker;
  pool_worker<db_session> share_worker; ///< Started for the first batch, again after it died.
  /// Shares waiting for their batch while one commits.
  group_commit<pending_share> shares;
  std::size_t share_queue_limit = 0; ///< db.queue_limit: most shares waiting
  /// The callers' request deadline, as the pool's: a share that waited this long for its
  /// batch is answered errc::db_timeout and not stored. Zero: none.
  caf::timespan share_deadline{0};

  ~db_state() {
    if (share_worker)
      caf::anon_send_exit(share_worker, caf::exit_reason::user_shutdown);
  }

  /// Runs `fn(pqxx::work&)` as one transaction on a worker; see submit_transaction.
  /// An expensive read names the user it runs for, whose concurrent ones are bounded.
  template <class F>
  auto transact(std::string operation, F fn, std::string expensive_for = {}) {
    return submit_transaction(*pool, std::move(operation), std::move(fn),
                              std::move(expensive_for));
  }

  static inline const char* name = "tandem.db";
};

using db_self = db_actor::stateful_pointer<db_state>;

/// The interfaces of the areas with handlers of their own; db.cpp joins their behaviors
/// with its own into db_actor's.
using social_area = social_db::extend_with<social_queries>;
using chat_area = chat_db::extend_with<chat_queries>;

/// The handlers of the social graph and share notifications (db_social.cpp).
social_area::behavior_type social_handlers(db_self self);

/// The handlers of chat (db_chat.cpp).
chat_area::behavior_type chat_handlers(db_self self);

/// The handlers of the cluster's leases (db_lease.cpp).
lease_db::behavior_type lease_handlers(db_self self);

} // namespace tandem::persistence
