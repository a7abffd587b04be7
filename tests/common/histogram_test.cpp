#include "common/histogram.hpp"

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

using tandem::histogram;

TEST_CASE("a histogram counts each value in the first bucket that holds it, cumulatively") {
  histogram h{{1, 10, 100}};
  for (uint64_t v : {0, 1, 2, 10, 11, 100, 101, 5000})
    h.observe(v);
  auto s = h.load();
  CHECK(s.bounds == std::vector<uint64_t>{1, 10, 100});
  CHECK(s.cumulative == std::vector<uint64_t>{2, 4, 6});
  CHECK(s.count == 8);
  CHECK(s.sum == 0 + 1 + 2 + 10 + 11 + 100 + 101 + 5000);
}

TEST_CASE("a histogram loses no observation recorded from several threads at once") {
  histogram h{{1, 2}};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i)
        h.observe(static_cast<uint64_t>(t));
    });
  for (auto& w : writers)
    w.join();
  auto s = h.load();
  CHECK(s.cumulative == std::vector<uint64_t>{20000, 30000});
  CHECK(s.count == 40000);
  CHECK(s.sum == 10000 * (0 + 1 + 2 + 3));
}
