// What the HTTP server needs to turn an upgrade request into a WebSocket (docs/api.md,
// Presence and WebSockets): token verification, the user registry, and the gateway's limits.
// Beast-free; the sessions themselves live in http/ws_session.cpp.
#pragma once

#include "vocabulary/user_interface.hpp"
#include "actors/connection_actor.hpp"
#include "actors/conversation_actor.hpp"
#include "auth/external_identities.hpp"
#include "vocabulary/realtime_types.hpp"
#include "auth/tokens.hpp"
#include "config/app_config.hpp"

#include <caf/all.hpp>

#include <memory>

namespace tandem::http {

struct ws_gateway {
  caf::actor_system& sys;
  /// Verifies the token of an upgrade, once, before anything else happens.
  std::shared_ptr<const token_service> tokens;
  /// Maps the subject of an external token to its Tandem identity.
  std::shared_ptr<external_identity_map> identities;
  /// Connections register with their user's actor through it.
  user_registry_actor users;
  /// Chat actions go to the conversations' actors through it.
  conversation_registry_actor chats;
  std::size_t max_message_length;
  /// Limits enforced by connection actors.
  gateway_settings settings;
  /// Limits enforced on the socket: frame size, idle timeout, read-ahead window.
  config::ws_config socket;
  /// Bound of a connection's registration with its user's actor.
  caf::timespan request_timeout;
  /// Cluster mode for the connections (cluster.enabled); empty on a single node.
  cluster_link cluster = {};
};

} // namespace tandem::http
