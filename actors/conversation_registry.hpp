// The conversation registry: owns the conversation actors of this node (a keyed_actors
// table: one per conversation, spawned on first use, passivated when idle) and the
// per-user budgets of chat.rate_per_s and chat.conversations_per_hour, taken before a
// message is routed.
#pragma once

#include "actors/conversation_actor.hpp"
#include "actors/registry.hpp"
#include "cluster/placement.hpp"

#include <caf/all.hpp>

#include <memory>

namespace tandem {

/// Spawns the registry; its conversation actors use `db`, `writer` and push through
/// `users`. Stopping the registry stops every conversation actor it owns. `counters`
/// are the registry's, for /metrics.
conversation_registry_actor spawn_conversation_registry(
  caf::actor_system& sys, persistence::chat_db db, persistence::message_writer_actor writer,
  user_registry_actor users, chat_settings settings,
  std::shared_ptr<registry_counters> counters = std::make_shared<registry_counters>(),
  cluster::cluster_placement placement = {});

} // namespace tandem
