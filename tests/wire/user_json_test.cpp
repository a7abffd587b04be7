// Profiles on the wire: validation of the profile bodies and the exact shapes of
// UserPrivate and UserPublic (docs/api.md, Profiles).
#include "common/text.hpp"
#include "wire/user_json.hpp"
#include "persistence/users_repo.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace tandem;
using namespace tandem::wire;

namespace {

/// A complete, valid UserUpdate body, as the chat-client sends it.
json valid_update() {
  return {
    {"first_name", "Ada"},          {"last_name", "Lovelace"},
    {"description", "Analyst"},     {"share_mode", "default_all"},
    {"domain_allow_array", json::array({"github.com"})},
    {"domain_deny_array", json::array({"facebook.com"})},
    {"gender", "f"},                {"school", "home"},
    {"work", "engine"},             {"location", "London"},
    {"email_public", false},        {"gender_public", true},
    {"school_public", false},       {"work_public", true},
    {"location_public", false},
  };
}

std::string update_problem(const json& body) {
  std::string detail;
  auto decoded = decode_profile_update(body, detail);
  CHECK_FALSE(decoded);
  return detail;
}

std::set<std::string> keys_of(const json& j) {
  std::set<std::string> out;
  for (auto& [k, v] : j.items())
    out.insert(k);
  return out;
}

user_profile sample_profile() {
  user_profile p;
  p.user_id = "u1";
  p.email = "ada@example.com";
  p.first_name = "Ada";
  p.last_name = "Lovelace";
  p.description = "Analyst";
  p.dob = std::string{"1815-12-10"};
  p.gender = "f";
  p.school = "home";
  p.work = "engine";
  p.location = "London";
  p.sharing = share_mode::default_all;
  p.domain_allow = {"github.com"};
  p.domain_deny = {"facebook.com"};
  p.profile_image_extension = std::string{"png"};
  p.profile_image_uploaded_at = std::string{"2024-01-02T03:04:05.123456"};
  return p;
}

} // namespace

TEST_CASE("utf8_length counts code points, not bytes", "[profiles]") {
  CHECK(text::length("") == 0);
  CHECK(text::length("abc") == 3);
  CHECK(text::length("\xC3\xA9") == 1);             // é
  CHECK(text::length("\xE6\x97\xA5\xE6\x9C\xAC") == 2); // 日本
  CHECK(text::length("\xF0\x9F\x98\x80!") == 2);     // an emoji and "!"
}

TEST_CASE("plausible domains are lower-cased and implausible ones refused", "[profiles]") {
  CHECK(normalize_domain("GitHub.COM") == std::optional<std::string>{"github.com"});
  CHECK(normalize_domain("brunch.co.kr") == std::optional<std::string>{"brunch.co.kr"});
  CHECK(normalize_domain("artificial-intelligence.blog").has_value());
  CHECK(normalize_domain("xn--bcher-kva.example").has_value());
  CHECK(normalize_domain("research.google").has_value());
  for (const char* bad : {"", "localhost", "example.com.", ".example.com", "a..b", "-a.com",
                          "a-.com", "exa mple.com", "ex_ample.com", "127.0.0.1", "b\xC3\xBC.de",
                          "https://example.com", "example.com/path"})
    CHECK_FALSE(normalize_domain(bad));
  CHECK(normalize_domain(std::string(63, 'a') + ".com").has_value());
  CHECK_FALSE(normalize_domain(std::string(64, 'a') + ".com"));
  std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "."
                        + std::string(63, 'c') + "." + std::string(61, 'd'); // 253
  CHECK(normalize_domain(longest).has_value());
  CHECK_FALSE(normalize_domain(longest + "d"));
}

