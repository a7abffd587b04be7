// The route table of a node: which handler answers which method and path.
#pragma once

#include "config/app_config.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"
#include "persistence/db.hpp"
#include "persistence/redis.hpp"

namespace tandem::http {

/// What handlers reach: the actor system and the actors they hand work to.
struct services {
  caf::actor_system& sys;
  const config::app_config& cfg;
  persistence::db_actor db;
  persistence::redis_actor redis;
  metrics& stats;
};

router make_routes(services svc);

} // namespace tandem::http
