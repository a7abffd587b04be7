// Decoding and shaping of the social routes (wire/social_json.hpp), the LIKE escaping
// of the searches, and the state transitions of a user actor without an actor.
#include "actors/user_actor.hpp"
#include "wire/social_json.hpp"
#include "persistence/social_repo.hpp"

#include <catch2/catch.hpp>

#include <deque>

using namespace tandem;
using namespace tandem::wire;

namespace {

query_map with_query(query_map query) {
  return query;
}

std::optional<list_window> page_of(std::map<std::string, std::string> query, int32_t cap = 15) {
  std::string detail;
  return decode_page(with_query(std::move(query)), 10, cap, detail);
}

share_notification note(const std::string& id, const std::string& at) {
  share_notification n;
  n.event_id = id;
  n.sent_at = at;
  return n;
}

std::vector<std::string> event_ids(const std::deque<share_notification>& xs) {
  std::vector<std::string> out;
  for (const auto& x : xs)
    out.push_back(x.event_id);
  return out;
}

} // namespace

TEST_CASE("limit and offset default, cap and refuse anything but small naturals", "[social]") {
  auto def = page_of({});
  REQUIRE(def);
  CHECK(def->limit == 10);
  CHECK(def->offset == 0);
  auto capped = page_of({{"limit", "100"}, {"offset", "7"}});
  REQUIRE(capped);
  CHECK(capped->limit == 15);
  CHECK(capped->offset == 7);
  CHECK(page_of({{"limit", "0"}})->limit == 0);
  for (auto bad : {"-1", "", "1.5", "abc", "+3", "2147483648", " 1", "0x1"}) {
    CAPTURE(bad);
    CHECK_FALSE(page_of({{"limit", bad}}));
    CHECK_FALSE(page_of({{"offset", bad}}));
  }
}

TEST_CASE("boolean query parameters are true, false or absent", "[social]") {
  std::optional<bool> value;
  std::string detail;
  CHECK(decode_flag(with_query({}), "is_read", value, detail));
  CHECK_FALSE(value);
  CHECK(decode_flag(with_query({{"is_read", "false"}}), "is_read", value, detail));
  CHECK(value == false);
  CHECK_FALSE(decode_flag(with_query({{"is_read", "1"}}), "is_read", value, detail));
  CHECK(detail == "is_read must be true or false");
}

TEST_CASE("a share needs an http(s) url and a title within their limits", "[social]") {
  std::string detail;
  auto ok = decode_share({{"url", "HTTP://a.example/x"}, {"title", ""}, {"sent_to", "x"}},
                         false, detail);
  REQUIRE(ok);
  CHECK_FALSE(ok->sent_to);
  auto personal = decode_share({{"url", "https://a"}, {"title", "t"}, {"sent_to", "bob"}}, true,
                               detail);
  REQUIRE(personal);
  CHECK(personal->sent_to == std::string{"bob"});
  CHECK_FALSE(decode_share({{"url", "https://a"}, {"title", "t"}}, true, detail));
  CHECK(detail == "sent_to is required and must be a string");
  for (auto url : {"ftp://a", "https://", "https://a b", "mailto:x@y", "https://a\x01"}) {
    CAPTURE(url);
    CHECK_FALSE(decode_share({{"url", url}, {"title", "t"}}, false, detail));
  }
  CHECK_FALSE(decode_share({{"url", std::string("https://a\0b", 11)}, {"title", "t"}}, false,
                           detail));
  CHECK(decode_share({{"url", "https://" + std::string(2040, 'a')}, {"title", "t"}}, false,
                     detail));
  CHECK_FALSE(decode_share({{"url", "https://" + std::string(2041, 'a')}, {"title", "t"}},
                           false, detail));
  // Characters, not bytes: 512 two-byte characters fit.
  std::string title;
  for (int i = 0; i < 512; ++i)
    title += "\xC3\xA9";
  CHECK(decode_share({{"url", "https://a"}, {"title", title}}, false, detail));
  CHECK_FALSE(decode_share({{"url", "https://a"}, {"title", title + "x"}}, false, detail));
}

