// The user registry (docs/architecture.md, Actors): owns the user actors of this node. It
// spawns one on first use, routes every message for a user to it, monitors it, and
// passivates it after its idle time without losing a message that races with that.
#pragma once

#include "vocabulary/user_interface.hpp"
#include "actors/registry.hpp"
#include "actors/user_actor.hpp"
#include "cluster/placement.hpp"
#include "config/app_config.hpp"
#include "persistence/social_db.hpp"

#include <caf/all.hpp>

#include <memory>

namespace tandem {

/// The settings of user actors from `users.*` and `http.request_timeout_ms`.
user_settings user_settings_from(const config::app_config& cfg);

/// Spawns the registry; the user actors it spawns use `db`. Stopping the registry
/// stops every user actor it owns. `counters` are the registry's, for /metrics.
user_registry_actor spawn_user_registry(
  caf::actor_system& sys, persistence::social_db db, user_settings settings,
  std::shared_ptr<registry_counters> counters = std::make_shared<registry_counters>(),
  cluster::cluster_placement placement = {});

} // namespace tandem
