#include "actors/user_actor.hpp"

#include "wire/page_privacy.hpp"
#include "actors/passivation.hpp"
#include "wire/ws_frames.hpp"
#include "common/wall_clock.hpp"
#include "config/log.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <utility>

namespace tandem {

// -- the actor -------------------------------------------------------------------------------

namespace {

using self_pointer = user_actor::stateful_pointer<user_state>;

/// Counts a routed message (see `count_routed`).
caf::error admit(self_pointer self) {
  if (auto err = count_routed(self))
    return err;
  auto& st = self->state;
  // A stale actor checks after every message whether it can go: the check runs after
  // this message (and whatever else waits in the mailbox) is handled.
  if (st.stale)
    self->send(self, atom::tick_v, false);
  return caf::none;
}

void schedule_tick(self_pointer self, caf::timespan after) {
  self->delayed_send(self, after, atom::tick_v, true);
}

/// The user polls: from now on their polled reads are answered from the published view.
void show_view(self_pointer self) {
  self->state.show_view(self->id(), self->clock().now());
}

/// Reports the actor idle once it has been unused (no routed message, no read of its
/// polled view) for the idle timeout, or at once when stale, with nothing in flight
/// and no live connection; the registry decides (see `atom::idle`).
void on_tick(self_pointer self, bool periodic) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto timeout = st.settings.idle_timeout;
  if (st.view_was_read())
    st.last_active = st.view_read_at = now;
  else if (now - st.view_read_at >= timeout)
    st.hide_view(); // the user stopped polling; the actor stays for others
  auto idle_for = now - st.last_active;
  // An actor with a share budget in use stays until it refills: stopping would hand
  // the user a fresh one.
  auto budget_unused = st.shares.full_at(self->clock().now());
  if (((idle_for >= timeout && budget_unused) || st.stale) && st.quiet())
    report_idle(self);
  // Always keep one periodic timer: the registry ignores a report that raced with a
  // message.
  if (periodic)
    schedule_tick(self, idle_for >= timeout ? timeout : timeout - idle_for);
}

/// After a write failed with `err`: when it may have committed anyway, this actor and
/// those of `peers` may differ from the database; all of them go and reload. When the
/// write was fenced (another node claimed the user), the actor answers everything with
/// `errc::moved` from now on and goes.
void resync_if_unknown(self_pointer self, const caf::error& err,
                       const std::vector<std::string>& peers) {
  auto& st = self->state;
  if (code_of(err) == errc::moved) {
    log::info("user actor fenced: another node claimed the user", {{"user", st.id}});
    st.failure = err;
    report_idle(self);
    return;
  }
  if (!outcome_unknown(err))
    return;
  log::warn("user actor reloads after a write of unknown outcome",
            {{"user", st.id}, {"error", describe(err)}});
  st.stale = true;
  for (const auto& peer : peers)
    self->send(st.registry, atom::resync_v, peer);
  self->send(self, atom::tick_v, false);
}

/// Every user related to this one (friends and pending requests).
std::vector<std::string> related(self_pointer self) {
  std::vector<std::string> out;
  for (const auto& rel : self->state.relations)
    out.push_back(rel.user.user_id);
  return out;
}

// -- presence and pushes -------------------------------------------------------------------------

/// Sends one of the user's connections `a, xs...`: its actor directly when on this
/// node, else the directory with the connection's ref after the atom.
template <class Atom, class... Ts>
void tell(self_pointer self, const user_state::live_connection& c, Atom a, const Ts&... xs) {
  if (c.handle)
    self->send(c.handle, a, xs...);
  else
    self->send(self->state.settings.cluster.directory, a, c.ref, xs...);
}

/// Sends `push` to each of the user's connections that subscribes to its kind.
void deliver(self_pointer self, const ws_push& push) {
  for (const auto& c : self->state.connections)
    if (!c.evicted && (c.kinds & push.kind) != 0)
      tell(self, c, atom::push_v, push);
}

/// Sends `push` to the connections of one other user, through the registry.
void push_to(self_pointer self, const std::string& user, const ws_push& push) {
  self->send(self->state.registry, atom::push_v, user, push);
}

/// Sends `push` to the connections of every accepted friend: one message, and the
/// registry skips friends without a live connection for its kind.
void push_to_friends(self_pointer self, const ws_push& push) {
  auto ids = self->state.friend_ids();
  if (!ids.empty())
    self->send(self->state.registry, atom::fanout_v, std::move(ids), push);
}

/// Tells the registry which event kinds the user's live connections subscribe to
/// (pushes toward a user without one are not sent at all) and, when all of them are on
/// this node, their actors: the registry hands other users' pushes to them directly,
/// not through this actor (one hop less per delivered frame).
void report_live_connections(self_pointer self) {
  auto& st = self->state;
  uint8_t kinds = 0;
  std::vector<live_socket> sockets;
  bool all_here = true;
  for (const auto& c : st.connections) {
    if (c.evicted)
      continue;
    kinds |= c.kinds;
    all_here = all_here && static_cast<bool>(c.handle);
    if (c.handle)
      sockets.push_back({caf::actor_cast<caf::actor>(c.handle), c.kinds});
  }
  if (!all_here)
    sockets.clear();
  self->send(st.registry, atom::live_connections_v, st.id, kinds, std::move(sockets));
}

/// How long the actor waits for a token a bucket lacks: rounded up, so that the
/// token is there when the timer fires.
caf::timespan token_wait(double seconds) {
  return std::chrono::ceil<std::chrono::microseconds>(std::chrono::duration<double>(seconds));
}

ws_push presence_frame(const user_state& st) {
  return frames::update_presence(st.id, *st.page, st.latest);
}

void arm_presence_timer(self_pointer self, caf::timespan after) {
  self->state.presence_timer = true;
  self->delayed_send(self, after, atom::check_presence_v);
}

/// Offline: friends get presence-timeout (docs/api.md, Presence and WebSockets).
void go_offline(self_pointer self) {
  auto& st = self->state;
  if (!st.online())
    return;
  st.page = caf::none;
  st.latest = caf::none;
  ++st.settings.gateway.counters->presence_offline;
  push_to_friends(self, frames::presence_timeout(st.id));
}

/// The page as friends may see it, to every friend's connections and the user's own.
void publish_presence(self_pointer self, page_info raw) {
  auto& st = self->state;
  auto visible = visible_page(st.profile, std::move(raw));
  if (!visible.blank())
    st.latest = visible;
  st.page = std::move(visible);
  if (!st.presence_timer)
    arm_presence_timer(self, st.settings.gateway.presence_timeout);
  ++st.settings.gateway.counters->presence_published;
  auto push = presence_frame(st);
  deliver(self, push);
  push_to_friends(self, push);
}

/// update-presence from one of the user's connections: published within the user's
/// presence budget (ws.presence_per_s, ws.presence_burst), whatever the number of
/// sockets; past it, kept as the one coalesced update (a later one replaces it) that
/// goes out when the budget allows, so friends always end at the latest page.
void update_presence(self_pointer self, page_info raw) {
  auto& st = self->state;
  st.last_seen = self->clock().now();
  ++st.settings.gateway.counters->presence_received;
  if (st.coalesced) {
    st.coalesced = std::move(raw);
    ++st.settings.gateway.counters->presence_coalesced;
    return;
  }
  auto wait = st.presence_budget.take(st.last_seen);
  if (wait > 0) {
    st.coalesced = std::move(raw);
    self->delayed_send(self, token_wait(wait), atom::flush_presence_v);
    return;
  }
  publish_presence(self, std::move(raw));
}

/// The presence budget's timer: the coalesced update goes out, unless the user has no
/// connection left to be present with.
void flush_presence(self_pointer self) {
  auto& st = self->state;
  if (!st.coalesced)
    return;
  if (!st.has_connection_for(event_kind::presence)) {
    st.coalesced = caf::none;
    return;
  }
  auto wait = st.presence_budget.take(self->clock().now());
  if (wait > 0) {
    self->delayed_send(self, token_wait(wait), atom::flush_presence_v);
    return;
  }
  auto page = std::move(*st.coalesced);
  st.coalesced = caf::none;
  publish_presence(self, std::move(page));
}

/// A typing or read-messages frame of one of the user's connections takes a token of
/// the user's budget for it; without one it is shed (counted), whatever the socket.
bool take_budget(self_pointer self, uint8_t kind) {
  auto& st = self->state;
  auto& counters = *st.settings.gateway.counters;
  bool typing = kind == flood_budget::typing;
  auto& bucket = typing ? st.typing_budget : st.receipts_budget;
  if (bucket.take(self->clock().now()) == 0)
    return true;
  ++(typing ? counters.typing_shed : counters.receipts_shed);
  return false;
}

/// The per-user presence timer: offline once nothing was heard for the timeout.
void check_presence(self_pointer self) {
  auto& st = self->state;
  st.presence_timer = false;
  if (!st.online())
    return;
  auto timeout = st.settings.gateway.presence_timeout;
  auto silent = self->clock().now() - st.last_seen;
  if (silent >= timeout)
    go_offline(self);
  else
    arm_presence_timer(self, timeout - silent);
}

/// After the privacy settings changed: a page that may no longer be shared is
/// blanked at once (the unshared page itself is never kept).
void recheck_presence(self_pointer self) {
  auto& st = self->state;
  if (!st.online())
    return;
  auto page = visible_page(st.profile, *st.page);
  auto latest = st.latest ? caf::optional<page_info>{visible_page(st.profile, *st.latest)}
                          : caf::none;
  if (latest && latest->blank())
    latest = caf::none;
  if (page.url == st.page->url && static_cast<bool>(latest) == static_cast<bool>(st.latest))
    return;
  st.page = std::move(page);
  st.latest = std::move(latest);
  ++st.settings.gateway.counters->presence_published;
  auto push = presence_frame(st);
  deliver(self, push);
  push_to_friends(self, push);
}

/// Seats waiting connections while seats are free, and evicts the oldest live ones
/// for those still waiting: the newest connections win (as in PageNow's chat), but never
/// more than ws.max_connections sockets of the user are open at once.
void seat_waiting(self_pointer self) {
  auto& st = self->state;
  auto cap = st.settings.gateway.max_connections;
  std::vector<std::pair<caf::response_promise, bool>> seated;
  while (!st.waiting.empty() && st.connections.size() < cap) {
    auto w = std::move(st.waiting.front());
    st.waiting.pop_front();
    seated.emplace_back(std::move(w.seated), static_cast<bool>(w.connection.ref));
    st.connections.push_back(std::move(w.connection));
  }
  auto leaving = static_cast<std::size_t>(std::count_if(
    st.connections.begin(), st.connections.end(), [](const auto& c) { return c.evicted; }));
  for (auto& c : st.connections) {
    if (leaving >= st.waiting.size())
      break;
    if (!c.evicted) {
      c.evicted = true;
      ++leaving;
      tell(self, c, atom::evict_v);
    }
  }
  // The registry knows before the new sockets do: whatever they cause comes after.
  report_live_connections(self);
  for (auto& [rp, by_ref] : seated)
    if (by_ref)
      rp.deliver(self->state.settings.cluster.node);
    else
      rp.deliver(caf::actor_cast<caf::actor>(self));
}

/// A new WebSocket of the user: seated at once when a seat is free, else once an
/// evicted one has closed (within ws.close_timeout_ms). `Reply` is what `seat_waiting`
/// answers with: the user actor, or its node for a connection opened by ref.
template <class Reply>
caf::result<Reply> open_connection(self_pointer self, user_state::live_connection conn) {
  auto& st = self->state;
  if (st.waiting.size() >= st.settings.gateway.max_connections)
    return caf::make_error(errc::rate_limited,
                           "Too many connections opening at once; try again later");
  // A connection by ref tells when it ends (it may be on another node).
  if (!conn.ref)
    self->monitor(conn.handle);
  auto rp = self->make_response_promise<Reply>();
  st.waiting.push_back({std::move(conn), rp});
  seat_waiting(self);
  return rp;
}

/// The actor of a connection opened by `ref` when it is on this node (and sent the
/// request itself), for direct sends; null for one on another node.
connection_actor local_handle(self_pointer self, const connection_ref& ref) {
  const auto& sender = self->current_sender();
  if (sender && ref.node == self->state.settings.cluster.node && sender->id() == ref.id
      && sender->node() == self->node())
    return caf::actor_cast<connection_actor>(sender);
  return {};
}

/// A connection ended (`dropped`: whether it held a seat): its seat goes to a waiting
/// one; offline when it was the last that could send presence.
void on_connection_gone(self_pointer self, bool dropped) {
  if (!dropped)
    return;
  seat_waiting(self);
  if (!self->state.has_connection_for(event_kind::presence))
    go_offline(self);
}

/// Whether the connection `ref` speaking is the user's: one it does not know (this
/// actor replaced the one it registered with) hears `connection_lost` and reconnects.
bool known(self_pointer self, const connection_ref& ref) {
  auto& st = self->state;
  if (st.knows(ref))
    return true;
  self->send(st.settings.cluster.directory, atom::connection_lost_v, ref);
  return false;
}

/// The actor stops: in a cluster its connections do not monitor it, so they are told.
void release_connections(self_pointer self) {
  auto& st = self->state;
  if (!st.settings.cluster)
    return;
  for (const auto& c : st.connections)
    tell(self, c, atom::connection_lost_v);
  for (const auto& w : st.waiting)
    tell(self, w.connection, atom::connection_lost_v);
}

// -- pending requests expire -----------------------------------------------------------------

/// Keeps one timer, for the earliest expiry of a pending request, at least `min_delay`
/// away: requests expiring within that much of each other go in one view update.
void arm_expiry(self_pointer self, int64_t min_delay_ms = 0) {
  auto& st = self->state;
  auto next = st.next_expiry();
  if (next == 0 || (st.expiry_timer != 0 && st.expiry_timer <= next))
    return;
  st.expiry_timer = next;
  auto delay = std::max(next - unix_now_ms().count(), min_delay_ms);
  self->delayed_send(self, std::chrono::milliseconds(std::max<int64_t>(delay, 0)),
                     atom::expire_requests_v, next);
}

/// The expiry timer for `at`: expired requests leave the user's lists (the database
/// leaves them out already; the purge deletes them).
void on_expiry(self_pointer self, int64_t at) {
  auto& st = self->state;
  if (at != st.expiry_timer)
    return; // superseded by a timer for an earlier expiry
  st.expiry_timer = 0;
  st.drop_expired(unix_now_ms().count());
  arm_expiry(self, 1000);
}

/// Applies a committed change of a pair of the user and tells the user's connections
/// (friend-request, friend-accepted) and the other user's (this user's presence: a new
/// friend sees the current page, an ex-friend sees the user go).
void apply_change(self_pointer self, const friendship_change& change) {
  auto& st = self->state;
  const auto& other = change.other_than(st.id);
  auto before = st.state_of(other.user_id);
  st.apply(change);
  arm_expiry(self);
  auto after = st.state_of(other.user_id);
  if (before == after)
    return;
  if (after == friendship_state::pending && change.row.requester != st.id)
    deliver(self, frames::friend_request(other, change.row.requested_at));
  if (after == friendship_state::friends) {
    if (change.row.requester == st.id && change.row.accepted_at)
      deliver(self, frames::friend_accepted(other, *change.row.accepted_at));
    if (st.online())
      push_to(self, other.user_id, presence_frame(st));
  }
  if (before == friendship_state::friends && st.online())
    push_to(self, other.user_id, frames::presence_timeout(st.id));
}

// -- writes: one at a time, in arrival order --------------------------------------------------

/// Whether another write may wait: the running one plus write_queue_limit waiting.
bool can_enqueue_write(self_pointer self) {
  return self->state.writes.size() <= self->state.settings.write_queue_limit;
}

caf::error too_many_writes() {
  return caf::make_error(errc::overloaded, "Too many writes for this user; try again later");
}

/// Starts the write in front. Its slot stays in the queue (emptied) while it runs.
void start_write(self_pointer self) {
  auto job = std::move(self->state.writes.front());
  self->state.writes.front() = nullptr;
  job();
}

/// Queues `job`, which must call `finish_write` once, after its last reply.
void enqueue_write(self_pointer self, std::function<void()> job) {
  self->state.writes.push_back(std::move(job));
  if (self->state.writes.size() == 1)
    start_write(self);
}

/// Queues a write, refused past users.write_queue_limit; its job answers `rp` and then
/// calls `finish_write`.
template <class T, class Job>
caf::result<T> queue_write(self_pointer self, Job job) {
  if (!can_enqueue_write(self))
    return too_many_writes();
  auto rp = self->make_response_promise<T>();
  enqueue_write(self, [job, rp]() mutable { job(rp); });
  return rp;
}

/// A passivated actor goes once nothing it accepted is in flight, like a conversation
/// actor: its writes commit and are answered here before it releases its user (so that
/// the next owner loads them), rather than dropped to a retry. Returns whether it went.
bool leave_when_done(self_pointer self) {
  auto& st = self->state;
  if (!st.passivating || !st.writes.empty() || st.reads_in_flight != 0)
    return false;
  release_key(self, atom::release_user_v);
  self->quit();
  return true;
}

void finish_write(self_pointer self) {
  self->state.writes.pop_front();
  if (!self->state.writes.empty())
    start_write(self);
  else if (!leave_when_done(self) && self->state.stale)
    self->send(self, atom::tick_v, false);
}

void log_peer_failure(self_pointer self, const char* what, const std::string& peer,
                      const caf::error& err) {
  // The database has the change: that peer's actor reads it on its next load.
  log::warn("user actor could not update a peer",
            {{"user", self->state.id}, {"peer", peer}, {"update", what},
             {"error", describe(err)}});
}

void run_friendship_write(self_pointer self, const friendship_command& cmd,
                          caf::typed_response_promise<bool> rp) {
  auto& st = self->state;
  auto peer = cmd.caller == st.id ? cmd.other : cmd.caller;
  self->request(st.db, st.settings.request_timeout, atom::commit_friendship_v, cmd,
                st.settings.limits, st.fence())
    .then(
      [self, rp](friendship_change& change) mutable {
        auto& st = self->state;
        apply_change(self, change);
        auto peer = change.other_than(st.id).user_id;
        // Answer only once the other side has it too, so that both users' next
        // reads show the write.
        self->request(st.registry, st.settings.request_timeout, atom::apply_friendship_change_v, peer, change)
          .then(
            [self, rp](bool) mutable {
              rp.deliver(true);
              finish_write(self);
            },
            [self, rp, peer](caf::error& err) mutable {
              log_peer_failure(self, "friendship", peer, err);
              rp.deliver(true);
              finish_write(self);
            });
      },
      [self, rp, peer](caf::error& err) mutable {
        resync_if_unknown(self, err, {peer});
        rp.deliver(std::move(err));
        finish_write(self);
      });
}

/// Hands `(atom, peers[i], item_of(i))` to each peer's actor through the registry and
/// runs `done` once every one has taken it or failed to (the database has it for their
/// next load): a write answers only then.
template <class Atom, class ItemOf, class Done>
void tell_peers(self_pointer self, const char* what, Atom atom,
                const std::vector<std::string>& peers, ItemOf item_of, Done done) {
  if (peers.empty())
    return done();
  auto left = std::make_shared<std::size_t>(peers.size());
  auto one_done = [left, done]() mutable {
    if (--*left == 0)
      done();
  };
  auto& st = self->state;
  for (std::size_t i = 0; i < peers.size(); ++i)
    self->request(st.registry, st.settings.request_timeout, atom, peers[i], item_of(i))
      .then([one_done](bool) mutable { one_done(); },
            [self, one_done, what, peer = peers[i]](caf::error& err) mutable {
              log_peer_failure(self, what, peer, err);
              one_done();
            });
}

/// The error handler of a write that concerns every related user: answers the error,
/// has them all reload when its outcome is unknown, and starts the next write.
template <class T>
auto fail_for_related(self_pointer self, caf::typed_response_promise<T> rp) {
  return [self, rp](caf::error& err) mutable {
    resync_if_unknown(self, err, related(self));
    rp.deliver(std::move(err));
    finish_write(self);
  };
}

void run_share(self_pointer self, const share_request& req,
               caf::typed_response_promise<std::string> rp) {
  auto& st = self->state;
  self->request(st.db, st.settings.request_timeout, atom::insert_share_v, st.id, req, st.fence())
    .then(
      [self, rp](share_receipt& receipt) mutable {
        auto event_id = receipt.note.event_id;
        tell_peers(
          self, "share", atom::receive_share_v, receipt.recipients,
          [&receipt](std::size_t) { return receipt.note; },
          [self, rp, event_id]() mutable {
            rp.deliver(event_id);
            finish_write(self);
          });
      },
      // Its recipients would be the sender's friends as the database has them.
      fail_for_related(self, rp));
}

/// DELETE /friendship/requests: every request to the user in one transaction. Each
/// requester's live actor drops the request only if it still holds that very row (see
/// `friendship_change`).
void run_decline_all(self_pointer self, caf::typed_response_promise<int64_t> rp) {
  auto& st = self->state;
  self->request(st.db, st.settings.request_timeout, atom::decline_requests_v, st.id, st.fence())
    .then(
      [self, rp](std::vector<friendship_change>& changes) mutable {
        self->state.apply_all(changes);
        std::vector<std::string> requesters;
        for (const auto& change : changes)
          requesters.push_back(change.row.requester);
        auto declined = static_cast<int64_t>(changes.size());
        tell_peers(
          self, "friendship", atom::apply_friendship_change_v, requesters,
          [&changes](std::size_t i) { return changes[i]; },
          [self, rp, declined]() mutable {
            rp.deliver(declined);
            finish_write(self);
          });
      },
      fail_for_related(self, rp));
}

void run_mark_read(self_pointer self, const std::vector<std::string>& event_ids,
                   caf::typed_response_promise<bool> rp) {
  auto& st = self->state;
  self->request(st.db, st.settings.request_timeout, atom::mark_shares_v, st.id, event_ids,
                st.settings.unread_cache_limit, st.fence())
    .then(
      [self, rp](read_receipt& receipt) mutable {
        self->state.apply_read(receipt);
        rp.deliver(true);
        finish_write(self);
      },
      [self, rp](caf::error& err) mutable {
        resync_if_unknown(self, err, {});
        rp.deliver(std::move(err));
        finish_write(self);
      });
}

/// Keeps serving without a profile: see `user_state::profile_missing`.
void install_without_profile(self_pointer self) {
  auto& st = self->state;
  social_snapshot empty;
  empty.profile.user_id = st.id;
  st.profile_missing = true; // before the view goes out: it has no profile either
  st.install(std::move(empty));
  st.stale = true;
}

/// The answer to others asking about a user without a profile (U8-U11 name them).
caf::error user_not_found() {
  return caf::make_error(errc::not_found, "User not found");
}

// -- the user's profile: database first, then the state ------------------------------------

/// A new profile is in the state: the privacy rules apply to the current page, and the
/// live actors of related users get the new card.
void profile_committed(self_pointer self) {
  auto& st = self->state;
  st.publish_view(user_state::profile_part);
  recheck_presence(self);
  auto card = card_of(st.profile);
  for (const auto& rel : st.relations)
    self->send(st.registry, atom::card_changed_v, rel.user.user_id, card);
}

/// Runs a profile write `xs...` that the database answers with the new profile, once
/// the writes before it are done; answers the new profile once the state has it. The
/// user must have a profile by then.
template <class... Ts>
caf::result<user_profile> write_profile(self_pointer self, Ts... xs) {
  return queue_write<user_profile>(self, [self, xs...](auto rp) {
    auto& st = self->state;
    if (st.profile_missing) {
      rp.deliver(user_not_found());
      return finish_write(self);
    }
    self->request(st.db, st.settings.request_timeout, xs..., st.fence())
      .then(
        [self, rp](user_profile& p) mutable {
          self->state.profile = std::move(p);
          profile_committed(self);
          rp.deliver(self->state.profile);
          finish_write(self);
        },
        // Whether others hold the old card or the new one is unknown as well.
        fail_for_related(self, rp));
  });
}

/// U15: the image columns cleared; answers the extension they held.
void run_clear_image(self_pointer self, caf::typed_response_promise<std::string> rp) {
  auto& st = self->state;
  if (st.profile_missing) {
    rp.deliver(user_not_found());
    return finish_write(self);
  }
  self->request(st.db, st.settings.request_timeout, atom::clear_image_v, st.id, st.fence())
    .then(
      [self, rp](std::string& ext) mutable {
        auto& st = self->state;
        st.profile.profile_image_extension = caf::none;
        st.profile.profile_image_uploaded_at = caf::none;
        profile_committed(self);
        rp.deliver(std::move(ext));
        finish_write(self);
      },
      fail_for_related(self, rp));
}

/// U2. The actor started without a profile: once it is created everything is loaded
/// again, and the user's sockets go on with it (no reconnect).
void run_create(self_pointer self, const new_profile& p,
                caf::typed_response_promise<user_profile> rp) {
  auto& st = self->state;
  if (!st.profile_missing) {
    rp.deliver(caf::make_error(errc::already_exists, "User already exists"));
    return finish_write(self);
  }
  auto done = [self, rp](const user_profile& created) mutable {
    rp.deliver(created);
    finish_write(self);
  };
  self->request(st.db, st.settings.request_timeout, atom::create_user_v, p, st.fence())
    .then(
      [self, done](user_profile& created) mutable {
        auto& st = self->state;
        self->request(st.db, st.settings.request_timeout, atom::load_social_v, st.id,
                      st.settings.unread_cache_limit)
          .then(
            [self, done, created](social_snapshot& snap) mutable {
              auto& st = self->state;
              st.profile_missing = false;
              st.install(std::move(snap));
              st.stale = false;
              arm_expiry(self);
              recheck_presence(self);
              done(created);
            },
            [self, done, created](caf::error& err) mutable {
              // A new profile has no friends nor shares yet; the actor keeps it and
              // stops once quiet (still stale), and the next start loads everything.
              log::warn("user actor could not load its new profile",
                        {{"user", self->state.id}, {"error", describe(err)}});
              self->state.profile = created;
              self->state.profile_missing = false;
              self->state.publish_view(user_state::profile_part);
              recheck_presence(self);
              done(created);
            });
      },
      fail_for_related(self, rp));
}

// -- reads that need another actor -----------------------------------------------------------

void read_done(self_pointer self) {
  if (--self->state.reads_in_flight == 0 && !leave_when_done(self) && self->state.stale)
    self->send(self, atom::tick_v, false);
}

/// Asks the registry (another user's actor, or the database for `db` requests) and
/// delivers `done(reply)` to `rp`, or the error.
template <class Reply, class Dest, class Promise, class Done, class... Ts>
void ask(self_pointer self, const Dest& dest, Promise rp, Done done, Ts... xs) {
  ++self->state.reads_in_flight;
  self->request(dest, self->state.settings.request_timeout, std::move(xs)...)
    .then(
      [self, rp, done](Reply& reply) mutable {
        read_done(self);
        rp.deliver(done(reply));
      },
      [self, rp](caf::error& err) mutable {
        read_done(self);
        rp.deliver(std::move(err));
      });
}

/// A read about `target`'s friends (U8-U10): from this actor's state (`own`) when
/// `target` is the user, else `xs...` asked of `target`'s actor through the registry and
/// its reply turned into the answer by `done`, relative to this user as of the reply.
template <class Answer, class Reply, class Own, class Done, class... Ts>
caf::result<Answer> about_friends_of(self_pointer self, const std::string& target, Own own,
                                     Done done, Ts... xs) {
  if (auto err = admit(self))
    return err;
  if (target == self->state.id)
    return own();
  auto rp = self->make_response_promise<Answer>();
  ask<Reply>(self, self->state.registry, rp, std::move(done), std::move(xs)...);
  return rp;
}

/// GET /presence: every accepted friend's presence from their actors, in name order.
void gather_presence(self_pointer self, caf::typed_response_promise<presence_overview> rp) {
  auto& st = self->state;
  auto friends = st.friends_by_name();
  auto overview = std::make_shared<presence_overview>();
  overview->me = st.presence();
  if (!st.profile_missing)
    overview->cards.push_back(card_of(st.profile));
  for (const auto* rel : friends) {
    overview->friends.push_back({rel->user.user_id, caf::none, caf::none});
    overview->cards.push_back(rel->user);
  }
  if (friends.empty()) {
    rp.deliver(std::move(*overview));
    return;
  }
  ++st.reads_in_flight;
  auto pending = std::make_shared<std::size_t>(friends.size());
  auto one_done = [self, rp, overview, pending]() mutable {
    if (--*pending > 0)
      return;
    read_done(self);
    rp.deliver(std::move(*overview));
  };
  for (std::size_t i = 0; i < friends.size(); ++i)
    self->request(st.registry, st.settings.request_timeout, atom::presence_of_v,
                  friends[i]->user.user_id)
      .then(
        [overview, i, one_done](presence_state& p) mutable {
          overview->friends[i] = std::move(p);
          one_done();
        },
        [self, one_done, peer = friends[i]->user.user_id](caf::error& err) mutable {
          // Shown offline: presence is ephemeral, and the rest of the list is still right.
          log_peer_failure(self, "presence", peer, err);
          one_done();
        });
}

/// The claim or the load failed: every request is answered with `err`.
void fail_to_start(self_pointer self, caf::error err) {
  auto& st = self->state;
  if (code_of(err) != errc::moved)
    log::warn("user actor could not load", {{"user", st.id}, {"error", describe(err)}});
  st.failure = std::move(err);
  report_idle(self);
}

/// Loads the user's state. `await` keeps every other message in the mailbox until the
/// snapshot is in, so nothing is ever served from a half-loaded state.
void load(self_pointer self) {
  auto& st = self->state;
  self->request(st.db, st.settings.request_timeout, atom::load_social_v, st.id,
                st.settings.unread_cache_limit)
    .await(
      [self](social_snapshot& snap) {
        self->state.install(std::move(snap));
        arm_expiry(self);
        schedule_tick(self, self->state.settings.idle_timeout);
      },
      [self](caf::error& err) {
        auto& st = self->state;
        if (code_of(err) == errc::not_found) {
          install_without_profile(self);
          schedule_tick(self, st.settings.idle_timeout);
          return;
        }
        fail_to_start(self, std::move(err));
      });
}

} // namespace