TEST_CASE("read events are canonical unique UUIDs from an array of objects", "[social]") {
  std::string detail;
  auto ids = decode_read_events(R"([{"event_id":"0A0B0C0D-0000-4000-8000-00000000000F"},
                                    {"event_id":"0a0b0c0d-0000-4000-8000-00000000000f"}])",
                                detail);
  REQUIRE(ids);
  CHECK(*ids == std::vector<std::string>{"0a0b0c0d-0000-4000-8000-00000000000f"});
  for (auto bad : {"{}", "[1]", R"([{"event_id":1}])", R"([{"event_id":"0a0b"}])",
                   R"([{"event_id":"0a0b0c0d+0000-4000-8000-00000000000f"}])", "[", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(decode_read_events(bad, detail));
  }
}

TEST_CASE("search text loses its outer backslashes and LIKE escapes the rest", "[social]") {
  std::string detail;
  CHECK(decode_query("\\\\ab\\c\\", detail) == std::string{"ab\\c"});
  CHECK(decode_query("\\\\", detail) == std::string{});
  CHECK_FALSE(decode_query(std::string(321, 'a'), detail));
  CHECK(persistence::social::like_escape("50%_a\\b") == "50\\%\\_a\\\\b");
}

TEST_CASE("wire shapes carry exactly the keys of docs/api.md", "[social]") {
  relation rel{{"u", "F", "L", "d", std::string{"png"}, std::string{"2024-01-01T00:00:00.000001"}},
               {"me", "u", "2024-01-02T00:00:00.000000", caf::none}};
  auto keys = [](const json& j) {
    std::vector<std::string> out;
    for (auto it = j.begin(); it != j.end(); ++it)
      out.push_back(it.key());
    return out;
  };
  CHECK(keys(friend_request_json(rel))
        == std::vector<std::string>{"description", "first_name", "last_name",
                                    "profile_image_extension", "profile_image_uploaded_at",
                                    "requested_at", "user_id"});
  auto entry = relation_json(rel);
  CHECK(entry["friendship_state"] == 1);
  CHECK(entry["user_id1"] == "me");
  CHECK(entry["accepted_at"].is_null());
  user_summary s{rel.user, friendship_state::friends, caf::none};
  CHECK(user_summary_json(s)["mutual_friend_count"].is_null());
  CHECK(friend_json(s).size() == 6);
  CHECK(friendship_json(rel.row)
        == json{{"user_id1", "me"}, {"user_id2", "u"},
                {"requested_at", "2024-01-02T00:00:00.000000"}, {"accepted_at", nullptr}});
}

TEST_CASE("the unread list stays newest first, bounded and exact across a mark-read",
          "[social]") {
  user_state st;
  st.id = "me";
  st.settings.unread_cache_limit = 3;
  st.add_unread(note("a", "2024-01-01T00:00:01.000000"));
  st.add_unread(note("c", "2024-01-01T00:00:03.000000"));
  st.add_unread(note("b", "2024-01-01T00:00:02.000000"));
  st.add_unread(note("b", "2024-01-01T00:00:02.000000"));
  CHECK(event_ids(st.unread) == std::vector<std::string>{"c", "b", "a"});
  CHECK(st.unread_complete);
  st.add_unread(note("d", "2024-01-01T00:00:04.000000"));
  CHECK(event_ids(st.unread) == std::vector<std::string>{"d", "c", "b"});
  CHECK_FALSE(st.unread_complete);

  // The database marked c read and, as of its write, knew d, b and a unread; e came
  // in while the write ran.
  st.add_unread(note("e", "2024-01-01T00:00:05.000000"));
  read_receipt r;
  r.marked = {"c"};
  r.unread.items = {note("d", "2024-01-01T00:00:04.000000"),
                    note("b", "2024-01-01T00:00:02.000000"),
                    note("a", "2024-01-01T00:00:01.000000")};
  r.unread.complete = true;
  st.apply_read(r);
  CHECK(event_ids(st.unread) == std::vector<std::string>{"e", "d", "b"});
  CHECK_FALSE(st.unread_complete);
  CHECK(st.unread_serves({3, 0}));
  CHECK_FALSE(st.unread_serves({4, 0}));
}
