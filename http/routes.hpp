// The route table of a node: which handler answers which method and path.
#pragma once

#include "auth/accounts.hpp"
#include "vocabulary/user_interface.hpp"
#include "actors/conversation_actor.hpp"
#include "auth/external_identities.hpp"
#include "wire/polled_views.hpp"
#include "auth/tokens.hpp"
#include "config/app_config.hpp"
#include "http/metrics.hpp"
#include "http/media_urls.hpp"
#include "cluster/membership.hpp"
#include "http/router.hpp"
#include "persistence/db.hpp"
#include "persistence/media_store.hpp"
#include "persistence/redis.hpp"

#include <atomic>
#include <memory>

namespace tandem::http {

/// What handlers reach: the actor system and the actors they hand work to.
struct services {
  caf::actor_system& sys;
  const config::app_config& cfg;
  persistence::db_actor db;
  persistence::redis_actor redis;
  metrics& stats;
  // -- accounts and tokens (http/auth.cpp) ----------------------------------------
  /// Verifies access tokens for `protected_route`; issues them after login.
  std::shared_ptr<const token_service> tokens;
  /// Maps the subjects of external tokens to Tandem identities, for `protected_route`.
  std::shared_ptr<external_identity_map> identities;
  /// Registration, login, refresh and logout (POST /auth/...).
  accounts_actor accounts;
  // -- media (http/media_routes.cpp) --------------------------------------------
  /// The profile image store (detached file workers).
  persistence::media_actor media;
  /// Signs and checks the media URLs handed to clients.
  std::shared_ptr<const media_url_signer> media_urls;
  // -- social graph and share notifications (http/social_routes.cpp) ---------------
  /// Routes every request about a user to that user's actor.
  user_registry_actor users;
  /// The polled reads the users' actors publish, answered on the io thread.
  std::shared_ptr<const polled_views> views;
  // -- chat (http/chat_routes.cpp) -----------------------------------------------------
  /// Routes every request about a conversation to that conversation's actor.
  conversation_registry_actor chats;
  // -- the cluster (docs/cluster.md) ----------------------------------------------------
  /// The node's membership view; null on a node that is not part of a cluster. A
  /// fenced node is not ready.
  std::shared_ptr<const cluster::membership_board> cluster;
  /// Set on SIGTERM (main.cpp): /readyz answers 503 from then on, so that the balancer
  /// takes the node out of rotation during http.shutdown_delay_ms, before it stops serving.
  std::shared_ptr<const std::atomic<bool>> shutting_down;
};

/// The whole route table of a node.
router make_routes(const services& svc);

// Each area adds its routes; defined in its own file.
void add_auth_routes(router& r, const services& svc);   // http/auth.cpp
void add_user_routes(router& r, const services& svc);   // http/user_routes.cpp
void add_media_routes(router& r, const services& svc);  // http/media_routes.cpp
void add_social_routes(router& r, const services& svc); // http/social_routes.cpp
void add_presence_routes(router& r, const services& svc); // http/presence_routes.cpp
void add_chat_routes(router& r, const services& svc);     // http/chat_routes.cpp

} // namespace tandem::http
