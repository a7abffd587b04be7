#include "tests/support/test_env.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <unistd.h>

namespace tandem::test {

std::string required_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0')
    FAIL(name << " is not set: run the tests with scripts/test, which starts PostgreSQL and "
                 "Redis and sets it");
  return value;
}

std::string pg_admin_dsn() {
  return required_env("TANDEM_TEST_PG_DSN");
}

std::string create_fresh_database() {
  static std::atomic<int> counter{0};
  auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  auto name = "tandem_t" + std::to_string(::getpid()) + "_" + std::to_string(stamp % 1000000000)
              + "_" + std::to_string(counter++);
  pqxx::connection admin{pg_admin_dsn()};
  pqxx::nontransaction tx{admin};
  tx.exec("CREATE DATABASE " + tx.quote_name(name));
  return pg_admin_dsn() + " dbname=" + name;
}

std::string redis_host() {
  return required_env("TANDEM_TEST_REDIS_HOST");
}

uint16_t redis_port() {
  return static_cast<uint16_t>(std::stoi(required_env("TANDEM_TEST_REDIS_PORT")));
}

void services(const std::string& verb) {
  auto cmd = required_env("TANDEM_TEST_SERVICES") + " " + verb;
  INFO("running " << cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
}

} // namespace tandem::test
