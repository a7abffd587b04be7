// The state of a user actor (actors/user_actor.hpp): what it knows of its user (the
// profile, friends, pending requests both ways, unread share notifications), its
// presence and connections, its write queue and life-cycle bookkeeping, with the
// plain transitions and queries over them that its handlers call.
#pragma once

#include "vocabulary/user_interface.hpp"
#include "actors/connection_actor.hpp"
#include "wire/polled_views.hpp"
#include "common/token_bucket.hpp"
#include "persistence/social_db.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tandem {

/// How user actors behave (users.* keys, and http.request_timeout_ms for the
/// requests they make).
struct user_settings {
  caf::timespan idle_timeout = std::chrono::minutes(10);
  int32_t unread_cache_limit = 200;
  std::size_t write_queue_limit = 64;
  friendship_limits limits{1000, 5000, 200, 30 * 24 * 3600};
  /// Shares sent per hour and in a burst (users.shares_per_hour, users.shares_burst).
  int shares_per_hour = 120;
  int shares_burst = 30;
  /// Bound of each request to the database or another user actor.
  caf::timespan request_timeout = std::chrono::seconds(5);
  /// Connection cap and presence timeout (ws.* keys).
  gateway_settings gateway;
  /// Where the actors pin their users' polled reads for the io threads; null: nowhere
  /// (every read goes through the actor).
  std::shared_ptr<polled_views> views;
  /// In a cluster (cluster.enabled), the node that user actors claim their user for
  /// before loading it (docs/cluster.md, Ownership); none on a single node: no claim.
  std::optional<node_identity> cluster_node;
  /// How long a claim refused because another node owns the key is tried again: a
  /// planned move's previous owner releases the key within about one renewal of the
  /// views (cluster.renew_interval_ms).
  caf::timespan claim_wait{};
  /// How often the registry pages through the keys this node owns in the database and
  /// releases those no actor here holds (cluster.sweep_interval_ms; actors/key_sweep.hpp);
  /// zero: never.
  caf::timespan sweep_interval{};
  /// Cluster mode (docs/cluster.md, Connections on other nodes); empty on a single node.
  cluster_link cluster = {};
};

/// A user's relations (friends and pending requests, either way) by the other user's
/// id, in one vector sorted by it: no key copy, hash node or bucket per relation, which
/// in a hash map took ≈ 70 of each relation's ≈ 420 bytes (BENCHMARKS.md, issue 19).
class relation_index {
public:
  using const_iterator = std::vector<relation>::const_iterator;

  /// Replaces the whole index with `rels` (any order, one per other user).
  void assign(std::vector<relation> rels);

  /// The relation with `other`, or null.
  const relation* find(const std::string& other) const;

  /// Inserts `rel`, or replaces the relation with the same user.
  void put(relation rel);

  /// Removes the relation with `other`, if any.
  void erase(const std::string& other);

  /// Removes every relation that `drop` picks; returns how many.
  std::size_t erase_if(const std::function<bool(const relation&)>& drop);

  std::size_t size() const {
    return rels_.size();
  }
  const_iterator begin() const {
    return rels_.begin();
  }
  const_iterator end() const {
    return rels_.end();
  }

private:
  std::vector<relation>::iterator lower_bound(const std::string& other);

  std::vector<relation> rels_; ///< by user.user_id, bytewise
};

/// A user's social state and the bookkeeping of their actor. The functions without
/// an actor are plain state transitions and queries (unit-testable).
struct user_state {
  // -- wiring -----------------------------------------------------------------------
  std::string id;
  persistence::social_db db;
  user_registry_actor registry;
  user_settings settings;

  // -- what the actor knows (valid once loaded) ----------------------------------------
  /// The user's profile as committed: the actor is its one writer (see
  /// `user_routed`'s profile writes), so reads are answered from here.
  user_profile profile;
  /// Every friend and pending request, either way, by the other user's id.
  relation_index relations;
  /// The newest unread notifications, newest first, at most unread_cache_limit (a new
  /// share goes in at or near the front, the oldest drops off the back).
  std::deque<share_notification> unread;
  /// Whether `unread` holds every unread notification of the user.
  bool unread_complete = true;
  /// Set when the load failed: every request is answered with it until the registry
  /// stops the actor.
  caf::error failure;
  /// The epoch of the user's claim, in a cluster (else 0).
  int64_t epoch = 0;
  /// What the user's writes carry: the claim the database checks (docs/cluster.md).
  write_fence fence() const {
    return {id, epoch};
  }
  /// Set when the database may differ from this state (a write's outcome is unknown),
  /// or when the user has no profile (an actor for every id asked about must not
  /// stay): the actor keeps serving but asks to be stopped as soon as it is quiet.
  bool stale = false;
  /// The user signed in but has no profile yet (docs/api.md, Presence: the extension polls
  /// and connects right after sign-up). The actor serves the user's own reads from an
  /// empty state and accepts their sockets; others asking about the user hear "User
  /// not found". Creating the profile (U2, through this actor) reloads everything.
  bool profile_missing = false;

