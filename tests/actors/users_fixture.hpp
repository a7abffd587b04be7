// The fixture of the user actor tests: the registry and its user actors under CAF's
// deterministic scheduler, over an in-memory fake of the database (the real one is
// detached and would bypass the test scheduler). Reads go through the registry like
// every request in the service; `fake_store::loads` tells whether an answer came from
// a live actor or a reload.
#pragma once

#include "actors/user_registry.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/caf_catch_dsl.hpp" // last: defines expect, _ and friends

namespace tandem_test {

using namespace tandem;
using namespace std::chrono_literals;

// -- the fake database -------------------------------------------------------------------

/// What the fake database holds, owned by the test (the scheduler runs one thread).
struct fake_store {
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

  unread_snapshot unread_of(const std::string& user, int32_t limit) const {
    unread_snapshot snap;
    for (const auto& [to, note] : inbox)
      if (to == user && !note.seen_at)
        snap.items.push_back(note);
    std::sort(snap.items.begin(), snap.items.end(), [](const auto& a, const auto& b) {
      return std::tie(a.sent_at, a.event_id) > std::tie(b.sent_at, b.event_id);
    });
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
    r.note = {"event-" + std::to_string(ticks + 1), now(), req.url, req.title, caf::none,
              card(sender)};
    for (const auto& rel : relations_of(sender))
      if (rel.row.accepted())
        r.recipients.push_back(rel.user.user_id);
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
inline caf::result<T> reply_of(fake_store* store, caf::expected<T> res) {
  if (auto lost = std::exchange(store->lose_next_reply, caf::error{}))
    return lost;
  if (!res)
    return std::move(res.error());
  return std::move(*res);
}

inline persistence::social_db::behavior_type fake_db(persistence::social_db::pointer,
                                              fake_store* store) {
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
    [=](atom::create_user, const new_profile& p) -> caf::result<user_profile> {
      if (auto err = store->take_failure())
        return err;
      if (store->users.count(p.user_id) != 0)
        return caf::make_error(errc::already_exists);
      store->add_user(p.user_id, p.first_name, p.last_name);
      store->users[p.user_id].email = p.email;
      store->profile_writes.push_back("create");
      return reply_of(store, caf::expected<user_profile>{store->users[p.user_id]});
    },
    [=](atom::update_user, const identity& who,
        const profile_update& u) -> caf::result<user_profile> {
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
        const std::vector<std::string>& domains) -> caf::result<user_profile> {
      return reply_of(store, store->write_profile("domains", user, [&](user_profile& p) {
        (which == domain_list::allow ? p.domain_allow : p.domain_deny) = domains;
      }));
    },
    [=](atom::set_image, const std::string& user,
        const std::string& ext) -> caf::result<user_profile> {
      return reply_of(store, store->write_profile("image", user, [&](user_profile& p) {
        p.profile_image_extension = ext;
        p.profile_image_uploaded_at = store->now();
      }));
    },
    [=](atom::clear_image, const std::string& user) -> caf::result<std::string> {
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
    [=](atom::commit_friendship, const friendship_command& cmd,
        const friendship_limits&) -> caf::result<friendship_change> {
      return reply_of(store, store->commit(cmd));
    },
    [=](atom::decline_requests, const std::string& user) {
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
    [=](atom::insert_share, const std::string& sender,
        const share_request& req) -> caf::result<share_receipt> {
      return reply_of(store, store->share(sender, req));
    },
    [=](atom::mark_shares, const std::string& user, const std::vector<std::string>& ids,
        int32_t limit) -> caf::result<read_receipt> {
      return reply_of(store, store->mark(user, ids, limit));
    },
    [=](atom::fetch_shares, const share_query& q) -> std::vector<share_notification> {
      return slice(store->unread_of(q.user, 1000).items, q.page);
    },
  };
}

// -- fixture ----------------------------------------------------------------------------------

struct test_config : caf::actor_system_config {
  test_config() {
    set("scheduler.policy", caf::atom("testing"));
    set("logger.file-verbosity", caf::atom("quiet"));
    tandem::add_message_types(*this);
  }
};

/// What one request got.
template <class T>
struct reply {
  std::optional<T> value;
  std::optional<caf::error> error;

  errc code() const {
    return error ? code_of(*error) : errc::none;
  }
};

/// Spawns an actor that sends `xs...` to `target` and records the reply; nothing runs
/// until the test scheduler does.
template <class T, class Handle, class... Ts>
std::shared_ptr<reply<T>> request_from(caf::actor_system& sys, const Handle& target, Ts... xs) {
  auto out = std::make_shared<reply<T>>();
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(target, caf::infinite, xs...)
      .then([=](T& value) { out->value = std::move(value); },
            [=](caf::error& err) { out->error = std::move(err); });
  });
  return out;
}

constexpr auto idle_timeout = caf::timespan{10s};
constexpr auto presence_timeout = caf::timespan{180s};

inline bool is_user_actor(caf::resumable* job) {
  auto* actor = dynamic_cast<caf::local_actor*>(job);
  return actor != nullptr && std::string{actor->name()} == "tandem.user";
}

struct users_fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  fake_store store;
  persistence::social_db db;
  user_registry_actor registry;
  std::shared_ptr<polled_views> views = std::make_shared<polled_views>();
  std::shared_ptr<flood_counters> counters = std::make_shared<flood_counters>();

