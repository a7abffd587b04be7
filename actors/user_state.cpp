#include "actors/user_state.hpp"

#include "wire/wire_json.hpp"

#include <algorithm>
#include <memory>
#include <tuple>
#include <unordered_set>
#include <utility>

namespace tandem {

// -- state transitions ----------------------------------------------------------------------

namespace {

/// Newest first; the event id breaks ties so that every list has one order.
bool newer(const share_notification& a, const share_notification& b) {
  return std::tie(a.sent_at, a.event_id) > std::tie(b.sent_at, b.event_id);
}

/// First name, last name, then id, bytewise: the order of every friend list (the
/// database sorts the same way with COLLATE "C").
bool by_name(const relation* a, const relation* b) {
  return std::tie(a->user.first_name, a->user.last_name, a->user.user_id)
         < std::tie(b->user.first_name, b->user.last_name, b->user.user_id);
}

} // namespace

user_summary summary(const user_card& card, friendship_state state) {
  return {card, state, caf::none};
}

std::vector<user_summary> friend_summaries(const std::vector<const relation*>& rels) {
  std::vector<user_summary> out;
  out.reserve(rels.size());
  for (const auto* rel : rels)
    out.push_back(summary(rel->user, friendship_state::friends));
  return out;
}

void user_state::install(social_snapshot snap) {
  profile = std::move(snap.profile);
  relations.clear();
  for (auto& rel : snap.relations) {
    auto other = rel.user.user_id;
    relations.emplace(std::move(other), std::move(rel));
  }
  unread = std::move(snap.unread.items);
  unread_complete = snap.unread.complete;
  unread_json.clear();
  publish_view(all_parts);
}

namespace {

/// Applies `change` to `st` without publishing the view.
void apply_quietly(user_state& st, const friendship_change& change) {
  const auto& other = change.other_than(st.id);
  if (change.exists) {
    st.relations[other.user_id] = relation{other, change.row};
    return;
  }
  auto i = st.relations.find(other.user_id);
  if (i == st.relations.end())
    return;
  const auto& held = i->second.row;
  if (change.row.requested_at.empty()
      || (held.requester == change.row.requester && held.requested_at == change.row.requested_at))
    st.relations.erase(i);
}

} // namespace

void user_state::apply(const friendship_change& change) {
  apply_quietly(*this, change);
  publish_view(requests_part | friends_part);
}

void user_state::apply_all(const std::vector<friendship_change>& changes) {
  for (const auto& change : changes)
    apply_quietly(*this, change);
  publish_view(requests_part | friends_part);
}

bool user_state::drop_expired(int64_t now_ms) {
  auto before = relations.size();
  for (auto i = relations.begin(); i != relations.end();)
    i = i->second.row.expired(now_ms) ? relations.erase(i) : std::next(i);
  if (relations.size() == before)
    return false;
  publish_view(requests_part | friends_part);
  return true;
}

int64_t user_state::next_expiry() const {
  int64_t next = 0;
  for (const auto& [other, rel] : relations)
    if (!rel.row.accepted() && rel.row.expires_at != 0
        && (next == 0 || rel.row.expires_at < next))
      next = rel.row.expires_at;
  return next;
}

void user_state::add_unread(share_notification note) {
  auto limit = static_cast<std::size_t>(settings.unread_cache_limit);
  auto same = [&](const share_notification& x) { return x.event_id == note.event_id; };
  if (std::any_of(unread.begin(), unread.end(), same))
    return;
  unread.insert(std::upper_bound(unread.begin(), unread.end(), note, newer), std::move(note));
  if (unread.size() > limit) {
    unread.resize(limit);
    unread_complete = false;
  }
  publish_view(unread_part);
}

void user_state::apply_read(const read_receipt& r) {
  // The database's list is as of the write; shares that reached this actor while the
  // write ran are newer and stay unless this write marked them.
  std::unordered_set<std::string> gone(r.marked.begin(), r.marked.end());
  auto merged = r.unread.items;
  std::unordered_set<std::string> present;
  for (const auto& n : merged)
    present.insert(n.event_id);
  for (auto& n : unread)
    if (gone.count(n.event_id) == 0 && present.insert(n.event_id).second)
      merged.push_back(std::move(n));
  std::sort(merged.begin(), merged.end(), newer);
  auto limit = static_cast<std::size_t>(settings.unread_cache_limit);
  unread_complete = r.unread.complete && merged.size() <= limit;
  if (merged.size() > limit)
    merged.resize(limit);
  unread = std::move(merged);
  // The database's entries carry their senders' current cards.
  unread_json.clear();
  publish_view(unread_part);
}

bool outcome_unknown(const caf::error& err) {
  if (err == caf::sec::request_timeout || err == caf::sec::request_receiver_down)
    return true;
  auto code = code_of(err);
  return code == errc::db_unavailable || code == errc::internal;
}

void user_state::update_card(const user_card& card) {
  if (auto i = relations.find(card.user_id); i != relations.end())
    i->second.user = card;
  for (auto& n : unread)
    if (n.sender.user_id == card.user_id) {
      n.sender = card;
      unread_json.erase(n.event_id);
    }
  publish_view(all_parts);
}

void user_state::publish_view(uint8_t parts) {
  if (!settings.views || view_owner == 0)
    return;
  if (!view)
    parts = all_parts;
  auto v = std::make_shared<polled_view>();
  v->owner = view_owner;
  rendered = 0;
  if (parts & requests_part) {
    auto requests = wire::json::array();
    for (const auto& rel : requests_in())
      requests.push_back(wire::friend_request_json(rel));
    v->requests = wire::to_text(requests);
    rendered += requests.size();
  } else {
    v->requests = view->requests;
  }
  if (parts & unread_part) {
    v->unread.reserve(unread.size());
    for (const auto& n : unread) {
      auto [at, fresh] = unread_json.try_emplace(n.event_id);
      if (fresh) {
        at->second = wire::to_text(wire::notification_json(n));
        ++rendered;
      }
      v->unread.push_back(at->second);
    }
    // Entries of notifications gone (read, or past the cache limit) go now and then.
    if (unread_json.size() > 2 * unread.size() + 16) {
      std::unordered_set<std::string> held;
      for (const auto& n : unread)
        held.insert(n.event_id);
      for (auto i = unread_json.begin(); i != unread_json.end();)
        i = held.count(i->first) != 0 ? std::next(i) : unread_json.erase(i);
    }
  } else {
    v->unread = view->unread;
  }
  v->unread_complete = unread_complete;
  if (parts & friends_part) {
    for (const auto& friend_summary : friend_summaries(friends_by_name()))
      v->friends.push_back(wire::to_text(wire::friend_json(friend_summary)));
    rendered += v->friends.size();
  } else {
    v->friends = view->friends;
  }
  settings.views->publish(id, v);
  view = std::move(v);
}

bool user_state::view_was_read() {
  return view && view->reads.exchange(0, std::memory_order_relaxed) > 0;
}

// -- queries ---------------------------------------------------------------------------------

friendship_state user_state::state_of(const std::string& other) const {
  auto i = relations.find(other);
  if (i == relations.end())
    return friendship_state::none;
  return i->second.row.accepted() ? friendship_state::friends : friendship_state::pending;
}

friendship_lookup user_state::lookup(const std::string& other) const {
  auto i = relations.find(other);
  if (i == relations.end())
    return {};
  return {true, i->second.row};
}

std::vector<relation> user_state::requests_in() const {
  std::vector<relation> out;
  for (const auto& [other, rel] : relations)
    if (!rel.row.accepted() && rel.row.requester != id)
      out.push_back(rel);
  std::sort(out.begin(), out.end(), [](const relation& a, const relation& b) {
    return a.row.requested_at != b.row.requested_at ? a.row.requested_at > b.row.requested_at
                                                    : a.user.user_id < b.user.user_id;
  });
  return out;
}

std::vector<const relation*> user_state::friends_by_name() const {
  std::vector<const relation*> out;
  for (const auto& [other, rel] : relations)
    if (rel.row.accepted())
      out.push_back(&rel);
  std::sort(out.begin(), out.end(), by_name);
  return out;
}

std::vector<relation> user_state::all_by_name(list_window page) const {
  std::vector<const relation*> all;
  all.reserve(relations.size());
  for (const auto& [other, rel] : relations)
    all.push_back(&rel);
  std::sort(all.begin(), all.end(), by_name);
  std::vector<relation> out;
  for (const auto* rel : slice(all, page))
    out.push_back(*rel);
  return out;
}

std::vector<std::string> user_state::friend_ids() const {
  std::vector<std::string> out;
  for (const auto& [other, rel] : relations)
    if (rel.row.accepted())
      out.push_back(other);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<user_summary> user_state::own_friend_summaries(list_window page) const {
  return friend_summaries(slice(friends_by_name(), page));
}

int64_t user_state::friend_count() const {
  return std::count_if(relations.begin(), relations.end(),
                       [](const auto& kvp) { return kvp.second.row.accepted(); });
}

std::vector<const relation*> user_state::mutual_with(const std::vector<std::string>& ids) const {
  std::vector<const relation*> out;
  for (const auto& other : ids)
    if (auto i = relations.find(other); i != relations.end() && i->second.row.accepted())
      out.push_back(&i->second);
  std::sort(out.begin(), out.end(), by_name);
  return out;
}

bool user_state::unread_serves(list_window page) const {
  return page_within(unread.size(), unread_complete, page);
}

bool user_state::has_presence_connection() const {
  return std::any_of(connections.begin(), connections.end(), [](const live_connection& c) {
    return !c.evicted && (c.kinds & event_kind::presence) != 0;
  });
}

namespace {

/// Drops the connections that `match`, seated or waiting; returns whether any held a seat.
template <class Match>
bool drop_matching(std::vector<user_state::live_connection>& connections,
                   std::deque<user_state::waiting_connection>& waiting, Match match) {
  waiting.erase(std::remove_if(waiting.begin(), waiting.end(),
                               [&](const auto& w) { return match(w.connection); }),
                waiting.end());
  auto seated = std::remove_if(connections.begin(), connections.end(), match);
  bool dropped = seated != connections.end();
  connections.erase(seated, connections.end());
  return dropped;
}

} // namespace

bool user_state::drop_connection(const caf::actor_addr& addr) {
  return drop_matching(connections, waiting, [&](const live_connection& c) {
    return c.handle.address() == addr;
  });
}

bool user_state::drop_connection(const connection_ref& ref) {
  return drop_matching(connections, waiting,
                       [&](const live_connection& c) { return c.ref == ref; });
}

bool user_state::drop_node(const node_identity& node) {
  return drop_matching(connections, waiting,
                       [&](const live_connection& c) { return c.ref && c.ref.node == node; });
}

bool user_state::knows(const connection_ref& ref) const {
  auto is = [&](const live_connection& c) { return c.ref == ref; };
  return std::any_of(connections.begin(), connections.end(), is)
         || std::any_of(waiting.begin(), waiting.end(),
                        [&](const waiting_connection& w) { return is(w.connection); });
}

} // namespace tandem
