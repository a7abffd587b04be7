// Deletes expired friend requests (users.request_ttl_s) from the database, so that
// requests nobody answered do not pile up. Readers leave expired requests out on
// their own (friend_edges, the pending bounds, user actors' expiry timers): this only
// reclaims the rows, in bounded batches, on every node (SKIP LOCKED keeps them apart).
#pragma once

#include "config/app_config.hpp"
#include "persistence/social_db.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <cstdint>
#include <memory>

namespace tandem {

/// The purge's own timer: delete one batch, then wait or go on.
using request_purge_actor = caf::typed_actor<caf::reacts_to<atom::purge_expired_requests>>;

struct request_purge_settings {
  caf::timespan interval = std::chrono::hours(1); ///< users.request_purge_interval_s
  int32_t batch = 10000;                          ///< users.request_purge_batch
  caf::timespan request_timeout = std::chrono::seconds(5);
};

request_purge_settings request_purge_settings_from(const config::app_config& cfg);

/// Expired requests deleted since start, for /metrics.
struct request_purge_counters {
  std::atomic<uint64_t> purged{0};
};

/// Starts purging at once, then every `interval`; a full batch is followed by the
/// next one straight away.
request_purge_actor spawn_request_purge(caf::actor_system& sys, persistence::social_db db,
                                        request_purge_settings settings,
                                        std::shared_ptr<request_purge_counters> counters);

} // namespace tandem