  users_fixture() {
    store.add_user("ann", "Ann", "Archer");
    store.add_user("bob", "Bob", "Baker");
    store.add_user("cid", "Cid", "Cole");
    db = sys.spawn(fake_db, &store);
    user_settings settings;
    settings.idle_timeout = idle_timeout;
    settings.unread_cache_limit = 2;
    settings.shares_per_hour = 360; // one every 10 s
    settings.shares_burst = 8;
    settings.gateway.presence_timeout = presence_timeout;
    settings.gateway.max_connections = 2;
    settings.views = views;
    settings.gateway.counters = counters;
    registry = spawn_user_registry(sys, db, settings);
    sched.run();
  }

  ~users_fixture() {
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(db, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Spawns an actor that sends `xs...` to the registry and records the reply;
  /// nothing runs until the scheduler does.
  template <class T, class... Ts>
  std::shared_ptr<reply<T>> send(Ts... xs) {
    return request_from<T>(sys, registry, xs...);
  }

  /// A request, run until nothing is left to do.
  template <class T, class... Ts>
  reply<T> ask(Ts... xs) {
    auto out = send<T>(xs...);
    sched.run();
    return *out;
  }

  reply<bool> write(friendship_op op, const std::string& caller, const std::string& other) {
    return ask<bool>(atom::write_friendship_v, friendship_command{op, caller, other});
  }

  friendship_lookup lookup(const std::string& user, const std::string& other) {
    auto r = ask<friendship_lookup>(atom::lookup_friendship_v, user, other);
    REQUIRE(r.value);
    return *r.value;
  }

  std::vector<std::string> requests_in(const std::string& user) {
    auto r = ask<std::vector<relation>>(atom::incoming_requests_v, user);
    REQUIRE(r.value);
    std::vector<std::string> ids;
    for (const auto& rel : *r.value)
      ids.push_back(rel.user.user_id);
    return ids;
  }

  std::vector<std::string> unread(const std::string& user) {
    auto r = ask<std::vector<share_notification>>(atom::unread_shares_v, user, list_window{100, 0});
    REQUIRE(r.value);
    std::vector<std::string> ids;
    for (const auto& n : *r.value)
      ids.push_back(n.event_id);
    return ids;
  }

  /// U4 through the user's actor: the fields the fake keeps as the database has them,
  /// with `edit` applied.
  reply<user_profile> update_profile(const std::string& user,
                                     const std::function<void(profile_update&)>& edit) {
    const auto& p = store.users.at(user);
    profile_update u{p.first_name,   p.last_name,     p.description,   p.sharing,
                     p.domain_allow, p.domain_deny,   p.gender,        p.school,
                     p.work,         p.location,      p.email_public,  p.gender_public,
                     p.school_public, p.work_public,  p.location_public};
    edit(u);
    return ask<user_profile>(atom::update_profile_v, user, p.email, u);
  }

  user_registry_stats stats() {
    auto r = ask<user_registry_stats>(atom::stats_v);
    REQUIRE(r.value);
    return *r.value;
  }

  /// Loads the actors of `users` (any read does) and lets their loads finish.
  void warm(std::initializer_list<const char*> users) {
    for (auto user : users)
      ask<int64_t>(atom::count_friends_v, std::string{user});
  }
};

} // namespace tandem_test
