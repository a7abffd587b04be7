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

TEST_CASE("retry delays double from the base up to the cap", "[backoff]") {
  using tandem::persistence::doubling_delay;
  using std::chrono::milliseconds;
  CHECK(doubling_delay(100ms, 1, 1000ms) == 100ms);
  CHECK(doubling_delay(100ms, 2, 1000ms) == 200ms);
  CHECK(doubling_delay(100ms, 4, 1000ms) == 800ms);
  CHECK(doubling_delay(100ms, 5, 1000ms) == 1000ms);
  // Many failures neither overflow nor pass the cap; a base over the cap is the cap.
  constexpr milliseconds day = std::chrono::hours(24);
  CHECK(doubling_delay(day, 100, day) == day);
  CHECK(doubling_delay(milliseconds(1), 1000, day) == day);
  CHECK(doubling_delay(5000ms, 1, 1000ms) == 1000ms);
}
