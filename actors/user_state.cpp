#include "actors/user_state.hpp"

#include "wire/user_json.hpp"
#include "wire/wire_json.hpp"

#include <algorithm>
#include <memory>
#include <tuple>
#include <unordered_set>
#include <utility>

namespace tandem {

// -- relation_index ---------------------------------------------------------------------------

namespace {

bool id_before(const relation& rel, const std::string& other) {
  return rel.user.user_id < other;
}

} // namespace

void relation_index::assign(std::vector<relation> rels) {
  std::sort(rels.begin(), rels.end(), [](const relation& a, const relation& b) {
    return a.user.user_id < b.user.user_id;
  });
  rels_ = std::move(rels);
  rels_.shrink_to_fit(); // a loaded snapshot's vector grew by doubling
}

std::vector<relation>::iterator relation_index::lower_bound(const std::string& other) {
  return std::lower_bound(rels_.begin(), rels_.end(), other, id_before);
}

const relation* relation_index::find(const std::string& other) const {
  auto i = std::lower_bound(rels_.begin(), rels_.end(), other, id_before);
  return i != rels_.end() && i->user.user_id == other ? &*i : nullptr;
}

void relation_index::put(relation rel) {
  auto i = lower_bound(rel.user.user_id);
  if (i != rels_.end() && i->user.user_id == rel.user.user_id)
    *i = std::move(rel);
  else
    rels_.insert(i, std::move(rel));
}

void relation_index::erase(const std::string& other) {
  if (auto i = lower_bound(other); i != rels_.end() && i->user.user_id == other)
    rels_.erase(i);
}

std::size_t relation_index::erase_if(const std::function<bool(const relation&)>& drop) {
  auto before = rels_.size();
  rels_.erase(std::remove_if(rels_.begin(), rels_.end(), drop), rels_.end());
  return before - rels_.size();
}

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
  relations.assign(std::move(snap.relations));
  unread.assign(std::make_move_iterator(snap.unread.items.begin()),
                std::make_move_iterator(snap.unread.items.end()));
  // In `newer` order whatever the source's ties: add_unread finds a held copy by it.
  std::sort(unread.begin(), unread.end(), newer);
  unread_complete = snap.unread.complete;
  render_unread([](const share_notification&) { return true; });
  publish_view(all_parts);
}

