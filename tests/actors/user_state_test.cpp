// What a user actor's polled view costs to keep current: a change renders the entries
// it changed, not the user's whole state (issue 19: a share to users with long unread
// backlogs re-rendered every backlog).
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
    f.st.add_unread(note(i, "bob"));
    CHECK(f.st.rendered == 1);
  }
  REQUIRE(f.view()->unread.size() == 105);
  CHECK(f.view()->unread == rendered_in_full(f.st));
  // A share already held changes nothing.
  f.st.add_unread(note(3, "cid"));
  CHECK(f.view()->unread.size() == 105);
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
  f.st.apply(change);
  CHECK(f.st.rendered == 1); // the request, nothing of the backlog
  CHECK(f.view()->requests.find("\"dee\"") != std::string::npos);
  CHECK(f.view()->unread == rendered_in_full(f.st));
}

TEST_CASE("a sender's new card re-renders that sender's entries only", "[views]") {
  backlog_fixture f{100};
  f.st.update_card(user_card{"cid", "Cyd", "Cole", "", caf::none, caf::none});
  CHECK(f.st.rendered == 50);
  CHECK(f.view()->unread == rendered_in_full(f.st));
  auto renamed = std::count_if(f.view()->unread.begin(), f.view()->unread.end(),
                               [](const std::string& e) { return e.find("Cyd") != e.npos; });
  CHECK(renamed == 50);
}
