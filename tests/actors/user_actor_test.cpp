// User actors and their registry: friendships, shares, passivation and failures
// (the fixture: tests/support/users_fixture.hpp).
#include "actors/key_sweep.hpp"
#include "actors/passivation.hpp"
#include "wire/user_json.hpp"
#include "wire/wire_json.hpp"
#include "tests/support/users_fixture.hpp"

using namespace tandem_test;

TEST_CASE_METHOD(users_fixture,
                 "a friend request and its acceptance reach both users' actors before the reply",
                 "[users]") {
  warm({"ann", "bob"});
  auto loads = store.loads;

  auto requested = write(friendship_op::request, "bob", "ann");
  REQUIRE(requested.value == true);
  // Served by the live actors, not reloaded: both applied the write.
  auto seen_by_ann = lookup("ann", "bob");
  auto seen_by_bob = lookup("bob", "ann");
  CHECK(seen_by_ann.found);
  CHECK(seen_by_bob.found);
  CHECK(seen_by_ann.row.requester == "bob");
  CHECK(seen_by_ann.row.addressee == "ann");
  CHECK_FALSE(seen_by_ann.row.accepted());
  CHECK(requests_in("ann") == std::vector<std::string>{"bob"});
  CHECK(requests_in("bob").empty());

  // Only the addressee accepts.
  CHECK(write(friendship_op::accept, "bob", "ann").code() == errc::not_found);
  REQUIRE(write(friendship_op::accept, "ann", "bob").value == true);
  CHECK(lookup("ann", "bob").row.accepted());
  CHECK(lookup("bob", "ann").row.accepted());
  CHECK(requests_in("ann").empty());
  CHECK(ask<int64_t>(atom::count_friends_v, std::string{"ann"}).value == 1);
  CHECK(ask<int64_t>(atom::count_friends_v, std::string{"bob"}).value == 1);
  CHECK(store.loads == loads);
  CHECK(stats().live == 2);
}

TEST_CASE_METHOD(users_fixture, "a request while a row exists either way is a conflict",
                 "[users]") {
  REQUIRE(write(friendship_op::request, "ann", "bob").value == true);
  CHECK(write(friendship_op::request, "ann", "bob").code() == errc::already_exists);
  CHECK(write(friendship_op::request, "bob", "ann").code() == errc::already_exists);
  CHECK(write(friendship_op::request, "ann", "nobody").code() == errc::not_found);
}

TEST_CASE_METHOD(users_fixture, "unfriending removes the pair from both actors", "[users]") {
  REQUIRE(write(friendship_op::request, "ann", "cid").value == true);
  REQUIRE(write(friendship_op::accept, "cid", "ann").value == true);
  warm({"ann", "cid"});
  auto loads = store.loads;

  REQUIRE(write(friendship_op::remove, "cid", "ann").value == true);

  CHECK_FALSE(lookup("ann", "cid").found);
  CHECK_FALSE(lookup("cid", "ann").found);
  CHECK(ask<int64_t>(atom::count_friends_v, std::string{"ann"}).value == 0);
  CHECK(ask<int64_t>(atom::count_mutual_friends_v, std::string{"ann"}, std::string{"cid"}).value == 0);
  CHECK(write(friendship_op::remove, "ann", "cid").code() == errc::not_found);
  CHECK(store.loads == loads);
}

TEST_CASE_METHOD(users_fixture, "a database error leaves both actors unchanged", "[users]") {
  REQUIRE(write(friendship_op::request, "ann", "bob").value == true);
  REQUIRE(write(friendship_op::accept, "bob", "ann").value == true);
  auto before_ann = lookup("ann", "bob");
  auto before_bob = lookup("bob", "ann");
  auto loads = store.loads;

  // Errors the database answered: the transaction rolled back.
  store.fail_next_write = caf::make_error(errc::db_query_failed);
  CHECK(write(friendship_op::remove, "ann", "bob").code() == errc::db_query_failed);
  store.fail_next_write = caf::make_error(errc::db_timeout);
  auto shared = ask<std::string>(atom::send_share_v, std::string{"ann"},
                                 share_request{caf::none, "https://a.example", "A"});
  CHECK(shared.code() == errc::db_timeout);

  auto after_ann = lookup("ann", "bob");
  auto after_bob = lookup("bob", "ann");
  CHECK(after_ann.found);
  CHECK(after_bob.found);
  CHECK(after_ann.row.accepted_at == before_ann.row.accepted_at);
  CHECK(after_bob.row.accepted_at == before_bob.row.accepted_at);
  CHECK(unread("bob").empty());
  // Served by the same actors, not reloaded.
  CHECK(store.loads == loads);
  // A write after the failure runs normally: the queue moved on.
  CHECK(write(friendship_op::remove, "ann", "bob").value == true);
  CHECK_FALSE(lookup("bob", "ann").found);
}

