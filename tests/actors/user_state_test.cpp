// What a user actor's polled view costs to keep current: a change renders the entries
// it changed, not the user's whole state, and the next view shares what did not change
// with the one before (issue 19: a share to users with long unread backlogs re-rendered,
// then copied, every backlog).
#include "actors/user_state.hpp"

#include "wire/social_json.hpp"
#include "wire/wire_json.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

using namespace tandem;

namespace {

share_notification note(int i, const std::string& sender) {
  share_notification n;
  n.event_id = "e" + std::to_string(100000 + i);
  n.sent_at = "2026-12-07T06:" + std::to_string(10 + i / 60) + ":" + std::to_string(10 + i % 50)
              + ".000000Z";
  n.url = "https://a.example/" + std::to_string(i);
  n.title = "Page " + std::to_string(i);
  n.sender = user_card{sender, "First " + sender, "Last", "", caf::none, caf::none};
  return n;
}

/// The unread entries as a full render of the state would show them.
std::vector<std::string> rendered_in_full(const user_state& st) {
  std::vector<std::string> out;
  for (const auto& n : st.unread)
    out.push_back(wire::to_text(wire::notification_json(n)));
  return out;
}

std::vector<std::string> texts(const json_entries& entries) {
  return {entries.begin(), entries.end()};
}

/// N3 `is_read=false` as the actor path renders it, from the state itself.
std::string unread_body_in_full(const user_state& st, list_window page) {
  auto body = wire::json::array();
  for (const auto& n : slice(st.unread, page))
    body.push_back(wire::notification_json(n));
  return wire::to_text(body);
}

struct backlog_fixture {
  std::shared_ptr<polled_views> board = std::make_shared<polled_views>();
  user_state st;

  /// `ann` with `backlog` unread shares (from bob and cid, alternately), published.
  explicit backlog_fixture(int backlog) {
    st.id = "ann";
    st.settings.views = board;
    st.settings.unread_cache_limit = 200;
    st.view_owner = 1;
    social_snapshot snap;
    snap.profile.user_id = "ann";
    for (int i = 0; i < backlog; ++i)
      snap.unread.items.push_back(note(i, i % 2 == 0 ? "bob" : "cid"));
    snap.unread.complete = true;
    st.install(std::move(snap));
  }

  std::shared_ptr<const polled_view> view() { return board->find("ann"); }
};

} // namespace

TEST_CASE("a share to a user with a long unread backlog renders only the new entry",
          "[views]") {
  backlog_fixture f{100};
  REQUIRE(f.st.rendered == 100);
  for (int i = 100; i < 105; ++i) {
    auto before = f.st.rendered;
    f.st.add_unread(note(i, "bob"));
    CHECK(f.st.rendered == before + 1);
  }
  REQUIRE(f.view()->unread.size() == 105);
  CHECK(texts(f.view()->unread) == rendered_in_full(f.st));
  // A share already held changes nothing.
  auto before = f.st.rendered;
  f.st.add_unread(note(3, "cid"));
  CHECK(f.st.rendered == before);
  CHECK(f.view()->unread.size() == 105);
}

TEST_CASE("the view after a share shares the backlog's entries with the view before",
          "[views]") {
  backlog_fixture f{100};
  auto before = f.view();
  auto newest = note(100, "bob");
  newest.sent_at = "2026-12-07T07:00:00.000000Z";
  f.st.add_unread(newest);
  auto after = f.view();
  REQUIRE(after->unread.size() == 101);
  // The same strings, not copies: the new entry is linked in front of the old list.
  CHECK(&*std::next(after->unread.begin()) == &*before->unread.begin());
  // The part the share did not touch is the same object too.
  CHECK(after->requests == before->requests);
  // And the view before is as it was.
  CHECK(before->unread.size() == 100);
}

TEST_CASE("shares past the cache limit, in and out of order, render what a full render does",
          "[views]") {
  backlog_fixture f{200};
  // One in the middle of the backlog (the entries before it are copied, the rest
  // shared), one older than all (dropped at once), then many, not in order, that push
  // most of the backlog off the back.
  auto middle = note(5000, "bob");
  middle.sent_at = "2026-12-07T06:12:30.000000Z";
  f.st.add_unread(middle);
  f.st.add_unread(note(-600, "cid"));
  for (int i = 400; i < 1000; ++i)
    f.st.add_unread(note(i, i % 3 == 0 ? "cid" : "bob"));
  REQUIRE(f.st.unread.size() == 200);
  CHECK_FALSE(f.st.unread_complete);
  CHECK(texts(f.view()->unread) == rendered_in_full(f.st));
  // Byte for byte the body the actor path renders, for whole lists and pages.
  for (auto page : {list_window{200, 0}, list_window{15, 0}, list_window{20, 190},
                    list_window{10, 37}}) {
    CHECK(json_page(f.view()->unread, page) == unread_body_in_full(f.st, page));
  }
}

