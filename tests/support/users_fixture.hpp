// The fixture of the user actor tests: the registry and its user actors under CAF's
// deterministic scheduler, over the in-memory fake of the database (the real one is
// detached and would bypass the test scheduler). Reads go through the registry like
// every request in the service; `fake_social_store::loads` tells whether an answer came
// from a live actor or a reload.
#pragma once

#include "actors/user_registry.hpp"

#include <caf/all.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/fake_social_db.hpp"
#include "tests/support/sim_fixture.hpp" // last: defines expect, _ and friends

namespace tandem_test {

using namespace tandem;
using namespace std::chrono_literals;

constexpr auto idle_timeout = caf::timespan{10s};
constexpr auto presence_timeout = caf::timespan{180s};

inline bool is_user_actor(caf::resumable* job) {
  auto* actor = dynamic_cast<caf::local_actor*>(job);
  return actor != nullptr && std::string{actor->name()} == "tandem.user";
}

struct users_fixture : sim_fixture {
  fake_social_store store;
  persistence::social_db db;
  user_registry_actor registry;
  std::shared_ptr<polled_views> views = std::make_shared<polled_views>();
  std::shared_ptr<gateway_counters> counters = std::make_shared<gateway_counters>();
  /// The node whose user actors claim their users (a cluster); none on a single node.
  std::optional<node_identity> node_;

  /// `node`: the node this one is in a cluster, whose user actors claim.
  explicit users_fixture(std::optional<node_identity> node = std::nullopt) {
    store.add_user("ann", "Ann", "Archer");
    store.add_user("bob", "Bob", "Baker");
    store.add_user("cid", "Cid", "Cole");
    db = sys.spawn(fake_social_db, &store);
    node_ = std::move(node);
    registry = spawn_user_registry(sys, db, settings());
    sched.run();
  }

  /// The settings of the fixture's user actors.
  user_settings settings() const {
    user_settings s;
    s.idle_timeout = idle_timeout;
    s.unread_cache_limit = 2;
    s.shares_per_hour = 360; // one every 10 s
    s.shares_burst = 8;
    s.gateway.presence_timeout = presence_timeout;
    s.gateway.max_connections = 2;
    s.views = views;
    s.gateway.counters = counters;
    s.cluster_node = node_;
    return s;
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