TEST_CASE_METHOD(users_fixture,
                 "a share reaches the unread list of live friends and marking read updates it",
                 "[users]") {
  REQUIRE(write(friendship_op::request, "ann", "bob").value == true);
  REQUIRE(write(friendship_op::accept, "bob", "ann").value == true);
  warm({"bob", "cid"});
  auto loads = store.loads;

  auto first = ask<std::string>(atom::send_share_v, std::string{"ann"},
                                share_request{caf::none, "https://a.example/1", "One"});
  auto second = ask<std::string>(atom::send_share_v, std::string{"ann"},
                                 share_request{caf::none, "https://a.example/2", "Two"});
  REQUIRE(first.value);
  REQUIRE(second.value);
  CHECK(unread("bob") == std::vector<std::string>{*second.value, *first.value});
  CHECK(unread("cid").empty());

  REQUIRE(ask<bool>(atom::mark_shares_read_v, std::string{"bob"}, std::vector<std::string>{*second.value})
            .value
          == true);
  CHECK(unread("bob") == std::vector<std::string>{*first.value});
  CHECK(store.loads == loads);

  // Past unread_cache_limit (2) the actor keeps the newest and reads the rest from
  // the database when asked for more than it holds.
  for (int i = 0; i < 3; ++i)
    REQUIRE(ask<std::string>(atom::send_share_v, std::string{"ann"},
                             share_request{caf::none, "https://a.example/n", "N"})
              .value);
  CHECK(unread("bob").size() == 4);
  auto newest = ask<std::vector<share_notification>>(atom::unread_shares_v, std::string{"bob"},
                                                     list_window{2, 0});
  REQUIRE(newest.value);
  CHECK(newest.value->size() == 2);
}

TEST_CASE_METHOD(users_fixture,
                 "shares past the user's budget are rate_limited, and the actor stays until "
                 "the budget refills",
                 "[users]") {
  auto share = [&] {
    return ask<std::string>(atom::send_share_v, std::string{"ann"},
                            share_request{caf::none, "https://a.example/", "A"});
  };
  for (int i = 0; i < 8; ++i)
    REQUIRE(share().value);
  auto refused = share();
  REQUIRE(refused.code() == errc::rate_limited);
  CHECK(refused.error->context().get_as<int64_t>(1) == 10);
  // Idle for longer than the idle timeout, but stopping would refill the budget at once.
  for (int i = 0; i < 7; ++i) {
    sched.advance_time(idle_timeout);
    sched.run();
  }
  CHECK(stats().live == 1);
  CHECK(share().code() == errc::none); // one token back every 10 s: seven now, six left
  // Full again 20 s later: from then on the actor stops as any idle one does.
  for (int i = 0; i < 4; ++i) {
    sched.advance_time(idle_timeout);
    sched.run();
  }
  CHECK(stats().live == 0);
  CHECK(stats().passivated == 1);
}

TEST_CASE_METHOD(users_fixture,
                 "an idle actor is passivated in virtual time and reloads on the next use",
                 "[users]") {
  warm({"ann"});
  CHECK(stats().live == 1);
  auto loads = store.loads;

  sched.advance_time(idle_timeout - 1s);
  sched.run();
  CHECK(stats().live == 1);

  sched.advance_time(1s);
  sched.run();
  auto st = stats();
  CHECK(st.live == 0);
  CHECK(st.passivated == 1);

  // Written behind its back (another node, say): the next use loads it.
  store.pairs[fake_social_store::key("ann", "bob")] = {"bob", "ann", store.now(), caf::none};
  CHECK(requests_in("ann") == std::vector<std::string>{"bob"});
  CHECK(store.loads == loads + 1);
  CHECK(stats().live == 1);
}

TEST_CASE_METHOD(users_fixture,
                 "a request routed while the actor reports itself idle is answered and keeps it",
                 "[users]") {
  warm({"ann"});
  auto loads = store.loads;
  // The registry routes the request (ann's mailbox: tick, then the request) before
  // the actor's idle report reaches it: the report counts one message fewer.
  auto answer = send<friendship_lookup>(atom::lookup_friendship_v, std::string{"ann"},
                                        std::string{"bob"});
  sched.run_once(); // the caller sends its request to the registry
  sched.advance_time(idle_timeout);
  sched.run();

  CHECK(answer->value);
  auto st = stats();
  CHECK(st.passivated == 0);
  CHECK(st.live == 1);
  CHECK(store.loads == loads);

  // Idle for a whole period after that: now it goes.
  sched.advance_time(idle_timeout);
  sched.run();
  CHECK(stats().passivated == 1);
}

