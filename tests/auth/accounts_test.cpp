// Accounts against the real PostgreSQL and Redis: the refresh family scripts (rotation,
// replay revoking a family, logout, TTLs, one key per family), the login throttle
// scripts, and the accounts actor end to end.
#include "auth/accounts.hpp"
#include "auth/auth_store.hpp"
#include "persistence/accounts_repo.hpp"
#include "persistence/migrations.hpp"

#include "tests/support/persistence_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <cctype>
#include <set>

using namespace tandem;
using namespace tandem::persistence;
using namespace std::chrono_literals;

namespace {

constexpr int64_t refresh_ttl = 3600;

struct redis_fixture : test::actor_system_fixture {
  redis_actor redis = spawn_redis(sys, test::redis_config());

  ~redis_fixture() {
    caf::anon_send_exit(redis, caf::exit_reason::user_shutdown);
  }

  redis_reply cmd(std::vector<std::string> args) {
    auto reply = ask<redis_reply>(redis, 10s, atom::command_v, std::move(args));
    REQUIRE(reply);
    return *reply;
  }

  int64_t ttl(const std::string& key) {
    return cmd({"TTL", key}).integer_value;
  }

  bool exists(const std::string& key) {
    return cmd({"EXISTS", key}).integer_value == 1;
  }

