// An in-memory fake of `persistence::social_db` for the actor tests (the real database
// actor is detached and would bypass CAF's test scheduler). The contract tests
// (tests/persistence/db_contract.hpp) run the same scenarios against it and
// against the real one on PostgreSQL, so that it cannot drift from the SQL.
#pragma once

#include "actors/user_actor.hpp" // slice
#include "persistence/social_db.hpp"
#include "tests/support/fake_key_owners.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace tandem_test {

using namespace tandem;

/// What the fake database holds, owned by the test (the scheduler runs one thread).
struct fake_social_store {
  /// Profiles by user: default_none with empty domain lists unless a test sets them.
  std::map<std::string, user_profile> users;
  /// One row per unordered pair, by (lower id, higher id).
  std::map<std::pair<std::string, std::string>, friendship_row> pairs;
  /// One entry per (event, recipient).
  std::vector<std::pair<std::string, share_notification>> inbox;
  int ticks = 0;
  int loads = 0;
  /// Profile writes committed, by operation, in commit order.
  std::vector<std::string> profile_writes;
  /// Answered instead of the next write, which then changes nothing.
  caf::error fail_next_write;
  /// The next write commits, but its caller gets this error (a reply lost on the way).
  caf::error lose_next_reply;
  /// Answered instead of the next load of a user's state.
  caf::error fail_next_load;
  fake_key_owners owners; ///< the users' ('u')

  /// Increasing timestamps in the wire format.
  std::string now() {
    char buf[32];
    std::snprintf(buf, sizeof buf, "2024-01-01T00:00:00.%06d", ++ticks);
    return buf;
  }

  void add_user(const std::string& id, const std::string& first, const std::string& last) {
    user_profile p;
    p.user_id = id;
    p.email = id + "@example.com";
    p.first_name = first;
    p.last_name = last;
    users[id] = std::move(p);
  }

  user_card card(const std::string& user) const {
    return card_of(users.at(user));
  }

  /// Runs `change` on the profile of `user` as the profile write `what`.
  caf::expected<user_profile> write_profile(const std::string& what, const std::string& user,
                                            const std::function<void(user_profile&)>& change) {
    if (auto err = take_failure())
      return err;
    auto i = users.find(user);
    if (i == users.end())
      return caf::make_error(errc::not_found, "User not found");
    change(i->second);
    profile_writes.push_back(what);
    return i->second;
  }

  static std::pair<std::string, std::string> key(const std::string& a, const std::string& b) {
    return std::minmax(a, b);
  }

  std::vector<relation> relations_of(const std::string& user) const {
    std::vector<relation> out;
    for (const auto& [k, row] : pairs)
      if (k.first == user || k.second == user)
        out.push_back({card(k.first == user ? k.second : k.first), row});
    return out;
  }