TEST_CASE_METHOD(users_fixture,
                 "a request arriving after the registry took an idle report reaches a new actor",
                 "[users]") {
  warm({"ann"});
  auto loads = store.loads;
  sched.advance_time(idle_timeout);
  // Let only the user actor run: it reports itself idle to the registry.
  REQUIRE(sched.run_jobs_filtered(is_user_actor) == 1);
  auto answer = send<std::vector<relation>>(atom::incoming_requests_v, std::string{"ann"});
  sched.run();

  REQUIRE(answer->value);
  CHECK(answer->value->empty());
  auto st = stats();
  CHECK(st.passivated == 1);
  CHECK(st.live == 1);
  CHECK(store.loads == loads + 1);
}

TEST_CASE_METHOD(users_fixture,
                 "a user without a profile reads empty lists, is not found by others, and is "
                 "not kept",
                 "[users]") {
  // PageNow's extension polls right after sign-up, before U2.
  auto in = ask<std::vector<relation>>(atom::incoming_requests_v, std::string{"ghost"});
  REQUIRE(in.value);
  CHECK(in.value->empty());
  auto unread = ask<std::vector<share_notification>>(atom::unread_shares_v, std::string{"ghost"},
                                                     list_window{100, 0});
  REQUIRE(unread.value);
  CHECK(unread.value->empty());
  auto overview = ask<presence_overview>(atom::get_presence_v, std::string{"ghost"});
  REQUIRE(overview.value);
  CHECK(overview.value->me.user_id == "ghost");
  CHECK(!overview.value->me.page);
  CHECK(overview.value->friends.empty());
  CHECK(overview.value->cards.empty());
  CHECK(stats().live == 0);
  // Others naming the user (U8-U11) still learn that there is no such user.
  CHECK(ask<int64_t>(atom::count_friends_v, std::string{"ghost"}).code() == errc::not_found);
  CHECK(ask<std::vector<user_summary>>(atom::list_friends_v, std::string{"ann"}, std::string{"ghost"},
                                       list_window{15, 0})
          .code()
        == errc::not_found);
  CHECK(write(friendship_op::request, "ghost", "ann").code() == errc::not_found);
  // Once the profile exists, the next use finds it.
  store.add_user("ghost", "Gus", "Ghost");
  REQUIRE(write(friendship_op::request, "ann", "ghost").value == true);
  CHECK(requests_in("ghost") == std::vector<std::string>{"ann"});
}

TEST_CASE_METHOD(users_fixture,
                 "a profile change reaches the cards that live actors of related users hold",
                 "[users]") {
  REQUIRE(write(friendship_op::request, "bob", "cid").value == true);
  REQUIRE(write(friendship_op::accept, "cid", "bob").value == true);
  warm({"bob"});
  // cid's actor is not live: the write spawns it, and it tells bob's.
  REQUIRE(stats().live == 1);

  REQUIRE(update_profile("cid", [](profile_update& u) { u.first_name = "Cyd"; }).value);

  auto friends = ask<std::vector<user_summary>>(atom::list_friends_v, std::string{"bob"},
                                                std::string{"bob"}, list_window{10, 0});
  REQUIRE(friends.value);
  REQUIRE(friends.value->size() == 1);
  CHECK(friends.value->front().user.first_name == "Cyd");
  CHECK(stats().live == 2);
}

TEST_CASE_METHOD(users_fixture,
                 "the profile is read from the actor's state, never from the database",
                 "[users][profiles]") {
  warm({"ann"});
  auto loads = store.loads;
  // Changed behind the actor's back: the owner's state is what the reads answer.
  store.users.at("ann").first_name = "Not from the database";

  auto me = ask<user_profile>(atom::get_profile_v, std::string{"ann"});
  REQUIRE(me.value);
  CHECK(me.value->first_name == "Ann");
  CHECK(me.value->email == "ann@example.com");
  CHECK(store.loads == loads);
  // Someone else's profile (U6) loads that user's actor once, then comes from its state.
  REQUIRE(ask<user_profile>(atom::get_profile_v, std::string{"bob"}).value);
  CHECK(ask<user_profile>(atom::get_profile_v, std::string{"bob"}).value->last_name == "Baker");
  CHECK(store.loads == loads + 1);
  // A user without a profile is not found, as before U2 creates it.
  CHECK(ask<user_profile>(atom::get_profile_v, std::string{"ghost"}).code() == errc::not_found);
  CHECK(store.profile_writes.empty());
}

