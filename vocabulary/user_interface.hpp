// Typed interfaces of the user actors and their registry (docs/architecture.md, Actors): one
// actor per user, reached only through the registry, which routes each message by
// the user id it names.
#pragma once

#include "vocabulary/messages.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

/// What a user actor answers. Nobody holds a user actor's handle but its registry:
/// everyone sends these to the `user_registry_actor`, which passes each, unchanged,
/// to the actor of the user named by its first string (for `write_friendship`, the pair's
/// owner, see there), spawning it on first use. Every reply may also be the error
/// the actor's load failed with: `errc::not_found` "User not found" for a user
/// without a profile, or a database error.
using user_routed = caf::typed_actor<
  // -- requests of the user themselves ------------------------------------------------
  /// F1: the friendship row between the user and `other`, either way.
  caf::replies_to<atom::lookup_friendship, std::string, std::string>::with<friendship_lookup>,
  /// F4: pending requests to the user, newest first.
  caf::replies_to<atom::incoming_requests, std::string>::with<std::vector<relation>>,
  /// U10: the friends of `target` (user, target, page), with friendship_state
  /// relative to the user, by first name, last name and id.
  caf::replies_to<atom::list_friends, std::string, std::string, list_window>::with<
    std::vector<user_summary>>,
  /// U11: the number of friends of the user named.
  caf::replies_to<atom::count_friends, std::string>::with<int64_t>,
  /// U8: friends of both the user and `target` (user, target, page), by name.
  caf::replies_to<atom::mutual_friends, std::string, std::string, list_window>::with<
    std::vector<user_summary>>,
  /// U9: the number of friends of both the user and `target`.
  caf::replies_to<atom::count_mutual_friends, std::string, std::string>::with<int64_t>,
  /// F10: every friend and pending request of the user, by name.
  caf::replies_to<atom::all_relations, std::string, list_window>::with<std::vector<relation>>,
  /// F2, F5, F6, F7: routed to the actor of the lower id of {caller, other}, the
  /// pair's owner, so that one actor runs every write of a pair, one at a time, and
  /// both users' actors see them in commit order. Replies true once the database
  /// committed and both actors apply the change; errors as `social_db`'s commit_friendship.
  caf::replies_to<atom::write_friendship, friendship_command>::with<bool>,
  /// DELETE /friendship/requests: declines every pending request to the user, in one
  /// transaction; replies how many once the user's actor and the requesters' live
  /// actors have it. Run by the user's actor: a requester's actor drops the request
  /// only if it still holds that very row (see `user_state::apply`).
  caf::replies_to<atom::decline_all_requests, std::string>::with<int64_t>,
  /// N3 `is_read=false`: the user's unread notifications, newest first.
  caf::replies_to<atom::unread_shares, std::string, list_window>::with<
    std::vector<share_notification>>,
  /// N1, N2: shares a page; replies the event id once every recipient's actor has it.
  caf::replies_to<atom::send_share, std::string, share_request>::with<std::string>,
  /// N5: marks notifications of the user read (event ids in canonical UUID form).
  caf::replies_to<atom::mark_shares_read, std::string, std::vector<std::string>>::with<bool>,
  // -- the user's profile: answered from the actor's state, written through it --------
  /// U3 (the user themselves) and U6 (anyone: the route shows only the public
  /// fields): the profile as committed, also while a write of it runs.
  caf::replies_to<atom::get_profile, std::string>::with<user_profile>,
  /// Profile writes, run one at a time with the user's other writes: database first,
  /// then the actor's state, then the new card to the live actors of related users and
  /// the privacy rules to the current page; each replies only once all of that is
  /// done, so the user's next read shows it. `errc::overloaded` past
  /// users.write_queue_limit, as every write.
  /// U2: creates the profile (user, names and email from the token); `already_exists`
  /// when there is one.
  caf::replies_to<atom::create_profile, std::string, new_profile>::with<user_profile>,
  /// U4: replaces the editable fields (user, email from the token, the fields).
  caf::replies_to<atom::update_profile, std::string, std::string, profile_update>::with<
    user_profile>,
  /// U5: replaces one domain list.
  caf::replies_to<atom::set_profile_domains, std::string, domain_list,
                  std::vector<std::string>>::with<user_profile>,
  /// U12: records an upload of a profile image with this extension now.
  caf::replies_to<atom::set_profile_image, std::string, std::string>::with<user_profile>,
  /// U15: forgets the profile image; replies the extension it had ("" for none), so
  /// that the route removes that file.
  caf::replies_to<atom::clear_profile_image, std::string>::with<std::string>,
  // -- presence and live connections (docs/api.md, Presence and WebSockets) -----------
  /// A WebSocket of the user opened (user, the event kinds it subscribes to, its
  /// connection actor): the user actor pushes to it until it terminates (monitored).
  /// Beyond ws.max_connections it evicts the oldest and replies only once that one has
  /// terminated (its socket closed); `errc::rate_limited` when ws.max_connections wait
  /// already. Replies the user actor, which the connection talks to directly from then
  /// on (see `user_actor`).
  caf::replies_to<atom::open_connection, std::string, uint8_t, caf::actor>::with<caf::actor>,
  /// The same in a cluster (docs/cluster.md, Connections on other nodes), where the
  /// socket may be on another node and no handle crosses: the connection is named by
  /// `connection_ref` and hears from the user actor through the connection directory
  /// of its node (a local one directly). Replies the node of the user actor. From then
  /// on the connection sends what follows, also routed by user, and the user actor
  /// answers a ref it does not know (its actor was replaced) with `connection_lost`.
  caf::replies_to<atom::open_connection, std::string, uint8_t, connection_ref>::with<
    node_identity>,
  /// update-presence from the connection `connection_ref` (cluster).
  caf::reacts_to<atom::update_presence, std::string, connection_ref, page_info>,
  /// A heartbeat from the connection (cluster).
  caf::reacts_to<atom::presence_heartbeat, std::string, connection_ref>,
  /// A token of the user's budget of `kind` for the connection (cluster; see `budget`
  /// in `user_actor`).
  caf::replies_to<atom::budget, std::string, connection_ref, uint8_t>::with<bool>,
  /// The connection ended (cluster: a connection on another node cannot be monitored,
  /// so each tells its user actor when it terminates). Dropped without a live actor.
  caf::reacts_to<atom::close_connection, std::string, connection_ref>,
  /// GET /presence: the user's presence and every accepted friend's.
  caf::replies_to<atom::get_presence, std::string>::with<presence_overview>,
  /// GET /presence/{target}: the presence of the user or of an accepted friend;
  /// `errc::forbidden` for anyone else.
  caf::replies_to<atom::peek_presence, std::string, std::string>::with<presence_state>,
  /// The user's presence. The registry answers "offline" itself when the user has no
  /// live actor: without an actor there is no connection.
  caf::replies_to<atom::presence_of, std::string>::with<presence_state>,
  /// A frame for the user's connections that subscribe to its kind; dropped without a
  /// live actor (no connection to deliver to).
  caf::reacts_to<atom::push, std::string, ws_push>,
  /// The user's session (user, session id = refresh token family) was signed out or
  /// revoked: every connection opened with a token of it closes. Dropped without a live
  /// actor (no connection to close). The one owner of the user's connections does it,
  /// so other nodes can later be told the same.
  caf::reacts_to<atom::session_end, std::string, std::string>,
  // -- between user actors -------------------------------------------------------------
  /// The ids of the user's accepted friends (for mutual friends).
  caf::replies_to<atom::friend_ids, std::string>::with<std::vector<std::string>>,
  /// A page of the user's accepted friends, by name (for U10 about someone else).
  caf::replies_to<atom::friend_cards, std::string, list_window>::with<std::vector<user_card>>,
  /// A committed friendship change of a pair of the user. The registry answers true
  /// itself when the user has no live actor: a later load reads the change.
  caf::replies_to<atom::apply_friendship_change, std::string, friendship_change>::with<bool>,
  /// A committed share the user received (answered like `apply_friendship_change`).
  caf::replies_to<atom::receive_share, std::string, share_notification>::with<bool>,
  /// A user related to the user changed their card; dropped without a live actor.
  caf::reacts_to<atom::card_changed, std::string, user_card>,
  /// A write that concerns the user may or may not have committed (its reply was
  /// lost): the actor stops as soon as nothing is in flight, and the next use reloads.
  /// Dropped without a live actor.
  caf::reacts_to<atom::resync, std::string>>;

