#include "common/token_bucket.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace std::chrono_literals;
using tandem::keyed_token_buckets;
using tandem::token_bucket;

namespace {
const token_bucket::time_point t0{};
} // namespace

TEST_CASE("a token bucket gives its burst at once, then its rate") {
  token_bucket b{2, 3, t0};
  CHECK(b.take(t0) == 0);
  CHECK(b.take(t0) == 0);
  CHECK(b.take(t0) == 0);
  // Empty: the next token is half a second away at 2 a second.
  CHECK(b.take(t0) == Approx(0.5));
  CHECK(b.take(t0 + 250ms) == Approx(0.25));
  CHECK(b.take(t0 + 500ms) == 0);
  // Refilling never exceeds the burst.
  CHECK(b.full_at(t0 + 1h));
  for (int i = 0; i < 3; ++i)
    CHECK(b.take(t0 + 1h) == 0);
  CHECK(b.take(t0 + 1h) > 0);
}

TEST_CASE("keyed buckets keep one budget per key") {
  keyed_token_buckets<std::string> budgets{1, 1};
  CHECK(budgets.take("ann", t0) == 0);
  CHECK(budgets.take("ann", t0) == Approx(1.0));
  CHECK(budgets.take("bob", t0) == 0);
  CHECK(budgets.size() == 2);
}

TEST_CASE("keyed buckets drop full buckets once the map has grown") {
  keyed_token_buckets<int> budgets{1, 1};
  for (int key = 0; key < 10000; ++key)
    REQUIRE(budgets.take(key, t0) == 0);
  CHECK(budgets.size() == 10000);
  // A second later every bucket is full again: the next take prunes them all.
  CHECK(budgets.take(-1, t0 + 1s) == 0);
  CHECK(budgets.size() == 1);
}