  auth_store::rotation rotate(const std::string& family, int64_t generation) {
    auto parsed = auth_store::parse_rotation(
      cmd(auth_store::rotate_command({family, generation}, refresh_ttl)));
    REQUIRE(parsed);
    return *parsed;
  }
};

std::string upper(std::string text) {
  for (auto& c : text)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

/// Every name is fresh, so runs sharing a server never meet.
struct family {
  std::string id = new_random_id();
  identity who{"user-" + new_random_id(), "someone@example.com"};
};

} // namespace

TEST_CASE_METHOD(redis_fixture, "a refresh family is one key holding its generation, with a TTL",
                 "[accounts][redis]") {
  family f;
  REQUIRE(cmd(auth_store::issue_command(f.id, f.who, refresh_ttl)).integer_value == 1);
  auto key = auth_store::family_key(f.id);
  CHECK(key == "rf:" + f.id);
  CHECK(cmd({"HGET", key, "user"}).str == f.who.user_id);
  CHECK(cmd({"HGET", key, "gen"}).str == "0");
  CHECK(ttl(key) > refresh_ttl - 10);
  CHECK(ttl(key) <= refresh_ttl);

  cmd({"EXPIRE", key, "100"});
  auto r = rotate(f.id, 0);
  CHECK(r.outcome == auth_store::rotation::rotated);
  CHECK(r.who.user_id == f.who.user_id);
  CHECK(r.who.email == f.who.email);
  CHECK(r.generation == 1);
  CHECK(ttl(key) > refresh_ttl - 10); // each rotation starts the family's TTL again
  CHECK(rotate(f.id, 1).generation == 2);
  // A generation the family has not reached is not one of its tokens.
  CHECK(rotate(f.id, 5).outcome == auth_store::rotation::unknown);
  CHECK(exists(key));
}

TEST_CASE_METHOD(redis_fixture, "presenting an older generation deletes its family",
                 "[accounts][redis]") {
  family f, other;
  cmd(auth_store::issue_command(f.id, f.who, refresh_ttl));
  cmd(auth_store::issue_command(other.id, other.who, refresh_ttl));
  REQUIRE(rotate(f.id, 0).outcome == auth_store::rotation::rotated);
  REQUIRE(rotate(f.id, 1).outcome == auth_store::rotation::rotated);

  auto replay = rotate(f.id, 0);
  CHECK(replay.outcome == auth_store::rotation::replayed);
  CHECK(replay.who.user_id == f.who.user_id);
  CHECK_FALSE(exists(auth_store::family_key(f.id)));
  // The legitimate holder's current token is gone too.
  CHECK(rotate(f.id, 2).outcome == auth_store::rotation::unknown);
  // Other families are untouched.
  CHECK(rotate(other.id, 0).outcome == auth_store::rotation::rotated);
}

TEST_CASE_METHOD(redis_fixture, "revoking deletes the family and names its user once",
                 "[accounts][redis]") {
  family f;
  cmd(auth_store::issue_command(f.id, f.who, refresh_ttl));
  rotate(f.id, 0);
  CHECK(auth_store::parse_revocation(cmd(auth_store::revoke_command(f.id))) == f.who.user_id);
  CHECK_FALSE(exists(auth_store::family_key(f.id)));
  CHECK_FALSE(auth_store::parse_revocation(cmd(auth_store::revoke_command(f.id))));
  CHECK(rotate(f.id, 1).outcome == auth_store::rotation::unknown);
}

TEST_CASE_METHOD(redis_fixture, "the login throttle counts attempts and blocks with the time left",
                 "[accounts][redis]") {
  auto email = auth_store::email_counter_key(new_random_id() + "@example.com");
  auto address = auth_store::address_counter_key("test-" + new_random_id());
  auto attempt = [&] {
    return cmd(auth_store::login_attempt_command(email, address, 3, 10, 60)).integer_value;
  };
  CHECK(attempt() == 0);
  CHECK(ttl(email) > 50);
  CHECK(ttl(address) > 50);
  // A success gives its attempt back.
  cmd(auth_store::login_succeeded_command(email, address));
  CHECK(cmd({"GET", email}).str == "0");
  CHECK(attempt() == 0);
  CHECK(attempt() == 0);
  CHECK(attempt() == 0);
  auto wait = attempt();
  CHECK(wait > 50);
  CHECK(wait <= 60);
  CHECK(cmd({"GET", email}).str == "3"); // a refused attempt is not counted
  CHECK(cmd({"GET", address}).str == "3");
  cmd({"DEL", email, address});
}

TEST_CASE_METHOD(redis_fixture,
                 "a budget of one counter admits its maximum within the window, then waits",
                 "[accounts][redis]") {
  auto key = auth_store::registration_counter_key("test-" + new_random_id());
  auto attempt = [&] { return cmd(auth_store::counted_attempt_command(key, 2, 60)); };
  CHECK(!auth_store::attempt_refusal(attempt(), "full"));
  CHECK(ttl(key) > 50);
  CHECK(!auth_store::attempt_refusal(attempt(), "full"));
  auto refused = attempt();
  CHECK(refused.integer_value > 50);
  CHECK(refused.integer_value <= 60);
  auto refusal = auth_store::attempt_refusal(refused, "full");
  CHECK(code_of(refusal) == errc::rate_limited);
  CHECK(cmd({"GET", key}).str == "2");
  cmd({"DEL", key});
}

// -- the accounts actor over real servers --------------------------------------------------

namespace {

struct accounts_fixture : redis_fixture {
  db_actor db;
  password_hasher_actor hasher;
  accounts_actor accounts;
  std::shared_ptr<const token_service> tokens;
  config::auth_config auth;

  accounts_fixture() {
    db = spawn_db(sys, test::migrated_db_config(), caf::timespan{0});
    auth.argon2_memory_kib = 64;
    auth.argon2_iterations = 1;
    auth.hasher_threads = 1;
    auth.login_max_failures = 2;
    auth.login_max_failures_per_address = 100;
    auth.login_window_s = 60;
    auth.refresh_ttl_s = 600;
    // Rotation tests rotate thousands of times; the refresh budget has its own e2e test.
    auth.refreshes_per_hour = 1000000;
    auth.refreshes_burst = 100000;
    // Every test signs up from the one unknown address, in the one Redis of the run;
    // the per-address budget has its own tests.
    auth.register_max_per_address = 1000000;
    hasher = spawn_password_hasher(sys, auth);
    token_settings ts;
    ts.key = "integration-test-key-0123456789abcdef";
    ts.issuer = auth.issuer;
    ts.audience = auth.audience;
    tokens = std::make_shared<const token_service>(ts);
    // No user registry: no sockets to close here.
    accounts = spawn_accounts(sys, {auth, 10s, tokens, db, redis, hasher, {}});
  }