/// A user actor: the routed messages, what its connections send it directly, its own
/// timers and its registry's stop.
using user_actor = user_routed::extend<
  /// From a connection of the user: update-presence with the page as the client sent it.
  caf::reacts_to<atom::update_presence, page_info>,
  /// From a connection of the user: a heartbeat (activity without a new page).
  caf::reacts_to<atom::presence_heartbeat>,
  /// The presence timer, sent by the actor to itself.
  caf::reacts_to<atom::check_presence>,
  /// The presence budget's timer, sent by the actor to itself: the update-presence
  /// coalesced while the budget was spent goes out now.
  caf::reacts_to<atom::flush_presence>,
  /// From a connection of the user: takes a token of the user's budget of `kind`
  /// (a `flood_budget` constant); false, counted as shed, when it is spent.
  caf::replies_to<atom::budget, uint8_t>::with<bool>,
  /// The expiry timer of pending requests, sent by the actor to itself for the time
  /// (Unix milliseconds) the earliest one expires.
  caf::reacts_to<atom::expire_requests, int64_t>,
  /// The idle timer, sent by the actor to itself: periodic (true), or a check made
  /// at once because the actor wants to stop (false).
  caf::reacts_to<atom::tick, bool>,
  /// From the registry: this node left the cluster's live set; the connections on it
  /// are gone.
  caf::reacts_to<atom::node_gone, node_identity>,
  /// From the registry after it dropped the actor's entry: stop now.
  caf::reacts_to<atom::passivate>>;