namespace {

/// Applies `change` to `st` without publishing the view.
void apply_quietly(user_state& st, const friendship_change& change) {
  const auto& other = change.other_than(st.id);
  if (change.exists) {
    st.relations.put(relation{other, change.row});
    return;
  }
  const auto* rel = st.relations.find(other.user_id);
  if (rel == nullptr)
    return;
  const auto& held = rel->row;
  if (change.row.requested_at.empty()
      || (held.requester == change.row.requester && held.requested_at == change.row.requested_at))
    st.relations.erase(other.user_id);
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
  if (relations.erase_if([now_ms](const relation& rel) { return rel.row.expired(now_ms); }) == 0)
    return false;
  publish_view(requests_part | friends_part);
  return true;
}

int64_t user_state::next_expiry() const {
  int64_t next = 0;
  for (const auto& rel : relations)
    if (!rel.row.accepted() && rel.row.expires_at != 0
        && (next == 0 || rel.row.expires_at < next))
      next = rel.row.expires_at;
  return next;
}

void user_state::add_unread(share_notification note) {
  auto limit = static_cast<std::size_t>(settings.unread_cache_limit);
  // The list is ordered by (sent_at, event_id): a copy of `note` held already sits
  // where it would go, and a new share goes at or near the front.
  auto at = std::lower_bound(unread.begin(), unread.end(), note, newer);
  if (at != unread.end() && at->event_id == note.event_id)
    return;
  auto index = static_cast<std::size_t>(at - unread.begin());
  if (publishes_views()) {
    unread_entries = unread_entries.inserted(index, wire::to_text(wire::notification_json(note)));
    ++rendered;
  }
  unread.insert(at, std::move(note));
  if (unread.size() > limit) {
    unread.resize(limit);
    unread_entries = unread_entries.first(limit);
    unread_complete = false;
  }
  publish_view(unread_only);
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
  unread.assign(std::make_move_iterator(merged.begin()), std::make_move_iterator(merged.end()));
  // The database's entries carry their senders' current cards.
  render_unread([](const share_notification&) { return true; });
  publish_view(unread_only);
}

bool outcome_unknown(const caf::error& err) {
  if (err == caf::sec::request_timeout || err == caf::sec::request_receiver_down)
    return true;
  auto code = code_of(err);
  return code == errc::db_unavailable || code == errc::internal;
}

void user_state::update_card(const user_card& card) {
  if (const auto* rel = relations.find(card.user_id))
    relations.put(relation{card, rel->row});
  auto from_sender = [&](const share_notification& n) { return n.sender.user_id == card.user_id; };
  for (auto& n : unread)
    if (from_sender(n))
      n.sender = card;
  render_unread(from_sender);
  publish_view(all_parts);
}

void user_state::render_unread(const std::function<bool(const share_notification&)>& changed) {
  if (!publishes_views())
    return;
  std::vector<std::string> texts;
  texts.reserve(unread.size());
  // Entries left unchanged are taken from the last rendering (in step with `unread`).
  bool in_step = unread_entries.size() == unread.size();
  auto before = unread_entries.begin();
  for (const auto& n : unread) {
    if (!in_step || changed(n)) {
      texts.push_back(wire::to_text(wire::notification_json(n)));
      ++rendered;
    } else {
      texts.push_back(*before);
    }
    if (in_step)
      ++before;
  }
  unread_entries = json_entries::of(std::move(texts));
}

void user_state::publish_view(uint8_t parts) {
  if (!publishes_views())
    return;
  if (!view)
    parts = all_parts;
  auto v = std::make_shared<polled_view>();
  v->owner = view_owner;
  if (parts & requests_part) {
    auto requests = wire::json::array();
    for (const auto& rel : requests_in())
      requests.push_back(wire::friend_request_json(rel));
    v->requests = std::make_shared<const std::string>(wire::to_text(requests));
    rendered += requests.size();
  } else {
    v->requests = view->requests;
  }
  // The unread entries are kept rendered by the transitions that change them.
  v->unread = unread_entries;
  v->unread_complete = unread_complete;
  if (parts & friends_part) {
    std::vector<std::string> friends;
    for (const auto& friend_summary : friend_summaries(friends_by_name()))
      friends.push_back(wire::to_text(wire::friend_json(friend_summary)));
    rendered += friends.size();
    v->friends = json_entries::of(std::move(friends));
  } else {
    v->friends = view->friends;
  }
  if (!(parts & profile_part)) {
    v->own_profile = view->own_profile;
    v->public_profile = view->public_profile;
  } else if (!profile_missing) {
    v->own_profile = std::make_shared<const std::string>(
      wire::to_text(wire::user_private_json(profile)));
    v->public_profile = std::make_shared<const std::string>(
      wire::to_text(wire::user_public_json(profile)));
  }
  settings.views->publish(id, v);
  view = std::move(v);
}

void user_state::show_view(uint64_t owner, caf::actor_clock::time_point now) {
  if (!settings.views || publishes_views())
    return;
  view_owner = owner;
  view_read_at = now;
  render_unread([](const share_notification&) { return true; });
  publish_view(all_parts);
}

void user_state::hide_view() {
  if (!publishes_views())
    return;
  settings.views->withdraw(id, view_owner);
  view_owner = 0;
  view.reset();
  unread_entries = {};
}

bool user_state::view_was_read() {
  return view && view->reads.exchange(0, std::memory_order_relaxed) > 0;
}

// -- queries ---------------------------------------------------------------------------------

friendship_state user_state::state_of(const std::string& other) const {
  const auto* rel = relations.find(other);
  if (rel == nullptr)
    return friendship_state::none;
  return rel->row.accepted() ? friendship_state::friends : friendship_state::pending;
}

friendship_lookup user_state::lookup(const std::string& other) const {
  const auto* rel = relations.find(other);
  if (rel == nullptr)
    return {};
  return {true, rel->row};
}

std::vector<relation> user_state::requests_in() const {
  std::vector<relation> out;
  for (const auto& rel : relations)
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
  for (const auto& rel : relations)
    if (rel.row.accepted())
      out.push_back(&rel);
  std::sort(out.begin(), out.end(), by_name);
  return out;
}

std::vector<relation> user_state::all_by_name(list_window page) const {
  std::vector<const relation*> all;
  all.reserve(relations.size());
  for (const auto& rel : relations)
    all.push_back(&rel);
  std::sort(all.begin(), all.end(), by_name);
  std::vector<relation> out;
  for (const auto* rel : slice(all, page))
    out.push_back(*rel);
  return out;
}

std::vector<std::string> user_state::friend_ids() const {
  std::vector<std::string> out;
  for (const auto& rel : relations) // sorted by id already
    if (rel.row.accepted())
      out.push_back(rel.user.user_id);
  return out;
}

std::vector<user_summary> user_state::own_friend_summaries(list_window page) const {
  return friend_summaries(slice(friends_by_name(), page));
}

int64_t user_state::friend_count() const {
  return std::count_if(relations.begin(), relations.end(),
                       [](const relation& rel) { return rel.row.accepted(); });
}

std::vector<const relation*> user_state::mutual_with(const std::vector<std::string>& ids) const {
  std::vector<const relation*> out;
  for (const auto& other : ids)
    if (const auto* rel = relations.find(other); rel != nullptr && rel->row.accepted())
      out.push_back(rel);
  std::sort(out.begin(), out.end(), by_name);
  return out;
}

bool user_state::unread_serves(list_window page) const {
  return page_within(unread.size(), unread_complete, page);
}

bool user_state::has_connection_for(uint8_t kind) const {
  return std::any_of(connections.begin(), connections.end(), [kind](const live_connection& c) {
    return !c.evicted && (c.kinds & kind) != 0;
  });
}

namespace {

/// Drops the connections that `match`, seated or waiting; returns whether any held a seat.
template <class Match>
bool drop_matching(std::vector<user_state::live_connection>& connections,
                   std::list<user_state::waiting_connection>& waiting, Match match) {
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