TEST_CASE("a friendship change leaves the rendered unread entries as they are", "[views]") {
  backlog_fixture f{100};
  friendship_change change;
  change.exists = true;
  change.row.requester = "dee";
  change.row.addressee = "ann";
  change.row.requested_at = "2026-12-07T06:00:00.000000Z";
  change.low = user_card{"ann", "Ann", "Archer", "", caf::none, caf::none};
  change.high = user_card{"dee", "Dee", "Dale", "", caf::none, caf::none};
  auto before = f.st.rendered;
  f.st.apply(change);
  CHECK(f.st.rendered == before + 1); // the request, nothing of the backlog
  CHECK(f.view()->requests->find("\"dee\"") != std::string::npos);
  CHECK(texts(f.view()->unread) == rendered_in_full(f.st));
}

TEST_CASE("a sender's new card re-renders that sender's entries only", "[views]") {
  backlog_fixture f{100};
  auto before = f.st.rendered;
  f.st.update_card(user_card{"cid", "Cyd", "Cole", "", caf::none, caf::none});
  CHECK(f.st.rendered == before + 50);
  CHECK(texts(f.view()->unread) == rendered_in_full(f.st));
  auto renamed = std::count_if(f.view()->unread.begin(), f.view()->unread.end(),
                               [](const std::string& e) { return e.find("Cyd") != e.npos; });
  CHECK(renamed == 50);
}

namespace {

relation rel(const std::string& other, bool accepted) {
  relation r;
  r.user = user_card{other, "First " + other, "Last", "", caf::none, caf::none};
  r.row.requester = other;
  r.row.addressee = "ann";
  r.row.requested_at = "2026-12-07T06:00:00.000000";
  if (accepted)
    r.row.accepted_at = "2026-12-07T07:00:00.000000";
  return r;
}

std::vector<std::string> ids_of(const relation_index& index) {
  std::vector<std::string> out;
  for (const auto& r : index)
    out.push_back(r.user.user_id);
  return out;
}

} // namespace

TEST_CASE("relations are kept by the other user's id, one each", "[views]") {
  relation_index index;
  index.assign({rel("cid", true), rel("amy", false), rel("bob", true)});
  CHECK(ids_of(index) == std::vector<std::string>{"amy", "bob", "cid"});
  REQUIRE(index.find("bob"));
  CHECK(index.find("bob")->row.accepted());
  CHECK(index.find("bo") == nullptr);
  CHECK(index.find("dan") == nullptr);

  // A new relation goes in its place; one with the same user replaces it.
  index.put(rel("bea", false));
  index.put(rel("amy", true));
  CHECK(ids_of(index) == std::vector<std::string>{"amy", "bea", "bob", "cid"});
  CHECK(index.find("amy")->row.accepted());

  index.erase("bea");
  index.erase("zed"); // none: nothing changes
  CHECK(ids_of(index) == std::vector<std::string>{"amy", "bob", "cid"});
  CHECK(index.erase_if([](const relation& r) { return r.user.user_id != "bob"; }) == 2);
  CHECK(ids_of(index) == std::vector<std::string>{"bob"});
}

TEST_CASE("a user's friend ids and mutual friends come out in their orders", "[views]") {
  user_state st;
  st.id = "ann";
  social_snapshot snap;
  snap.profile.user_id = "ann";
  snap.relations = {rel("cid", true), rel("amy", false), rel("bob", true)};
  st.install(std::move(snap));
  CHECK(st.friend_ids() == std::vector<std::string>{"bob", "cid"});
  CHECK(st.friend_count() == 2);
  CHECK(st.state_of("amy") == friendship_state::pending);
  CHECK(st.state_of("dan") == friendship_state::none);
  auto mutual = st.mutual_with({"cid", "amy", "bob"});
  REQUIRE(mutual.size() == 2);
  CHECK(mutual[0]->user.user_id == "bob"); // by name: "First bob" before "First cid"
  CHECK(mutual[1]->user.user_id == "cid");
}