/// The user registry: routes the messages of `user_routed`, and passivates actors.
using user_registry_actor = user_routed::extend<
  /// From a user actor idle for users.idle_timeout_s with nothing in flight: the user
  /// and how many routed messages it has handled. The registry removes the entry
  /// only when it routed exactly that many, i.e. none is still on its way.
  caf::reacts_to<atom::idle, std::string, uint64_t>,
  /// From a user actor: the event kinds its live connections subscribe to, 0 when it
  /// has none, and those connections when all are on this node. Pushes and fan-outs
  /// skip users without a connection for their kind, and go to the listed
  /// connections' actors directly (else through the user's actor).
  caf::reacts_to<atom::live_connections, std::string, uint8_t, std::vector<live_socket>>,
  /// One frame for many users (friends, members), in one message: delivered to the
  /// actors of those with a live connection for its kind, nothing for the others.
  /// Typing is shed (counted) while more than ws.fanout_backlog messages wait.
  caf::reacts_to<atom::fanout, std::vector<std::string>, ws_push>,
  /// The node is fenced (docs/cluster.md): every user actor stops at once.
  caf::reacts_to<atom::stop_serving>,
  /// The live set changed: the actors of users now homed on another node passivate,
  /// releasing their users to the new home; true once every passivated actor has ended.
  caf::replies_to<atom::hand_over>::with<bool>,
  /// Live actors and life-cycle counters.
  caf::replies_to<atom::stats>::with<user_registry_stats>,
  /// A node left the cluster's live set (from the membership view): every live user
  /// actor here drops its connections on that node and recomputes its presence.
  caf::reacts_to<atom::node_gone, node_identity>,
  /// Cluster only, sent by the registry to itself (actors/key_sweep.hpp): the page of
  /// the users this node owns after that key is swept ("" starts a sweep).
  caf::reacts_to<atom::sweep_keys, std::string>>;

} // namespace tandem
