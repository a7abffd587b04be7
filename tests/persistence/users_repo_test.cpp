// The SQL of profiles against a real PostgreSQL: defaults, conflicts, arrays that
// round-trip any text, request order, and timestamps rendered in UTC.
#include "persistence/users_repo.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

using namespace tandem;
using namespace tandem::persistence;

namespace {

struct users_db : test::migrated_db {
  user_profile create(const std::string& id, const std::string& first = "Ada") {
    auto p = users::insert(tx, new_profile{id, id + "@example.com", first, "Lovelace"});
    REQUIRE(p);
    return *p;
  }
};

errc error_of(const caf::expected<user_profile>& x) {
  REQUIRE_FALSE(x);
  return code_of(x.error());
}

} // namespace

TEST_CASE("a new profile gets the defaults, and a second one for the same id is refused",
          "[pg][profiles]") {
  users_db db;
  auto p = db.create("u1");
  CHECK(p.user_id == "u1");
  CHECK(p.email == "u1@example.com");
  CHECK(p.first_name == "Ada");
  CHECK(p.last_name == "Lovelace");
  CHECK(p.description.empty());
  CHECK_FALSE(p.dob);
  CHECK(p.sharing == share_mode::default_none);
  CHECK(p.domain_allow == users::default_domain_allow());
  CHECK(p.domain_deny == users::default_domain_deny());
  CHECK_FALSE(p.email_public);
  CHECK_FALSE(p.profile_image_extension);
  CHECK_FALSE(p.profile_image_uploaded_at);

  CHECK(error_of(users::insert(db.tx, new_profile{"u1", "x@example.com", "B", "C"}))
        == errc::already_exists);
  // The refused insert left the transaction usable and the profile unchanged.
  auto again = users::load(db.tx, "u1");
  REQUIRE(again);
  CHECK(again->email == "u1@example.com");
  CHECK(error_of(users::load(db.tx, "nobody")) == errc::not_found);
}

TEST_CASE("several profiles load in request order, each once, whatever their ids contain",
          "[pg][profiles]") {
  users_db db;
  std::vector<std::string> odd = {R"(quote"d)", R"(back\slash)", "com,ma", "NULL", "{braces}",
                                  "sp ace", "\xC3\xA9t\xC3\xA9"};
  for (const auto& id : odd)
    db.create(id);
  std::vector<std::string> ids = {"NULL", "unknown", R"(quote"d)", "NULL", "sp ace",
                                  R"(back\slash)", "com,ma", "{braces}", "\xC3\xA9t\xC3\xA9"};
  auto found = users::load_many(db.tx, ids);
  std::vector<std::string> got;
  for (const auto& p : found)
    got.push_back(p.user_id);
  CHECK(got
        == std::vector<std::string>{"NULL", R"(quote"d)", "sp ace", R"(back\slash)", "com,ma",
                                    "{braces}", "\xC3\xA9t\xC3\xA9"});
  CHECK(users::load_many(db.tx, {}).empty());
  CHECK(users::load_many(db.tx, {"unknown"}).empty());
}

TEST_CASE("an update replaces every editable field and the email", "[pg][profiles]") {
  users_db db;
  db.create("u1");
  profile_update u;
  u.first_name = "Grace";
  u.last_name = "Hopper";
  u.description = "Rear admiral";
  u.sharing = share_mode::default_all;
  u.domain_allow = {};
  u.domain_deny = {"a.com", "b.org"};
  u.gender = "f";
  u.school = "Yale";
  u.work = "Navy";
  u.location = "Arlington";
  u.email_public = true;
  u.work_public = true;
  auto p = users::update(db.tx, identity{"u1", "grace@example.com"}, u);
  REQUIRE(p);
  CHECK(p->email == "grace@example.com");
  CHECK(p->first_name == "Grace");
  CHECK(p->last_name == "Hopper");
  CHECK(p->description == "Rear admiral");
  CHECK(p->sharing == share_mode::default_all);
  CHECK(p->domain_allow.empty());
  CHECK(p->domain_deny == std::vector<std::string>{"a.com", "b.org"});
  CHECK(p->gender == "f");
  CHECK(p->school == "Yale");
  CHECK(p->work == "Navy");
  CHECK(p->location == "Arlington");
  CHECK(p->email_public);
  CHECK(p->work_public);
  CHECK_FALSE(p->gender_public);
  CHECK_FALSE(p->school_public);
  CHECK_FALSE(p->location_public);
  CHECK_FALSE(p->dob_public);

  CHECK(error_of(users::update(db.tx, identity{"nobody", "n@example.com"}, u))
        == errc::not_found);
}

TEST_CASE("setting one domain list leaves the other alone", "[pg][profiles]") {
  users_db db;
  db.create("u1");
  auto p = users::set_domains(db.tx, "u1", domain_list::deny, {"x.com"});
  REQUIRE(p);
  CHECK(p->domain_deny == std::vector<std::string>{"x.com"});
  CHECK(p->domain_allow == users::default_domain_allow());
  p = users::set_domains(db.tx, "u1", domain_list::allow, {"y.com", "z.com"});
  REQUIRE(p);
  CHECK(p->domain_allow == std::vector<std::string>{"y.com", "z.com"});
  CHECK(p->domain_deny == std::vector<std::string>{"x.com"});
  CHECK(error_of(users::set_domains(db.tx, "nobody", domain_list::allow, {}))
        == errc::not_found);
}

TEST_CASE("times are UTC without an offset and dates are plain, whatever the session zone",
          "[pg][profiles]") {
  users_db db;
  db.create("u1");
  db.tx.exec0("SET LOCAL TimeZone = 'America/New_York'");
  db.tx.exec0("UPDATE users SET dob = '1815-12-10', profile_image_extension = 'png', "
              "profile_image_uploaded_at = '2024-01-02 05:04:05.5+02' WHERE user_id = 'u1'");
  auto p = users::load(db.tx, "u1");
  REQUIRE(p);
  CHECK(p->dob == std::string{"1815-12-10"});
  CHECK(p->profile_image_extension == std::string{"png"});
  CHECK(p->profile_image_uploaded_at == std::string{"2024-01-02T03:04:05.500000"});
}