  ~accounts_fixture() {
    for (auto hdl : {caf::actor_cast<caf::actor>(accounts), caf::actor_cast<caf::actor>(hasher),
                     caf::actor_cast<caf::actor>(db)})
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  }

  std::string address = "test-" + new_random_id();
  std::string email = new_random_id() + "@Example.com";

  caf::expected<token_pair> sign_up(const std::string& mail, const std::string& password) {
    return ask<token_pair>(accounts, 20s, atom::sign_up_v, mail, password, address);
  }

  caf::expected<token_pair> login(const std::string& mail, const std::string& password) {
    return ask<token_pair>(accounts, 20s, atom::login_v, mail, password, address);
  }

  caf::expected<token_pair> refresh(const std::string& token) {
    return ask<token_pair>(accounts, 20s, atom::refresh_v, token);
  }
};

} // namespace

TEST_CASE_METHOD(accounts_fixture, "an account registers, logs in, refreshes and logs out",
                 "[accounts][redis][pg]") {
  auto reg = sign_up(email, "correct horse");
  REQUIRE(reg);
  CHECK(tokens->verify(reg->access_token).who->user_id == reg->user_id);
  CHECK(ttl(auth_store::family_key(tokens->read_refresh_token(reg->refresh_token)->family))
        > 590);

  auto dup = sign_up(upper(email), "another password");
  CHECK(code_of(dup.error()) == errc::already_exists);

  auto in = login(upper(email), "correct horse");
  REQUIRE(in);
  CHECK(in->user_id == reg->user_id);
  CHECK(tokens->verify(in->access_token).who->email == email);

  auto next = refresh(in->refresh_token);
  REQUIRE(next);
  CHECK(next->refresh_token != in->refresh_token);
  CHECK(code_of(refresh(in->refresh_token).error()) == errc::unauthorized); // replay
  CHECK(code_of(refresh(next->refresh_token).error()) == errc::unauthorized); // family gone

  // The registration's family is separate and logs out on its own.
  REQUIRE(ask<bool>(accounts, 10s, atom::logout_v, reg->refresh_token));
  CHECK(code_of(refresh(reg->refresh_token).error()) == errc::unauthorized);
}

namespace {

/// Keys of the server now (the test server is private to the run: a few hundred keys).
std::set<std::string> all_keys(redis_fixture& f) {
  auto keys = f.cmd({"KEYS", "*"}).items;
  return {keys.begin(), keys.end()};
}

/// Redis commands run since the last `CONFIG RESETSTAT`, EVAL itself included.
int64_t commands_run(redis_fixture& f) {
  auto info = f.cmd({"INFO", "commandstats"}).str;
  int64_t calls = 0;
  for (std::size_t at = info.find("calls="); at != std::string::npos;
       at = info.find("calls=", at + 1))
    calls += std::stoll(info.substr(at + 6));
  return calls;
}

} // namespace

TEST_CASE_METHOD(accounts_fixture,
                 "a refresh family stays one key of one size over 3,000 rotations, and revoking "
                 "it costs what revoking a fresh one does",
                 "[accounts][redis][pg]") {
  auto before = all_keys(*this);
  // The throttles' counters (the registration's, the login's below) are not the family's.
  auto counter = [](const std::string& k) {
    return k.rfind("login:fail:", 0) == 0 || k.rfind("register:addr:", 0) == 0;
  };
  auto new_keys = [&] {
    std::vector<std::string> keys;
    for (const auto& k : all_keys(*this))
      if (before.count(k) == 0 && !counter(k))
        keys.push_back(k);
    return keys;
  };
  auto reg = sign_up(email, "correct horse");
  REQUIRE(reg);
  auto first = refresh(reg->refresh_token);
  REQUIRE(first);
  auto family_keys = new_keys();
  REQUIRE(family_keys.size() == 1); // one key per family, whatever the rotations
  auto memory = [&] { return cmd({"MEMORY", "USAGE", family_keys[0]}).integer_value; };
  auto size_after_one = memory();

  std::vector<std::string> issued{reg->refresh_token, first->refresh_token};
  for (int i = 0; i < 3000; ++i) {
    auto next = refresh(issued.back());
    REQUIRE(next);
    issued.push_back(next->refresh_token);
  }
  CHECK(new_keys() == family_keys);
  CHECK(memory() <= size_after_one + 8); // the generation's digits, nothing per rotation

  // Revoking the rotated family runs as many commands as revoking a fresh one.
  auto fresh = login(email, "correct horse");
  REQUIRE(fresh);
  cmd({"CONFIG", "RESETSTAT"});
  REQUIRE(ask<bool>(accounts, 10s, atom::logout_v, fresh->refresh_token));
  auto fresh_cost = commands_run(*this);
  cmd({"CONFIG", "RESETSTAT"});
  REQUIRE(ask<bool>(accounts, 10s, atom::logout_v, issued.back()));
  CHECK(commands_run(*this) == fresh_cost);
  CHECK_FALSE(exists(family_keys[0]));
  CHECK(new_keys().empty()); // the counters left, nothing else
  CHECK(code_of(refresh(issued.back()).error()) == errc::unauthorized);
}

TEST_CASE_METHOD(accounts_fixture, "a replay of any older generation revokes the family",
                 "[accounts][redis][pg]") {
  REQUIRE(sign_up(email, "correct horse"));
  for (std::size_t replayed : {std::size_t{0}, std::size_t{7}, std::size_t{18}}) {
    INFO(replayed);
    auto in = login(email, "correct horse");
    REQUIRE(in);
    std::vector<std::string> issued{in->refresh_token};
    for (int i = 0; i < 20; ++i) {
      auto next = refresh(issued.back());
      REQUIRE(next);
      issued.push_back(next->refresh_token);
    }
    auto replay = refresh(issued[replayed]);
    REQUIRE_FALSE(replay);
    CHECK(describe(replay.error()).find("reused") != std::string::npos);
    // The holder of the current token must sign in again.
    CHECK(code_of(refresh(issued.back()).error()) == errc::unauthorized);
  }
}

TEST_CASE_METHOD(accounts_fixture, "bad registrations and logins are refused without detail leaks",
                 "[accounts][redis][pg]") {
  CHECK(code_of(sign_up("not-an-email", "correct horse").error()) == errc::invalid_request);
  CHECK(code_of(sign_up(email, "short").error()) == errc::invalid_request);
  REQUIRE(sign_up(email, "correct horse"));
  auto wrong = login(email, "wrong password");
  auto unknown = login("nobody-" + email, "wrong password");
  CHECK(code_of(wrong.error()) == errc::unauthorized);
  CHECK(describe(wrong.error()) == describe(unknown.error()));
  // The second failure for the email reaches the limit: the right password is refused too.
  CHECK(code_of(login(email, "wrong again").error()) == errc::unauthorized);
  auto blocked = login(email, "correct horse");
  REQUIRE_FALSE(blocked);
  CHECK(code_of(blocked.error()) == errc::rate_limited);
}

TEST_CASE_METHOD(accounts_fixture,
                 "a registration whose tokens cannot be stored leaves no account behind",
                 "[accounts][redis][pg]") {
  test::stopped_service redis_down{"redis"};
  auto refused = sign_up(email, "correct horse");
  REQUIRE_FALSE(refused);
  CHECK(code_of(refused.error()) == errc::redis_unavailable);
  redis_down.start();
  // Not a 409: the retry registers once the Redis workers have reconnected.
  caf::expected<token_pair> reg = caf::make_error(errc::redis_unavailable);
  CHECK(test::eventually(20s, [&] {
    reg = sign_up(email, "correct horse");
    return reg || code_of(reg.error()) != errc::redis_unavailable;
  }));
  REQUIRE(reg);
  CHECK(login(email, "correct horse")->user_id == reg->user_id);
}

TEST_CASE_METHOD(accounts_fixture,
                 "every spelling of one address is one login: one lockout, one key, one lookup",
                 "[accounts][redis][pg]") {
  auto local = "kate-" + new_random_id();
  auto plain = local + "@example.com";
  auto kelvin = "\xE2\x84\xAA" + local.substr(1) + "@example.com";  // KELVIN SIGN for k
  std::string fullwidth_k = "\xEF\xBD\x8B";                          // FULLWIDTH k
  auto fullwidth = fullwidth_k + local.substr(1) + "@Example.com";
  auto reg = sign_up(plain, "correct horse");
  REQUIRE(reg);
  for (const auto& other : {kelvin, fullwidth}) {
    INFO(other);
    auto dup = sign_up(other, "another password");
    REQUIRE_FALSE(dup);
    CHECK(code_of(dup.error()) == errc::already_exists);
  }
  auto in = login(fullwidth, "correct horse");
  REQUIRE(in);
  CHECK(in->user_id == reg->user_id);
  // Invisible characters are refused, not folded away.
  auto zwsp = sign_up("ka\xE2\x80\x8Bte-" + new_random_id() + "@example.com", "correct horse");
  REQUIRE_FALSE(zwsp);
  CHECK(code_of(zwsp.error()) == errc::invalid_request);
  // Two failures lock the address whatever its spelling: no fresh budget per spelling.
  CHECK(code_of(login(kelvin, "wrong").error()) == errc::unauthorized);
  CHECK(code_of(login(plain, "wrong").error()) == errc::unauthorized);
  for (const auto& spelling : {plain, kelvin, fullwidth}) {
    INFO(spelling);
    auto blocked = login(spelling, "correct horse");
    REQUIRE_FALSE(blocked);
    CHECK(code_of(blocked.error()) == errc::rate_limited);
  }
}

TEST_CASE("migration 0003 keys existing logins by their canonical email", "[accounts][pg]") {
  pqxx::connection conn{test::create_fresh_database()};
  auto all = known_migrations();
  REQUIRE(all.size() >= 3);
  apply_migrations(conn, {all[0], all[1]});
  {
    pqxx::work tx{conn};
    // Rows the old rule (unique lower(email)) let in side by side.
    tx.exec("INSERT INTO accounts (user_id, email, password_hash) VALUES"
            " ('ascii', 'Bob@Example.com', 'h'),"
            " ('sharp', 'STRA\xC3\x9F" "E@example.com', 'h'),"
            " ('lookalike', '\xEF\xBC\xA2ob@example.com', 'h'),"  // FULLWIDTH B
            " ('invisible', 'zw\xE2\x80\x8Bsp@example.com', 'h')");
    tx.commit();
  }
  apply_migrations(conn);
  CHECK(accounts::backfill_email_keys(conn) == 1);
  CHECK(accounts::backfill_email_keys(conn) == 0);  // nothing left it could set
  pqxx::work tx{conn};
  auto key_of = [&tx](const std::string& id) {
    auto v = tx.exec_params1("SELECT email_key FROM accounts WHERE user_id = $1", id)[0];
    return v.is_null() ? std::string{"NULL"} : v.as<std::string>();
  };
  CHECK(key_of("ascii") == "bob@example.com");
  CHECK(key_of("sharp") == "strasse@example.com");
  CHECK(key_of("lookalike") == "NULL");  // bob@example.com is Bob's
  CHECK(key_of("invisible") == "NULL");
  // Existing logins stay reachable by any spelling, and keep their email as shown.
  auto bob = accounts::find_by_email(tx, "BOB@example.com");
  REQUIRE(bob);
  CHECK(bob->user_id == "ascii");
  CHECK(bob->email == "Bob@Example.com");
  auto sharp = accounts::find_by_email(tx, "strasse@EXAMPLE.com");
  REQUIRE(sharp);
  CHECK(sharp->user_id == "sharp");
  // The uniqueness is the canonical form's.
  CHECK(code_of(accounts::insert(tx, "Stra\xC3\x9F" "e@example.com", "h").error())
        == errc::already_exists);
  auto fresh = accounts::insert(tx, "\xEF\xBC\xA1nn@Example.com", "h");  // FULLWIDTH A
  REQUIRE(fresh);
  CHECK(fresh->email == "Ann@Example.com");  // NFKC, case kept
}