TEST_CASE("a domain list is normalised, de-duplicated in order, and bounded", "[profiles]") {
  std::string detail;
  auto list = decode_domain_list(json::array({"b.com", "A.com", "B.COM", "a.com"}), "f", detail);
  REQUIRE(list);
  CHECK(*list == std::vector<std::string>{"b.com", "a.com"});

  CHECK(decode_domain_list(json::array(), "f", detail) == std::vector<std::string>{});

  CHECK_FALSE(decode_domain_list(json::array({"ok.com", "nope"}), "domain_deny_array", detail));
  CHECK(detail == R"(domain_deny_array[1] must be a domain name such as "example.com")");
  CHECK_FALSE(decode_domain_list(json::array({"ok.com", 7}), "f", detail));
  CHECK(detail == R"(f[1] must be a domain name such as "example.com")");
  CHECK_FALSE(decode_domain_list(json::object(), "f", detail));
  CHECK(detail == "f must be an array of domain names");
  CHECK_FALSE(decode_domain_list("a.com", "f", detail));

  json many = json::array();
  for (std::size_t i = 0; i < limits::domains; ++i)
    many.push_back("d" + std::to_string(i) + ".com");
  CHECK(decode_domain_list(many, "f", detail)->size() == limits::domains);
  many.push_back("one-more.com");
  CHECK_FALSE(decode_domain_list(many, "f", detail));
  CHECK(detail == "f must have at most 500 entries");
}

TEST_CASE("a new profile needs both names of 1 to 50 characters and ignores the rest",
          "[profiles]") {
  std::string detail;
  auto p = decode_new_profile({{"first_name", "Ada"}, {"last_name", "L"}, {"dob", "x"},
                               {"gender", 3}},
                              detail);
  REQUIRE(p);
  CHECK(p->first_name == "Ada");
  CHECK(p->last_name == "L");
  CHECK(p->user_id.empty());
  CHECK(p->email.empty());

  std::string fifty_accents;
  for (int i = 0; i < 50; ++i)
    fifty_accents += "\xC3\xA9";
  CHECK(decode_new_profile({{"first_name", fifty_accents}, {"last_name", "L"}}, detail));
  CHECK_FALSE(
    decode_new_profile({{"first_name", fifty_accents + "e"}, {"last_name", "L"}}, detail));
  CHECK(detail == "first_name must be 1 to 50 characters, not blank");

  CHECK_FALSE(decode_new_profile({{"first_name", "Ada"}}, detail));
  CHECK(detail == "last_name is required");
  CHECK_FALSE(decode_new_profile({{"first_name", ""}, {"last_name", "L"}}, detail));
  CHECK(detail == "first_name must be 1 to 50 characters, not blank");
  CHECK_FALSE(decode_new_profile({{"first_name", "  "}, {"last_name", "L"}}, detail));
  CHECK(detail == "first_name must be 1 to 50 characters, not blank");
  CHECK_FALSE(decode_new_profile({{"first_name", 5}, {"last_name", "L"}}, detail));
  CHECK(detail == "first_name must be a string");
  CHECK_FALSE(decode_new_profile({{"first_name", nullptr}, {"last_name", "L"}}, detail));
  CHECK(detail == "first_name must be a string");
  CHECK_FALSE(decode_new_profile({{"first_name", std::string("A\0B", 3)}, {"last_name", "L"}},
                                 detail));
  CHECK(detail == "first_name must not contain NUL characters");
}

TEST_CASE("names refuse controls and bidi overrides and need a visible character",
          "[profiles]") {
  std::string detail;
  auto refused = [&detail](const std::string& first) {
    return !decode_new_profile({{"first_name", first}, {"last_name", "L"}}, detail);
  };
  CHECK(refused("\xE2\x80\x8B\xE2\x80\x8B"));  // zero-width spaces only
  CHECK(detail == "first_name must be 1 to 50 characters, not blank");
  CHECK(refused("\xE3\x85\xA4"));  // HANGUL FILLER
  CHECK(detail == "first_name must be 1 to 50 characters, not blank");
  CHECK(refused("\xE2\x80\xAE" "adA"));  // RIGHT-TO-LEFT OVERRIDE
  CHECK(detail == "first_name must not contain bidirectional override or isolate characters");
  CHECK(refused("Ada\nLovelace"));
  CHECK(detail == "first_name must not contain control characters");
  CHECK(refused("Ada\x1B[31m"));
  CHECK(detail == "first_name must not contain control characters");
  auto update = valid_update();
  update["last_name"] = "\xE2\x81\xA6x\xE2\x81\xA9";  // an isolate around x
  CHECK_FALSE(decode_profile_update(update, detail));
  CHECK(detail == "last_name must not contain bidirectional override or isolate characters");
  // Descriptions may hold line breaks; they are not names.
  update = valid_update();
  update["description"] = "line one\nline two";
  CHECK(decode_profile_update(update, detail));
  CHECK_FALSE(refused("\xE6\x9D\x8E \xD9\x85\xD8\xAD\xD9\x85\xD8\xAF"));
}