TEST_CASE_METHOD(users_fixture,
                 "a profile write goes to the database first, then to the state; a read "
                 "meanwhile answers what is committed",
                 "[users][profiles]") {
  warm({"ann"});
  auto loads = store.loads;

  SECTION("a failed write leaves the state as the database has it") {
    store.fail_next_write = caf::make_error(errc::db_query_failed, "boom");
    auto failed = update_profile("ann", [](profile_update& u) { u.first_name = "Anna"; });
    CHECK(failed.code() == errc::db_query_failed);
    CHECK(store.profile_writes.empty());
    CHECK(ask<user_profile>(atom::get_profile_v, std::string{"ann"}).value->first_name == "Ann");
  }
  SECTION("a read sent right after a write answers before it commits, the next one after") {
    profile_update u;
    u.first_name = "Anna";
    u.last_name = "Archer";
    auto written = send<user_profile>(atom::update_profile_v, std::string{"ann"},
                                      std::string{"anna@example.com"}, u);
    auto during = send<user_profile>(atom::get_profile_v, std::string{"ann"});
    sched.run();
    REQUIRE(written->value);
    CHECK(written->value->first_name == "Anna");
    CHECK(written->value->email == "anna@example.com");
    REQUIRE(during->value);
    CHECK(during->value->first_name == "Ann");
    CHECK(store.profile_writes == std::vector<std::string>{"update"});
    auto after = ask<user_profile>(atom::get_profile_v, std::string{"ann"});
    REQUIRE(after.value);
    CHECK(after.value->first_name == "Anna");
    CHECK(after.value->email == "anna@example.com");
  }
  SECTION("domain lists and the image are written the same way") {
    auto doms = ask<user_profile>(atom::set_profile_domains_v, std::string{"ann"},
                                  domain_list::deny, std::vector<std::string>{"bank.com"});
    REQUIRE(doms.value);
    CHECK(doms.value->domain_deny == std::vector<std::string>{"bank.com"});
    auto image = ask<user_profile>(atom::set_profile_image_v, std::string{"ann"},
                                   std::string{"png"});
    REQUIRE(image.value);
    CHECK(image.value->profile_image_extension == std::string{"png"});
    auto me = ask<user_profile>(atom::get_profile_v, std::string{"ann"});
    REQUIRE(me.value);
    CHECK(me.value->domain_deny == std::vector<std::string>{"bank.com"});
    CHECK(me.value->profile_image_uploaded_at == image.value->profile_image_uploaded_at);
    CHECK(ask<std::string>(atom::clear_profile_image_v, std::string{"ann"}).value
          == std::string{"png"});
    CHECK(!ask<user_profile>(atom::get_profile_v, std::string{"ann"})
             .value->profile_image_extension);
    CHECK(store.profile_writes == std::vector<std::string>{"domains", "image", "clear_image"});
  }
  CHECK(store.loads == loads);
}

TEST_CASE_METHOD(users_fixture,
                 "creating a profile goes through the user's actor, once",
                 "[users][profiles]") {
  CHECK(ask<user_profile>(atom::get_profile_v, std::string{"dan"}).code() == errc::not_found);
  auto edit = ask<user_profile>(atom::set_profile_domains_v, std::string{"dan"},
                                domain_list::allow, std::vector<std::string>{});
  CHECK(edit.code() == errc::not_found);
  auto created = ask<user_profile>(atom::create_profile_v, std::string{"dan"},
                                   new_profile{"dan", "dan@example.com", "Dan", "Dawn"});
  REQUIRE(created.value);
  CHECK(created.value->first_name == "Dan");
  auto me = ask<user_profile>(atom::get_profile_v, std::string{"dan"});
  REQUIRE(me.value);
  CHECK(me.value->email == "dan@example.com");
  auto again = ask<user_profile>(atom::create_profile_v, std::string{"dan"},
                                 new_profile{"dan", "dan@example.com", "Dan", "Dawn"});
  CHECK(again.code() == errc::already_exists);
  CHECK(store.profile_writes == std::vector<std::string>{"create"});
}

TEST_CASE_METHOD(users_fixture,
                 "after a write whose reply was lost both users' actors go and reload",
                 "[users]") {
  warm({"ann", "bob", "cid"});
  auto loads = store.loads;
  store.lose_next_reply = caf::make_error(errc::db_unavailable);

  // It committed, but nobody can tell: neither actor may keep its state.
  CHECK(write(friendship_op::request, "bob", "ann").code() == errc::db_unavailable);

  auto st = stats();
  CHECK(st.passivated == 2);
  CHECK(st.live == 1);
  CHECK(lookup("ann", "bob").found);
  CHECK(requests_in("ann") == std::vector<std::string>{"bob"});
  CHECK(lookup("bob", "ann").found);
  CHECK(store.loads == loads + 2);
  // An error the database answered changed nothing: the actors stay.
  CHECK(write(friendship_op::request, "ann", "bob").code() == errc::already_exists);
  CHECK(stats().passivated == 2);
}