user_actor::behavior_type user_actor_impl(user_actor::stateful_pointer<user_state> self,
                                          std::string id, persistence::social_db db,
                                          user_registry_actor registry,
                                          user_settings settings) {
  auto& st = self->state;
  st.id = std::move(id);
  st.db = std::move(db);
  st.registry = std::move(registry);
  st.settings = settings;
  st.last_active = self->clock().now();
  const auto& gw = settings.gateway;
  st.presence_budget = {static_cast<double>(gw.presence_per_s),
                        static_cast<double>(gw.presence_burst), st.last_active};
  st.typing_budget = {static_cast<double>(gw.typing_per_s), static_cast<double>(gw.typing_burst),
                      st.last_active};
  st.receipts_budget = {static_cast<double>(gw.receipts_per_s),
                        static_cast<double>(gw.receipts_burst), st.last_active};
  st.shares = token_bucket{settings.shares_per_hour / 3600.0,
                           static_cast<double>(settings.shares_burst), st.last_active};
  if (settings.views) {
    // However the actor ends, its view goes with it (unless a successor replaced it).
    self->attach_functor([views = settings.views, user = st.id, owner = self->id()] {
      views->withdraw(user, owner);
    });
  }
  self->set_down_handler([self](caf::down_msg& msg) {
    on_connection_gone(self, self->state.drop_connection(msg.source));
  });
  // Claimed before it is loaded, so that what is loaded is what the last owner committed.
  claim_then_load(self, atom::claim_user_v, st.settings.cluster_node, load, fail_to_start);
  return {
    // -- requests of the user themselves ------------------------------------------------------
    [self](atom::lookup_friendship, const std::string&,
           const std::string& other) -> caf::result<friendship_lookup> {
      if (auto err = admit(self))
        return err;
      return self->state.lookup(other);
    },
    [self](atom::incoming_requests, const std::string&) -> caf::result<std::vector<relation>> {
      if (auto err = admit(self))
        return err;
      show_view(self);
      return self->state.requests_in();
    },
    [self](atom::list_friends, const std::string&, const std::string& target,
           list_window page) -> caf::result<std::vector<user_summary>> {
      return about_friends_of<std::vector<user_summary>, std::vector<user_card>>(
        self, target,
        [self, page] {
          show_view(self);
          return self->state.own_friend_summaries(page);
        },
        [self](const std::vector<user_card>& cards) {
          std::vector<user_summary> out;
          out.reserve(cards.size());
          for (const auto& card : cards)
            out.push_back(summary(card, self->state.state_of(card.user_id)));
          return out;
        },
        atom::friend_cards_v, target, page);
    },
    [self](atom::count_friends, const std::string&) -> caf::result<int64_t> {
      if (auto err = admit(self))
        return err;
      if (self->state.profile_missing)
        return user_not_found();
      return self->state.friend_count();
    },
    [self](atom::mutual_friends, const std::string&, const std::string& target,
           list_window page) -> caf::result<std::vector<user_summary>> {
      return about_friends_of<std::vector<user_summary>, std::vector<std::string>>(
        self, target, [self, page] { return self->state.own_friend_summaries(page); },
        [self, page](const std::vector<std::string>& ids) {
          return friend_summaries(slice(self->state.mutual_with(ids), page));
        },
        atom::friend_ids_v, target);
    },
    [self](atom::count_mutual_friends, const std::string&,
           const std::string& target) -> caf::result<int64_t> {
      return about_friends_of<int64_t, std::vector<std::string>>(
        self, target, [self] { return self->state.friend_count(); },
        [self](const std::vector<std::string>& ids) {
          return static_cast<int64_t>(self->state.mutual_with(ids).size());
        },
        atom::friend_ids_v, target);
    },
    [self](atom::all_relations, const std::string&,
           list_window page) -> caf::result<std::vector<relation>> {
      if (auto err = admit(self))
        return err;
      return self->state.all_by_name(page);
    },
    [self](atom::write_friendship, const friendship_command& cmd) -> caf::result<bool> {
      if (auto err = admit(self))
        return err;
      return queue_write<bool>(self, [self, cmd](auto rp) { run_friendship_write(self, cmd, rp); });
    },
    [self](atom::decline_all_requests, const std::string&) -> caf::result<int64_t> {
      if (auto err = admit(self))
        return err;
      return queue_write<int64_t>(self, [self](auto rp) { run_decline_all(self, rp); });
    },
    [self](atom::expire_requests, int64_t at) { on_expiry(self, at); },
    [self](atom::unread_shares, const std::string&,
           list_window page) -> caf::result<std::vector<share_notification>> {
      if (auto err = admit(self))
        return err;
      show_view(self);
      auto& st = self->state;
      if (st.unread_serves(page))
        return slice(st.unread, page);
      auto rp = self->make_response_promise<std::vector<share_notification>>();
      ask<std::vector<share_notification>>(
        self, st.db, rp, [](std::vector<share_notification>& xs) { return std::move(xs); },
        atom::fetch_shares_v, share_query{st.id, false, page});
      return rp;
    },
    [self](atom::send_share, const std::string&,
           const share_request& req) -> caf::result<std::string> {
      if (auto err = admit(self))
        return err;
      if (!can_enqueue_write(self))
        return too_many_writes();
      if (auto wait = self->state.shares.take(self->clock().now()); wait > 0)
        return caf::make_error(errc::rate_limited, "Too many shares; try again later",
                               static_cast<int64_t>(std::ceil(wait)));
      auto rp = self->make_response_promise<std::string>();
      enqueue_write(self, [self, req, rp] { run_share(self, req, rp); });
      return rp;
    },
    [self](atom::mark_shares_read, const std::string&,
           const std::vector<std::string>& event_ids) -> caf::result<bool> {
      if (auto err = admit(self))
        return err;
      if (event_ids.empty())
        return true;
      return queue_write<bool>(self,
                               [self, event_ids](auto rp) { run_mark_read(self, event_ids, rp); });
    },
    // -- the user's profile ----------------------------------------------------------------
    [self](atom::get_profile, const std::string&) -> caf::result<user_profile> {
      if (auto err = admit(self))
        return err;
      if (self->state.profile_missing)
        return user_not_found();
      return self->state.profile;
    },
    [self](atom::create_profile, const std::string&,
           const new_profile& p) -> caf::result<user_profile> {
      if (auto err = admit(self))
        return err;
      return queue_write<user_profile>(self, [self, p](auto rp) { run_create(self, p, rp); });
    },
    [self](atom::update_profile, const std::string&, const std::string& email,
           const profile_update& u) -> caf::result<user_profile> {
      if (auto err = admit(self))
        return err;
      return write_profile(self, atom::update_user_v, identity{self->state.id, email}, u);
    },
    [self](atom::set_profile_domains, const std::string&, domain_list which,
           const std::vector<std::string>& domains) -> caf::result<user_profile> {
      if (auto err = admit(self))
        return err;
      return write_profile(self, atom::set_domains_v, self->state.id, which, domains);
    },
    [self](atom::set_profile_image, const std::string&,
           const std::string& ext) -> caf::result<user_profile> {
      if (auto err = admit(self))
        return err;
      return write_profile(self, atom::set_image_v, self->state.id, ext);
    },
    [self](atom::clear_profile_image, const std::string&) -> caf::result<std::string> {
      if (auto err = admit(self))
        return err;
      return queue_write<std::string>(self, [self](auto rp) { run_clear_image(self, rp); });
    },
    // -- presence and live connections ------------------------------------------------------
    [self](atom::open_connection, const std::string&, uint8_t kinds,
           const caf::actor& conn) -> caf::result<caf::actor> {
      if (auto err = admit(self))
        return err;
      return open_connection<caf::actor>(self,
                                         {caf::actor_cast<connection_actor>(conn), {}, kinds});
    },
    [self](atom::open_connection, const std::string&, uint8_t kinds,
           const connection_ref& ref) -> caf::result<node_identity> {
      if (auto err = admit(self))
        return err;
      return open_connection<node_identity>(self, {local_handle(self, ref), ref, kinds});
    },
    [self](atom::update_presence, const std::string&, const connection_ref& ref, page_info& page) {
      if (!admit(self) && known(self, ref))
        update_presence(self, std::move(page));
    },
    [self](atom::presence_heartbeat, const std::string&, const connection_ref& ref) {
      if (!admit(self) && known(self, ref))
        self->state.last_seen = self->clock().now();
    },
    [self](atom::budget, const std::string&, const connection_ref& ref,
           uint8_t kind) -> caf::result<bool> {
      if (auto err = admit(self))
        return err;
      return known(self, ref) && take_budget(self, kind);
    },
    [self](atom::close_connection, const std::string&, const connection_ref& ref) {
      static_cast<void>(admit(self)); // a failed actor still holds its connections
      on_connection_gone(self, self->state.drop_connection(ref));
    },
    [self](atom::node_gone, const node_identity& node) {
      on_connection_gone(self, self->state.drop_node(node));
    },
    [self](atom::get_presence, const std::string&) -> caf::result<presence_overview> {
      if (auto err = admit(self))
        return err;
      auto rp = self->make_response_promise<presence_overview>();
      gather_presence(self, rp);
      return rp;
    },
    [self](atom::peek_presence, const std::string&,
           const std::string& target) -> caf::result<presence_state> {
      if (auto err = admit(self))
        return err;
      auto& st = self->state;
      if (target == st.id)
        return st.presence();
      if (st.state_of(target) != friendship_state::friends)
        return caf::make_error(errc::forbidden, "Forbidden access to user presence");
      auto rp = self->make_response_promise<presence_state>();
      ask<presence_state>(
        self, st.registry, rp, [](presence_state& p) { return std::move(p); },
        atom::presence_of_v, target);
      return rp;
    },
    [self](atom::presence_of, const std::string&) -> caf::result<presence_state> {
      if (auto err = admit(self))
        return err;
      return self->state.presence();
    },
    [self](atom::push, const std::string&, const ws_push& push) {
      if (!admit(self))
        deliver(self, push);
    },
    [self](atom::session_end a, const std::string&, const std::string& session) {
      // Counted like any routed message; a failed actor still holds its connections.
      static_cast<void>(admit(self));
      // Each connection knows the session it was opened in; those of another stay.
      for (const auto& c : self->state.connections)
        tell(self, c, a, session);
      for (const auto& w : self->state.waiting)
        tell(self, w.connection, a, session);
    },
    // Straight from the user's connections (not routed, so not counted by `admit`: a
    // user actor with connections never idles).
    [self](atom::update_presence, page_info& page) {
      if (!self->state.failure)
        update_presence(self, std::move(page));
    },
    [self](atom::presence_heartbeat) { self->state.last_seen = self->clock().now(); },
    [self](atom::check_presence) { check_presence(self); },
    [self](atom::flush_presence) { flush_presence(self); },
    [self](atom::budget, uint8_t kind) { return take_budget(self, kind); },
    // -- between user actors ----------------------------------------------------------------
    [self](atom::friend_ids, const std::string&) -> caf::result<std::vector<std::string>> {
      if (auto err = admit(self))
        return err;
      if (self->state.profile_missing)
        return user_not_found();
      return self->state.friend_ids();
    },
    [self](atom::friend_cards, const std::string&,
           list_window page) -> caf::result<std::vector<user_card>> {
      if (auto err = admit(self))
        return err;
      if (self->state.profile_missing)
        return user_not_found();
      std::vector<user_card> out;
      for (const auto* rel : slice(self->state.friends_by_name(), page))
        out.push_back(rel->user);
      return out;
    },
    [self](atom::apply_friendship_change, const std::string&,
           const friendship_change& change) -> caf::result<bool> {
      if (auto err = admit(self))
        return err;
      apply_change(self, change);
      return true;
    },
    [self](atom::receive_share, const std::string&, share_notification& note) -> caf::result<bool> {
      if (auto err = admit(self))
        return err;
      // Most recipients have no socket open: their frame is not rendered at all.
      if (self->state.has_connection_for(event_kind::social))
        deliver(self, frames::share_notification(note));
      self->state.add_unread(std::move(note));
      return true;
    },
    [self](atom::card_changed, const std::string&, const user_card& card) {
      if (!admit(self))
        self->state.update_card(card);
    },
    [self](atom::resync, const std::string&) {
      if (admit(self))
        return;
      self->state.stale = true;
      self->send(self, atom::tick_v, false);
    },
    // -- life cycle ------------------------------------------------------------------------
    [self](atom::tick, bool periodic) { on_tick(self, periodic); },
    [self](atom::passivate) {
      // The registry routes it nothing more: what it was routed before is handled first.
      self->state.passivating = true;
      release_connections(self);
      leave_when_done(self);
    },
  };
}

} // namespace tandem