  /// The expiry the request timer is set for (Unix milliseconds; 0: none set).
  int64_t expiry_timer = 0;

  /// The id of the actor, which owns the polled view it publishes (0: it publishes
  /// none, until the user polls: see `show_view`).
  uint64_t view_owner = 0;
  /// When the published view was last seen read (or shown): unread for an idle timeout,
  /// it is withdrawn and its rendered JSON freed (`hide_view`).
  caf::actor_clock::time_point view_read_at;
  /// The view last published, to count the reads it served; its unchanged parts go
  /// into the next one as they are (shared, not copied).
  std::shared_ptr<const polled_view> view;
  /// `unread` rendered, entry for entry, while the actor publishes views: a share to a
  /// user with a long unread backlog renders and links one entry, not the backlog.
  json_entries unread_entries;
  /// JSON entries rendered for views so far: what the changes cost.
  std::size_t rendered = 0;

  // -- presence and live connections (docs/architecture.md) ----------------------------
  /// A connection: its actor when on this node (sent to directly, the fast path), its
  /// ref in a cluster (null handle: on another node, reached through the directory).
  struct live_connection {
    connection_actor handle;
    connection_ref ref;
    uint8_t kinds = 0;    ///< the event kinds its path subscribes to
    bool evicted = false; ///< told to close (over the cap); gets nothing more
  };
  /// The user's WebSockets, oldest first, at most ws.max_connections: an evicted one
  /// keeps its seat until its actor ends, i.e. until its TCP connection is closed.
  std::vector<live_connection> connections;
  /// A WebSocket waiting for a seat (its handshake waits with it).
  struct waiting_connection {
    live_connection connection;
    /// Answered with the user actor (single node) or its node (cluster) once seated.
    caf::response_promise seated;
  };
  /// Oldest first, at most ws.max_connections; each has an evicted socket on its way out.
  /// A list, not a deque: nearly always empty, and an empty deque holds ≈ 600 B.
  std::list<waiting_connection> waiting;
  /// The page friends see while the user is online (blank: online but hiding).
  caf::optional<page_info> page;
  /// The latest non-blank page while online.
  caf::optional<page_info> latest;
  /// The last update-presence or heartbeat.
  caf::actor_clock::time_point last_seen;
  /// Whether a presence check is scheduled (one at a time).
  bool presence_timer = false;
  /// Per-user budgets (ws.presence_*, ws.typing_*, ws.receipts_*), whatever the number
  /// of sockets: set when the actor starts.
  token_bucket presence_budget;
  token_bucket typing_budget;
  token_bucket receipts_budget;
  /// The latest update-presence that came past the presence budget: it goes out, in
  /// place of any earlier one, when the budget allows (`atom::flush_presence`).
  caf::optional<page_info> coalesced;

  // -- life cycle -----------------------------------------------------------------------
  /// Routed messages handled, compared by the registry before passivating.
  uint64_t received = 0;
  caf::actor_clock::time_point last_active;
  /// The budget of shares this user may send; the actor outlives it (see on_tick).
  token_bucket shares;
  /// Requests of reads in flight (to another user's actor or the database).
  std::size_t reads_in_flight = 0;
  /// Writes run one at a time, in arrival order: the running one is in front (a list
  /// for the reason `waiting` is one).
  std::list<std::function<void()>> writes;
  /// Told to go (passivated): it finishes its writes and reads, then releases its user.
  bool passivating = false;

  static inline const char* name = "tandem.user";

  // -- state transitions --------------------------------------------------------------
  /// Installs a freshly loaded snapshot.
  void install(social_snapshot snap);

  /// Applies a committed change of a pair the user belongs to.
  void apply(const friendship_change& change);

  /// Applies several changes (a bulk decline), publishing the view once.
  void apply_all(const std::vector<friendship_change>& changes);

  /// Drops the pending requests (either way) expired at `now_ms` (Unix milliseconds);
  /// returns whether there were any.
  bool drop_expired(int64_t now_ms);

  /// When the earliest pending request expires (Unix milliseconds; 0: none pending).
  int64_t next_expiry() const;

  /// Records a share the user received (idempotent per event).
  void add_unread(share_notification note);

  /// Drops what `r.marked` read and merges the unread list of the database with
  /// what arrived meanwhile.
  void apply_read(const read_receipt& r);

  /// Replaces the card of a related user wherever the state keeps it.
  void update_card(const user_card& card);

  /// Renders the unread entries that `changed` picks again and takes the rest from
  /// `unread_entries` (all of them when it is not in step with `unread`).
  void render_unread(const std::function<bool(const share_notification&)>& changed);

