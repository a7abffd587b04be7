// What the test command (scripts/test) provides to integration and e2e tests:
// the addresses of its private PostgreSQL and Redis and a way to stop and start them.
#pragma once

#include <cstdint>
#include <string>

namespace tandem::test {

/// The value of a required TANDEM_TEST_* variable; fails the test (never skips)
/// when it is missing, naming the command that sets it.
std::string required_env(const char* name);

/// libpq DSN of the test server's maintenance database (TANDEM_TEST_PG_DSN).
std::string pg_admin_dsn();

/// Creates an empty database with a unique name and returns its DSN.
std::string create_fresh_database();

std::string redis_host();
uint16_t redis_port();

/// Runs `$TANDEM_TEST_SERVICES <verb>` (pg-stop, pg-start, redis-stop, redis-start)
/// and fails the test if it does not exit 0.
void services(const std::string& verb);

} // namespace tandem::test