TEST_CASE("a full update decodes every field", "[profiles]") {
  auto body = valid_update();
  body["domain_allow_array"] = json::array({"GitHub.com", "github.com", "dev.to"});
  body["email"] = "ignored@example.com";
  body["domain_allow_arr"] = "a misspelled key the chat-client sends";
  std::string detail;
  auto u = decode_profile_update(body, detail);
  REQUIRE(u);
  CHECK(u->first_name == "Ada");
  CHECK(u->last_name == "Lovelace");
  CHECK(u->description == "Analyst");
  CHECK(u->sharing == share_mode::default_all);
  CHECK(u->domain_allow == std::vector<std::string>{"github.com", "dev.to"});
  CHECK(u->domain_deny == std::vector<std::string>{"facebook.com"});
  CHECK(u->gender == "f");
  CHECK(u->school == "home");
  CHECK(u->work == "engine");
  CHECK(u->location == "London");
  CHECK_FALSE(u->email_public);
  CHECK(u->gender_public);
  CHECK_FALSE(u->school_public);
  CHECK(u->work_public);
  CHECK_FALSE(u->location_public);
}

TEST_CASE("an update names its first missing or invalid field", "[profiles]") {
  for (const char* key :
       {"first_name", "last_name", "description", "share_mode", "domain_allow_array",
        "domain_deny_array", "gender", "school", "work", "location", "email_public",
        "gender_public", "school_public", "work_public", "location_public"}) {
    auto body = valid_update();
    body.erase(key);
    CHECK(update_problem(body) == std::string{key} + " is required");
  }
  auto body = valid_update();
  body["share_mode"] = "sometimes";
  CHECK(update_problem(body) == R"(share_mode must be "default_none" or "default_all")");
  body = valid_update();
  body["email_public"] = 1;
  CHECK(update_problem(body) == "email_public must be true or false");
  body = valid_update();
  body["location_public"] = "true";
  CHECK(update_problem(body) == "location_public must be true or false");
  body = valid_update();
  body["description"] = std::string(limits::profile_text + 1, 'x');
  CHECK(update_problem(body) == "description must be at most 200 characters");
  body = valid_update();
  body["work"] = json::array();
  CHECK(update_problem(body) == "work must be a string");
  body = valid_update();
  body["gender"] = std::string(limits::profile_text, 'x');
  body["description"] = "";
  std::string detail;
  CHECK(decode_profile_update(body, detail));
  body = valid_update();
  body["domain_deny_array"] = json::array({"facebook.com", "not a domain"});
  CHECK(update_problem(body)
        == R"(domain_deny_array[1] must be a domain name such as "example.com")");
  body = valid_update();
  body["last_name"] = 3;
  body["share_mode"] = 4;
  CHECK(update_problem(body) == "last_name must be a string");
}

TEST_CASE("user ids split at commas, empty pieces dropped, at most 100", "[profiles]") {
  std::string detail;
  CHECK(split_user_ids("a,b,,c,", detail) == std::vector<std::string>{"a", "b", "c"});
  CHECK(split_user_ids("", detail) == std::vector<std::string>{});
  CHECK(split_user_ids(",", detail) == std::vector<std::string>{});
  CHECK(split_user_ids("google_1 x", detail) == std::vector<std::string>{"google_1 x"});
  std::string ids;
  for (std::size_t i = 0; i < limits::user_ids; ++i)
    ids += "u" + std::to_string(i) + ",";
  CHECK(split_user_ids(ids, detail)->size() == limits::user_ids);
  CHECK_FALSE(split_user_ids(ids + "one-more", detail));
  CHECK(detail == "At most 100 user ids per request");
}