  /// What `user` received, newest first; all, or the seen or the unseen ones.
  std::vector<share_notification> received_by(const std::string& user,
                                              caf::optional<bool> seen) const {
    std::vector<share_notification> out;
    for (const auto& [to, note] : inbox)
      if (to == user && (!seen || *seen == static_cast<bool>(note.seen_at)))
        out.push_back(note);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.sent_at, a.event_id) > std::tie(b.sent_at, b.event_id);
    });
    return out;
  }

  unread_snapshot unread_of(const std::string& user, int32_t limit) const {
    unread_snapshot snap;
    snap.items = received_by(user, false);
    snap.complete = snap.items.size() <= static_cast<std::size_t>(limit);
    if (!snap.complete)
      snap.items.resize(static_cast<std::size_t>(limit));
    return snap;
  }

  caf::error take_failure() {
    return std::exchange(fail_next_write, caf::error{});
  }

  caf::expected<friendship_change> commit(const friendship_command& cmd) {
    if (auto err = take_failure())
      return err;
    if (users.count(cmd.caller) == 0 || users.count(cmd.other) == 0)
      return caf::make_error(errc::not_found, "User not found");
    auto k = key(cmd.caller, cmd.other);
    friendship_change change;
    change.low = card(k.first);
    change.high = card(k.second);
    auto i = pairs.find(k);
    switch (cmd.op) {
      case friendship_op::request:
        if (i != pairs.end())
          return caf::make_error(errc::already_exists, "Friendship already exists");
        change.row = friendship_row{cmd.caller, cmd.other, now(), caf::none, 0};
        pairs.emplace(k, change.row);
        change.exists = true;
        return change;
      case friendship_op::accept:
        if (i == pairs.end() || i->second.requester != cmd.other || i->second.accepted())
          return caf::make_error(errc::not_found, "Friend request not found");
        i->second.accepted_at = now();
        change.row = i->second;
        change.exists = true;
        return change;
      case friendship_op::decline:
        if (i == pairs.end() || i->second.requester != cmd.other || i->second.accepted())
          return caf::make_error(errc::not_found, "Friend request not found");
        pairs.erase(i);
        return change;
      case friendship_op::remove:
        if (i == pairs.end())
          return caf::make_error(errc::not_found, "Friendship not found");
        pairs.erase(i);
        return change;
    }
    return caf::make_error(errc::internal);
  }

  caf::expected<share_receipt> share(const std::string& sender, const share_request& req) {
    if (auto err = take_failure())
      return err;
    share_receipt r;
    for (const auto& rel : relations_of(sender))
      if (rel.row.accepted() && (!req.sent_to || *req.sent_to == rel.user.user_id))
        r.recipients.push_back(rel.user.user_id);
    if (req.sent_to && r.recipients.empty())
      return caf::make_error(errc::forbidden, "You can only share with your friends");
    r.note = {"event-" + std::to_string(ticks + 1), now(), req.url, req.title, caf::none,
              card(sender)};
    for (const auto& to : r.recipients)
      inbox.emplace_back(to, r.note);
    return r;
  }

  caf::expected<read_receipt> mark(const std::string& user, const std::vector<std::string>& ids,
                                   int32_t limit) {
    if (auto err = take_failure())
      return err;
    read_receipt r;
    for (auto& [to, note] : inbox)
      if (to == user && !note.seen_at
          && std::find(ids.begin(), ids.end(), note.event_id) != ids.end()) {
        note.seen_at = now();
        r.marked.push_back(note.event_id);
      }
    r.unread = unread_of(user, limit);
    return r;
  }
};

/// The reply of a write: its result, unless the store was told to lose it.
template <class T>
inline caf::result<T> reply_of(fake_social_store* store, caf::expected<T> res) {
  if (auto lost = std::exchange(store->lose_next_reply, caf::error{}))
    return lost;
  if (!res)
    return std::move(res.error());
  return std::move(*res);
}

