// The reconnect backoff shared by the database and Redis workers.
#include "common/backoff.hpp"

#include <catch2/catch.hpp>

using tandem::persistence::reconnect_backoff;
using namespace std::chrono_literals;

TEST_CASE("reconnect backoff waits 100 ms after a failure, doubling up to 5 s", "[backoff]") {
  reconnect_backoff backoff;
  auto now = reconnect_backoff::clock::now();
  CHECK(backoff.may_attempt(now));

  CHECK(backoff.failed(now) == 100ms);
  CHECK_FALSE(backoff.may_attempt(now + 99ms));
  CHECK(backoff.may_attempt(now + 100ms));

  std::vector<reconnect_backoff::clock::duration> waits;
  for (int i = 0; i < 7; ++i)
    waits.push_back(backoff.failed(now));
  CHECK(waits == std::vector<reconnect_backoff::clock::duration>{200ms, 400ms, 800ms, 1600ms,
                                                                   3200ms, 5s, 5s});
  CHECK_FALSE(backoff.may_attempt(now + 4999ms));
  CHECK(backoff.may_attempt(now + 5s));
}

TEST_CASE("a successful connection resets the reconnect backoff", "[backoff]") {
  reconnect_backoff backoff;
  auto now = reconnect_backoff::clock::now();
  backoff.failed(now);
  backoff.failed(now);
  backoff.succeeded();
  CHECK(backoff.may_attempt(now));
  CHECK(backoff.failed(now) == 100ms);
}
