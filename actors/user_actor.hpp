// One actor per user (docs/architecture.md, Actors): the owner of the user's profile, friends,
// pending requests both ways and unread share notifications, loaded once from
// PostgreSQL, serving the reads from memory and running the user's writes database
// first; its state lives in actors/user_state.hpp. Spawned and passivated by the user
// registry (user_registry.hpp).
#pragma once

#include "actors/user_state.hpp"
#include "vocabulary/user_interface.hpp"

#include <caf/all.hpp>

#include <string>

namespace tandem {

/// The behavior of a user actor for `id`; spawned by the registry only.
user_actor::behavior_type user_actor_impl(user_actor::stateful_pointer<user_state> self,
                                          std::string id, persistence::social_db db,
                                          user_registry_actor registry, user_settings settings);

} // namespace tandem