inline persistence::social_db::behavior_type
fake_social_db(persistence::social_db::pointer, fake_social_store* store) {
  return {
    [=](atom::load_social, const std::string& user,
        int32_t limit) -> caf::result<social_snapshot> {
      ++store->loads;
      if (auto err = std::exchange(store->fail_next_load, caf::error{}))
        return err;
      if (store->users.count(user) == 0)
        return caf::make_error(errc::not_found, "User not found");
      social_snapshot snap;
      snap.profile = store->users.at(user);
      snap.relations = store->relations_of(user);
      snap.unread = store->unread_of(user, limit);
      return snap;
    },
    [=](atom::claim_user, const std::string& user,
        const node_identity& node) -> caf::result<int64_t> {
      auto epoch = store->owners.claim(user, node);
      if (!epoch)
        return epoch.error();
      return *epoch;
    },
    [=](atom::release_user, const std::string& user, const node_identity& node,
        int64_t epoch) -> caf::result<bool> {
      auto released = store->owners.release_request(user, node, epoch);
      if (!released)
        return std::move(released.error());
      return *released;
    },
    [=](atom::owned_users, const node_identity& node, const std::string& after,
        int32_t limit) { return store->owners.owned_by(node, after, limit); },
    [=](atom::release_users, const std::vector<owned_key>& keys,
        const node_identity& node) { return store->owners.release_all_request(keys, node); },
    [=](atom::create_user, const new_profile& p,
        const write_fence& fence) -> caf::result<user_profile> {
      if (auto err = store->owners.check(fence))
        return err;
      if (auto err = store->take_failure())
        return err;
      if (store->users.count(p.user_id) != 0)
        return caf::make_error(errc::already_exists);
      store->add_user(p.user_id, p.first_name, p.last_name);
      store->users[p.user_id].email = p.email;
      store->profile_writes.push_back("create");
      return reply_of(store, caf::expected<user_profile>{store->users[p.user_id]});
    },
    [=](atom::update_user, const identity& who, const profile_update& u,
        const write_fence& fence) -> caf::result<user_profile> {
      if (auto err = store->owners.check(fence))
        return err;
      return reply_of(store, store->write_profile("update", who.user_id, [&](user_profile& p) {
        p.email = who.email;
        p.first_name = u.first_name;
        p.last_name = u.last_name;
        p.description = u.description;
        p.sharing = u.sharing;
        p.domain_allow = u.domain_allow;
        p.domain_deny = u.domain_deny;
      }));
    },
    [=](atom::set_domains, const std::string& user, domain_list which,
        const std::vector<std::string>& domains,
        const write_fence& fence) -> caf::result<user_profile> {
      if (auto err = store->owners.check(fence))
        return err;
      return reply_of(store, store->write_profile("domains", user, [&](user_profile& p) {
        (which == domain_list::allow ? p.domain_allow : p.domain_deny) = domains;
      }));
    },
    [=](atom::set_image, const std::string& user, const std::string& ext,
        const write_fence& fence) -> caf::result<user_profile> {
      if (auto err = store->owners.check(fence))
        return err;
      return reply_of(store, store->write_profile("image", user, [&](user_profile& p) {
        p.profile_image_extension = ext;
        p.profile_image_uploaded_at = store->now();
      }));
    },
    [=](atom::clear_image, const std::string& user,
        const write_fence& fence) -> caf::result<std::string> {
      if (auto err = store->owners.check(fence))
        return err;
      std::string old;
      auto res = store->write_profile("clear_image", user, [&](user_profile& p) {
        old = p.profile_image_extension.value_or("");
        p.profile_image_extension = caf::none;
        p.profile_image_uploaded_at = caf::none;
      });
      if (!res)
        return reply_of(store, caf::expected<std::string>{std::move(res.error())});
      return reply_of(store, caf::expected<std::string>{old});
    },
    [=](atom::commit_friendship, const friendship_command& cmd, const friendship_limits&,
        const write_fence& fence) -> caf::result<friendship_change> {
      if (auto err = store->owners.check(fence))
        return err;
      return reply_of(store, store->commit(cmd));
    },
    [=](atom::decline_requests, const std::string& user,
        const write_fence& fence) -> caf::result<std::vector<friendship_change>> {
      if (auto err = store->owners.check(fence))
        return err;
      std::vector<friendship_change> out;
      for (auto i = store->pairs.begin(); i != store->pairs.end();) {
        if (i->second.addressee != user || i->second.accepted()) {
          ++i;
          continue;
        }
        friendship_change change;
        change.row = i->second;
        change.low = store->card(i->first.first);
        change.high = store->card(i->first.second);
        out.push_back(std::move(change));
        i = store->pairs.erase(i);
      }
      return out;
    },
    [=](atom::purge_expired_requests, int32_t) { return int64_t{0}; },
    [=](atom::insert_share, const std::string& sender, const share_request& req,
        const write_fence& fence) -> caf::result<share_receipt> {
      if (auto err = store->owners.check(fence))
        return err;
      return reply_of(store, store->share(sender, req));
    },
    [=](atom::mark_shares, const std::string& user, const std::vector<std::string>& ids,
        int32_t limit, const write_fence& fence) -> caf::result<read_receipt> {
      if (auto err = store->owners.check(fence))
        return err;
      return reply_of(store, store->mark(user, ids, limit));
    },
    [=](atom::fetch_shares, const share_query& q) -> std::vector<share_notification> {
      return slice(store->received_by(q.user, q.is_read), q.page);
    },
  };
}

} // namespace tandem_test