namespace {

/// The user ids in the rendered JSON array `text` (entries keyed by `user_id`).
std::vector<std::string> ids_in(const std::string& text) {
  std::vector<std::string> ids;
  for (const auto& entry : nlohmann::json::parse(text))
    ids.push_back(entry.at("user_id").get<std::string>());
  return ids;
}

} // namespace

TEST_CASE_METHOD(users_fixture,
                 "the polled view shows every write before the write is answered",
                 "[users][views]") {
  requests_in("ann"); // the first polls show the views
  requests_in("bob");
  auto ann = views->find("ann");
  REQUIRE(ann);
  CHECK(*ann->requests == "[]");
  CHECK(ann->friends.empty());

  REQUIRE(write(friendship_op::request, "bob", "ann").value == true);
  CHECK(ids_in(*views->find("ann")->requests) == std::vector<std::string>{"bob"});
  // The view renders what the actor answers.
  auto in = ask<std::vector<relation>>(atom::incoming_requests_v, std::string{"ann"});
  REQUIRE(in.value);
  auto rendered = nlohmann::json::array();
  for (const auto& rel : *in.value)
    rendered.push_back(wire::friend_request_json(rel));
  CHECK(nlohmann::json::parse(*views->find("ann")->requests) == rendered);

  REQUIRE(write(friendship_op::accept, "ann", "bob").value == true);
  CHECK(*views->find("ann")->requests == "[]");
  CHECK(ids_in(json_page(views->find("ann")->friends, {10, 0}))
        == std::vector<std::string>{"bob"});
  CHECK(ids_in(json_page(views->find("bob")->friends, {10, 0}))
        == std::vector<std::string>{"ann"});
  CHECK(nlohmann::json::parse(views->find("bob")->friends.front()).at("friendship_state") == 2);

  auto shared = ask<std::string>(atom::send_share_v, std::string{"bob"},
                                 share_request{caf::none, "https://a.example/", "A"});
  REQUIRE(shared.value);
  auto unread = views->find("ann")->unread;
  REQUIRE(unread.size() == 1);
  CHECK(nlohmann::json::parse(unread.front()).at("event_id") == *shared.value);
  REQUIRE(ask<bool>(atom::mark_shares_read_v, std::string{"ann"}, std::vector<std::string>{*shared.value})
            .value);
  CHECK(views->find("ann")->unread.empty());

  REQUIRE(write(friendship_op::remove, "bob", "ann").value == true);
  CHECK(views->find("ann")->friends.empty());
  CHECK(views->find("bob")->friends.empty());
}

TEST_CASE_METHOD(users_fixture,
                 "the profile in the polled view follows every profile write before it is "
                 "answered, and a user without a profile has none there",
                 "[users][views][profiles]") {
  auto own = [this](const std::string& user) {
    auto view = views->find(user);
    REQUIRE(view);
    REQUIRE(view->own_profile);
    REQUIRE(view->public_profile);
    return std::make_pair(nlohmann::json::parse(*view->own_profile),
                          nlohmann::json::parse(*view->public_profile));
  };
  // What the actor path answers (U3 and U6 shape the actor's profile).
  auto answered = [this](const std::string& user) {
    auto p = ask<user_profile>(atom::get_profile_v, user);
    REQUIRE(p.value);
    return std::make_pair(wire::user_private_json(*p.value), wire::user_public_json(*p.value));
  };
  requests_in("ann"); // the first poll shows the view
  CHECK(own("ann") == answered("ann"));
  CHECK(own("ann").first.at("first_name") == "Ann");

  REQUIRE(update_profile("ann", [](profile_update& u) { u.first_name = "Anna"; }).value);
  CHECK(own("ann") == answered("ann"));
  CHECK(own("ann").second.at("first_name") == "Anna");
  REQUIRE(ask<user_profile>(atom::set_profile_domains_v, std::string{"ann"}, domain_list::deny,
                            std::vector<std::string>{"bank.com"})
            .value);
  CHECK(own("ann").first.at("domain_deny_array") == nlohmann::json{"bank.com"});
  REQUIRE(ask<user_profile>(atom::set_profile_image_v, std::string{"ann"}, std::string{"png"})
            .value);
  CHECK(own("ann") == answered("ann"));
  REQUIRE(ask<std::string>(atom::clear_profile_image_v, std::string{"ann"}).value);
  CHECK(own("ann") == answered("ann"));

  // Before U2 the actor serves the user's polls, but no profile: the routes ask it (404).
  auto ghost = send<std::vector<relation>>(atom::incoming_requests_v, std::string{"ghost"});
  while (!ghost->value && sched.try_run_once())
    if (auto view = views->find("ghost"))
      CHECK_FALSE(view->own_profile);
  REQUIRE(ghost->value);
  // Created through the actor that had none: in the view once answered.
  REQUIRE(ask<user_profile>(atom::create_profile_v, std::string{"dan"},
                            new_profile{"dan", "dan@example.com", "Dan", "Dawn"})
            .value);
  requests_in("dan");
  CHECK(own("dan") == answered("dan"));
}