TEST_CASE("UserPrivate has exactly its 23 keys, the owner's values and null friendship "
          "fields",
          "[profiles]") {
  auto j = user_private_json(sample_profile());
  CHECK(keys_of(j)
        == std::set<std::string>{"user_id", "first_name", "last_name", "description",
                                 "profile_image_uploaded_at", "profile_image_extension",
                                 "friendship_state", "mutual_friend_count", "dob", "gender",
                                 "school", "work", "location", "email", "email_public",
                                 "dob_public", "gender_public", "school_public", "work_public",
                                 "location_public", "share_mode", "domain_allow_array",
                                 "domain_deny_array"});
  CHECK(j["friendship_state"].is_null());
  CHECK(j["mutual_friend_count"].is_null());
  // The owner sees fields whose flags are off.
  CHECK(j["dob"] == "1815-12-10");
  CHECK(j["gender"] == "f");
  CHECK(j["location"] == "London");
  CHECK(j["email"] == "ada@example.com");
  CHECK(j["email_public"] == false);
  CHECK(j["share_mode"] == "default_all");
  CHECK(j["domain_allow_array"] == json::array({"github.com"}));
  CHECK(j["domain_deny_array"] == json::array({"facebook.com"}));
  CHECK(j["profile_image_uploaded_at"] == "2024-01-02T03:04:05.123456");
  CHECK(j["profile_image_extension"] == "png");

  auto bare = sample_profile();
  bare.dob = caf::none;
  bare.profile_image_extension = caf::none;
  bare.profile_image_uploaded_at = caf::none;
  j = user_private_json(bare);
  CHECK(j["dob"].is_null());
  CHECK(j["profile_image_extension"].is_null());
  CHECK(j["profile_image_uploaded_at"].is_null());
}

TEST_CASE("UserPublic has its 13 keys and shows optional fields only when public",
          "[profiles]") {
  auto p = sample_profile();
  p.email_public = true; // never exposes the email all the same
  auto j = user_public_json(p);
  CHECK(keys_of(j)
        == std::set<std::string>{"user_id", "first_name", "last_name", "description",
                                 "profile_image_uploaded_at", "profile_image_extension",
                                 "friendship_state", "mutual_friend_count", "dob", "gender",
                                 "school", "work", "location"});
  CHECK(j["first_name"] == "Ada");
  CHECK(j["description"] == "Analyst");
  CHECK(j["profile_image_extension"] == "png");
  for (const char* hidden : {"dob", "gender", "school", "work", "location"})
    CHECK(j[hidden].is_null());

  p.dob_public = p.gender_public = p.school_public = p.work_public = p.location_public = true;
  j = user_public_json(p);
  CHECK(j["dob"] == "1815-12-10");
  CHECK(j["gender"] == "f");
  CHECK(j["school"] == "home");
  CHECK(j["work"] == "engine");
  CHECK(j["location"] == "London");

  p.school_public = false;
  CHECK(user_public_json(p)["school"].is_null());
}

TEST_CASE("the default domain lists are PageNow's, valid, lower case and distinct",
          "[profiles]") {
  const auto& allow = persistence::users::default_domain_allow();
  const auto& deny = persistence::users::default_domain_deny();
  CHECK(allow.size() == 119);
  CHECK(allow.front() == "wikipedia.org");
  CHECK(allow.back() == "plainenglish.io");
  CHECK(deny == std::vector<std::string>{"facebook.com", "instagram.com", "amazon.com",
                                         "twitter.com", "messenger.com", "google.com"});
  for (const auto* list : {&allow, &deny}) {
    CHECK(std::set<std::string>(list->begin(), list->end()).size() == list->size());
    for (const auto& d : *list)
      CHECK(normalize_domain(d) == std::optional<std::string>{d});
  }
}

TEST_CASE("text arrays for PostgreSQL quote and escape every element", "[profiles]") {
  using persistence::users::text_array_literal;
  CHECK(text_array_literal({}) == "{}");
  CHECK(text_array_literal({"a.com"}) == R"({"a.com"})");
  CHECK(text_array_literal({"a,b", "NULL", "q\"x", "back\\slash", "{}", ""})
        == R"({"a,b","NULL","q\"x","back\\slash","{}",""})");
}

TEST_CASE("the share warnings are PageNow's three", "[profiles]") {
  const auto& w = domain_share_warnings();
  CHECK(keys_of(w) == std::set<std::string>{"google.com", "messenger.com", "notion.so"});
  CHECK(w["google.com"]
        == "Allowing google.com may result in sharing personal activities (e.g. Gmail, "
           "Calendar)");
}