  /// The parts of the polled view a transition changes besides the unread entries,
  /// which the transitions that change them keep rendered (`unread_entries`).
  enum view_part : uint8_t {
    unread_only = 0,
    requests_part = 1,
    friends_part = 2,
    profile_part = 4,
    all_parts = 7
  };

  /// Renders the `parts` of the polled reads that changed and publishes them, with the
  /// rest of the last view, to `settings.views` (if any); every transition above ends
  /// with it, so a write is answered only once its view is out.
  void publish_view(uint8_t parts);

  /// Starts keeping the polled reads rendered and published as `owner` (the actor's
  /// id), at `now`: on the user's first poll that reaches the actor, so that the actors
  /// of users who do not poll (loaded for their friends, their sockets or their
  /// profile) hold no rendered JSON. A no-op without a board or when shown already.
  void show_view(uint64_t owner, caf::actor_clock::time_point now);

  /// Withdraws the published view and frees everything rendered for it; the next poll
  /// goes through the actor again and shows it anew.
  void hide_view();

  /// Whether the actor keeps its polled reads rendered (it has a board to publish on).
  bool publishes_views() const {
    return settings.views && view_owner != 0;
  }

  /// Whether the published view served reads since the last call.
  bool view_was_read();

  // -- queries ----------------------------------------------------------------------------
  /// How the user relates to `other`.
  friendship_state state_of(const std::string& other) const;

  /// F1: the row with `other`, if any.
  friendship_lookup lookup(const std::string& other) const;

  /// F4: pending requests to the user, newest first (then by id).
  std::vector<relation> requests_in() const;

  /// Accepted friends, by first name, last name and id (bytewise).
  std::vector<const relation*> friends_by_name() const;

  /// A page of the user's own friends by name, as U10 shows them to the user (U8 too:
  /// the user's friends in common with themselves).
  std::vector<user_summary> own_friend_summaries(list_window page) const;

  /// Every relation, by first name, last name and id (bytewise).
  std::vector<relation> all_by_name(list_window page) const;

  /// The ids of the accepted friends.
  std::vector<std::string> friend_ids() const;

  /// The number of accepted friends.
  int64_t friend_count() const;

  /// Accepted friends of the user whose ids are in `ids`, by name.
  std::vector<const relation*> mutual_with(const std::vector<std::string>& ids) const;

  /// Whether the user is online: an update-presence arrived on a live connection and
  /// has not timed out.
  bool online() const {
    return static_cast<bool>(page);
  }

  /// The user's presence as friends see it.
  presence_state presence() const {
    return {id, page, latest};
  }

  /// Whether a live (not evicted) connection takes events of `kind` (for presence: can
  /// send update-presence).
  bool has_connection_for(uint8_t kind) const;

  /// Drops the connection `addr`, seated or waiting; returns whether it held a seat.
  bool drop_connection(const caf::actor_addr& addr);

  /// The same for the connection `ref` (cluster).
  bool drop_connection(const connection_ref& ref);

  /// Drops every connection on `node` (it left the cluster); returns whether any held
  /// a seat.
  bool drop_node(const node_identity& node);

  /// Whether `ref` is one of the user's connections, seated or waiting.
  bool knows(const connection_ref& ref) const;

  /// Whether the unread list in memory can answer `page`.
  bool unread_serves(list_window page) const;

  /// Whether nothing is in flight and no connection holds the actor.
  bool quiet() const {
    return reads_in_flight == 0 && writes.empty() && !has_live_connections();
  }

  /// Live WebSocket connections keep a user actor from idling.
  bool has_live_connections() const {
    return !connections.empty() || !waiting.empty();
  }
};

/// Whether a write that failed with `err` may have committed all the same: its reply
/// was lost (timeout, the database facade or a worker gone, a connection broken while
/// committing). Errors the database answered (constraint, statement timeout, full
/// queue) mean nothing changed.
bool outcome_unknown(const caf::error& err);

/// `card` as a UserSummary with `state` relative to the user (no mutual count).
user_summary summary(const user_card& card, friendship_state state);

/// The accepted friends `rels` as U10 answers them.
std::vector<user_summary> friend_summaries(const std::vector<const relation*>& rels);

/// `xs[page.offset, page.offset + page.limit)`, clipped to `xs`.
template <class Sequence>
std::vector<typename Sequence::value_type> slice(const Sequence& xs, list_window page) {
  auto first = std::min(xs.size(), static_cast<std::size_t>(page.offset));
  auto last = std::min(xs.size(), first + static_cast<std::size_t>(page.limit));
  return {xs.begin() + static_cast<std::ptrdiff_t>(first),
          xs.begin() + static_cast<std::ptrdiff_t>(last)};
}

} // namespace tandem