TEST_CASE_METHOD(users_fixture,
                 "reads of the view keep the actor live, and the view goes with the actor",
                 "[users][views]") {
  requests_in("ann");
  sched.advance_time(idle_timeout / 2);
  sched.run();
  REQUIRE(views->find("ann")); // a poll served on an io thread

  sched.advance_time(idle_timeout / 2);
  sched.run();
  CHECK(stats().live == 1);
  CHECK(views->size() == 1);

  // A whole idle period without a read: passivated, and its view withdrawn.
  sched.advance_time(idle_timeout);
  sched.run();
  CHECK(stats().live == 0);
  CHECK(views->size() == 0);
  CHECK_FALSE(views->find("ann"));
}

TEST_CASE_METHOD(users_fixture,
                 "a view is rendered on the user's first poll and freed once unread for an idle "
                 "timeout",
                 "[users][views]") {
  // Loaded for others (friendships, a share), not polled: nothing rendered.
  REQUIRE(write(friendship_op::request, "bob", "ann").value == true);
  REQUIRE(write(friendship_op::accept, "ann", "bob").value == true);
  REQUIRE(write(friendship_op::request, "cid", "ann").value == true);
  REQUIRE(ask<std::string>(atom::send_share_v, std::string{"bob"},
                           share_request{caf::none, "https://a.example/", "A"})
            .value);
  CHECK_FALSE(views->find("ann"));
  // A poll of someone else's friends shows nothing.
  REQUIRE(ask<std::vector<user_summary>>(atom::list_friends_v, std::string{"bob"},
                                         std::string{"ann"}, list_window{10, 0})
            .value);
  CHECK_FALSE(views->find("bob"));

  // Each of the three polls shows the view, with everything the actor knows.
  SECTION("F4") {
    requests_in("ann");
  }
  SECTION("N3") {
    unread("ann");
  }
  SECTION("U10 about oneself") {
    REQUIRE(ask<std::vector<user_summary>>(atom::list_friends_v, std::string{"ann"},
                                           std::string{"ann"}, list_window{10, 0})
              .value);
  }
  auto shown = views->find("ann");
  REQUIRE(shown);
  CHECK(ids_in(*shown->requests) == std::vector<std::string>{"cid"});
  CHECK(shown->unread.size() == 1);
  CHECK(ids_in(json_page(shown->friends, {10, 0})) == std::vector<std::string>{"bob"});

  // Kept live by routed messages, but its view unread for a whole idle period (the
  // reads above fall in the first): the view goes, the actor stays.
  auto spawned = stats().spawned;
  for (int period = 0; period < 2; ++period) {
    sched.advance_time(idle_timeout / 2);
    sched.run();
    lookup("ann", "bob");
    sched.advance_time(idle_timeout / 2);
    sched.run();
  }
  CHECK_FALSE(views->find("ann"));
  lookup("ann", "bob");
  CHECK(stats().spawned == spawned);

  // The next poll shows it again, with what changed meanwhile.
  REQUIRE(write(friendship_op::accept, "ann", "cid").value == true);
  CHECK_FALSE(views->find("ann"));
  requests_in("ann");
  REQUIRE(views->find("ann"));
  CHECK(*views->find("ann")->requests == "[]");
  CHECK(ids_in(json_page(views->find("ann")->friends, {10, 0}))
        == (std::vector<std::string>{"bob", "cid"}));
}

TEST_CASE_METHOD(users_fixture,
                 "declining every request reaches both sides and never undoes a newer row",
                 "[users]") {
  REQUIRE(write(friendship_op::request, "ann", "bob").value == true);
  REQUIRE(write(friendship_op::request, "cid", "bob").value == true);
  REQUIRE(write(friendship_op::request, "bob", "ann").code() == errc::already_exists);
  warm({"ann", "bob", "cid"});
  auto first = lookup("ann", "bob").row;
  auto loads = store.loads;

  auto declined = ask<int64_t>(atom::decline_all_requests_v, std::string{"bob"});
  REQUIRE(declined.value == 2);
  CHECK(requests_in("bob").empty());
  CHECK_FALSE(lookup("ann", "bob").found);
  CHECK_FALSE(lookup("cid", "bob").found);
  CHECK(ask<int64_t>(atom::decline_all_requests_v, std::string{"bob"}).value == 0);
  CHECK(store.loads == loads);

  // A newer request of the pair, then the bulk decline's removal of the old one arriving
  // late (it runs outside the pair's owner): the newer row stays.
  REQUIRE(write(friendship_op::request, "ann", "bob").value == true);
  auto newer = lookup("ann", "bob").row;
  REQUIRE(newer.requested_at != first.requested_at);
  friendship_change stale;
  stale.row = first;
  stale.low = store.card("ann");
  stale.high = store.card("bob");
  for (const auto* user : {"ann", "bob"})
    REQUIRE(ask<bool>(atom::apply_friendship_change_v, std::string{user}, stale).value == true);
  CHECK(lookup("ann", "bob").row.requested_at == newer.requested_at);
  CHECK(requests_in("bob") == std::vector<std::string>{"ann"});
}

// -- in a cluster: claims, fenced writes, release (docs/cluster.md, Ownership) ---------------

namespace {

const node_identity node_a{"node-a", 1};
const node_identity node_b{"node-b", 2};

struct cluster_users_fixture : users_fixture {
  cluster_users_fixture() : users_fixture(node_a) {}

  /// Node b takes `user` over, as its claim after node a's lease would.
  void take_over(const std::string& user) {
    auto& o = store.owners.owners[user];
    o.node = node_b;
    ++o.epoch;
    store.owners.live[node_b.id] = node_b.incarnation;
  }
};

} // namespace

TEST_CASE_METHOD(cluster_users_fixture,
                 "in a cluster a user actor claims its user before loading it and releases it "
                 "when it goes",
                 "[users][cluster]") {
  warm({"ann"});
  REQUIRE(store.owners.owners.count("ann") == 1);
  CHECK(store.owners.owners["ann"].node == node_a);
  CHECK(store.owners.owners["ann"].epoch == 1);
  CHECK(store.loads == 1);
  sched.advance_time(idle_timeout);
  sched.run();
  CHECK(stats().passivated == 1);
  CHECK(store.owners.owners["ann"].node.id.empty());  // free for the next owner at once
  CHECK(write(friendship_op::request, "ann", "bob").code() == errc::none);
  CHECK(store.owners.owners["ann"].epoch == 2);
}

TEST_CASE_METHOD(cluster_users_fixture,
                 "in a cluster a user another live node owns is answered errc::moved, never "
                 "loaded here",
                 "[users][cluster]") {
  store.owners.owners["ann"] = {node_b, 3};
  store.owners.live[node_b.id] = node_b.incarnation;
  auto r = ask<std::vector<relation>>(atom::incoming_requests_v, std::string{"ann"});
  CHECK(r.code() == errc::moved);
  CHECK(store.loads == 0);
  CHECK(stats().live == 0);
  CHECK(store.owners.owners["ann"].node == node_b);
}

TEST_CASE_METHOD(cluster_users_fixture,
                 "a user write fenced by a takeover is answered errc::moved, changes nothing, "
                 "and the actor goes",
                 "[users][cluster]") {
  warm({"ann", "bob"});
  take_over("ann");
  CHECK(write(friendship_op::request, "ann", "bob").code() == errc::moved);
  CHECK(store.pairs.empty());
  auto st = stats();
  CHECK(st.live == 1);  // bob's
  CHECK(st.passivated == 1);
  CHECK(store.owners.owners["ann"].node == node_b);  // a fenced actor releases nothing
  // The next request starts a new actor, whose claim node b's live lease refuses.
  CHECK(ask<std::vector<relation>>(atom::incoming_requests_v, std::string{"ann"}).code()
        == errc::moved);
}

TEST_CASE_METHOD(cluster_users_fixture,
                 "a passivated user actor answers the write it was running before it releases "
                 "its user",
                 "[users][cluster]") {
  warm({"ann"});
  // Ann's actor, as a connection gets it on a single node.
  auto socket = sys.spawn([]() -> caf::behavior { return {[](atom::ping) {}}; });
  auto ann = ask<caf::actor>(atom::open_connection_v, std::string{"ann"}, event_kind::chat,
                             socket);
  REQUIRE(ann.value);
  auto written = send<bool>(atom::write_friendship_v,
                            friendship_command{friendship_op::request, "ann", "bob"});
  // Until the write waits for the database; then the registry's passivate comes first.
  auto* db_job = dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(db));
  while (std::find(sched.jobs.begin(), sched.jobs.end(), db_job) == sched.jobs.end())
    sched.run_once();
  caf::anon_send(*ann.value, atom::passivate_v);
  sched.run();
  CHECK(written->value == std::optional<bool>{true});
  CHECK(store.pairs.size() == 1);
  CHECK(store.owners.owners["ann"].node.id.empty());  // released once it was done
  caf::anon_send_exit(socket, caf::exit_reason::user_shutdown);
  sched.run();
}

TEST_CASE_METHOD(cluster_users_fixture,
                 "a release the database fails is tried again until it goes through, and "
                 "given up after release_attempts",
                 "[users][cluster]") {
  warm({"ann", "bob"});
  store.owners.failing_releases = 3;
  sched.advance_time(idle_timeout);
  sched.run();
  REQUIRE(stats().passivated == 2);
  // Both first tries failed: still node a's (one more failure is left for the retries).
  CHECK(store.owners.failing_releases == 1);
  CHECK(store.owners.owners["ann"].node == node_a);
  CHECK(store.owners.owners["bob"].node == node_a);
  for (int i = 0; i < 30; ++i) {
    sched.advance_time(100ms);
    sched.run();
  }
  CHECK(store.owners.owners["ann"].node.id.empty());
  CHECK(store.owners.owners["bob"].node.id.empty());
  // A database that stays down: ten tries, then the releaser goes (the lease ends it).
  warm({"cid"});
  store.owners.failing_releases = 1000;
  sched.advance_time(idle_timeout);
  sched.run();
  for (int i = 0; i < 300; ++i) {
    sched.advance_time(100ms);
    sched.run();
  }
  CHECK(store.owners.failing_releases == 1000 - tandem::release_attempts);
  CHECK(store.owners.owners["cid"].node == node_a);
}

TEST_CASE_METHOD(cluster_users_fixture,
                 "every cluster.sweep_interval_ms the registry releases the users this node "
                 "owns that no actor here holds, page by page, and keeps the others",
                 "[users][cluster]") {
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  sched.run();
  auto swept = settings();
  swept.sweep_interval = 5s;  // shorter than idle_timeout: live actors stay through one
  registry = spawn_user_registry(sys, db, swept);
  sched.run();
  warm({"ann", "bob"});
  // Claims of this node without an actor (lost releases): more than one page of them.
  auto lost = [](int i) {
    auto n = std::to_string(i);
    return "lost-" + std::string(5 - n.size(), '0') + n;
  };
  const int lost_count = tandem::sweep_page_size + 500;
  for (int i = 0; i < lost_count; ++i)
    store.owners.owners[lost(i)] = {node_a, 3};
  store.owners.owners["zed"] = {node_b, 2};  // another live node's
  store.owners.live[node_b.id] = node_b.incarnation;
  auto owned_by_a = [&] {
    std::vector<std::string> keys;
    for (const auto& [key, o] : store.owners.owners)
      if (o.node == node_a)
        keys.push_back(key);
    return keys;
  };
  REQUIRE(owned_by_a().size() == static_cast<std::size_t>(lost_count) + 2);
  sched.advance_time(4s);
  sched.run();
  CHECK(owned_by_a().size() == static_cast<std::size_t>(lost_count) + 2);  // not yet
  sched.advance_time(1s);
  sched.run();
  CHECK(owned_by_a() == std::vector<std::string>{"ann", "bob"});  // their actors live
  CHECK(stats().live == 2);
  CHECK(store.owners.owners["zed"].node == node_b);
  CHECK(store.owners.owners[lost(0)].epoch == 3);  // released, the epoch kept
  SECTION("a fenced node's claims go at its next sweep") {
    caf::anon_send(registry, atom::stop_serving_v);
    sched.run();
    REQUIRE(stats().live == 0);
    CHECK(owned_by_a() == std::vector<std::string>{"ann", "bob"});  // stopped, not released
    sched.advance_time(5s);
    sched.run();
    CHECK(owned_by_a().empty());
  }
}

TEST_CASE_METHOD(cluster_users_fixture,
                 "a user actor whose load failed after its claim releases the claim",
                 "[users][cluster]") {
  store.fail_next_load = caf::make_error(errc::db_timeout, "slow");
  auto r = ask<std::vector<relation>>(atom::incoming_requests_v, std::string{"ann"});
  CHECK(r.code() == errc::db_timeout);
  sched.run();
  REQUIRE(store.owners.owners.count("ann") == 1);
  CHECK(store.owners.owners["ann"].node.id.empty());  // not left to node a's lease
}
