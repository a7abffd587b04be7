// The board of polled views: who may replace or withdraw a view, and paging rendered
// entries into one JSON array.
#include "wire/polled_views.hpp"

#include <catch2/catch.hpp>

using namespace tandem;

namespace {

std::shared_ptr<const polled_view> view_of(uint64_t owner, std::string requests) {
  auto v = std::make_shared<polled_view>();
  v->owner = owner;
  v->requests = std::move(requests);
  return v;
}

} // namespace

TEST_CASE("a view is replaced by its owner or a newer actor, never an older one",
          "[views]") {
  polled_views board;
  CHECK_FALSE(board.find("ann"));
  board.publish("ann", view_of(7, "[1]"));
  board.publish("ann", view_of(7, "[2]"));
  CHECK(board.find("ann")->requests == "[2]");
  // An actor on its way out (lower id) does not hide its successor's state.
  board.publish("ann", view_of(9, "[3]"));
  board.publish("ann", view_of(7, "[old]"));
  CHECK(board.find("ann")->requests == "[3]");
  CHECK(board.size() == 1);
}

TEST_CASE("only the actor that published a view withdraws it", "[views]") {
  polled_views board;
  board.publish("ann", view_of(9, "[]"));
  board.publish("bob", view_of(4, "[]"));
  board.withdraw("ann", 7);
  CHECK(board.find("ann"));
  board.withdraw("ann", 9);
  CHECK_FALSE(board.find("ann"));
  CHECK(board.find("bob"));
  CHECK(board.size() == 1);
}

TEST_CASE("finding a view counts a read of it", "[views]") {
  polled_views board;
  board.publish("ann", view_of(1, "[]"));
  board.find("ann");
  auto v = board.find("ann");
  CHECK(v->reads.load() == 2);
}

TEST_CASE("json_page joins the entries of a page into one array", "[views]") {
  std::vector<std::string> entries{"1", "{\"a\":2}", "3"};
  CHECK(json_page(entries, {10, 0}) == "[1,{\"a\":2},3]");
  CHECK(json_page(entries, {1, 1}) == "[{\"a\":2}]");
  CHECK(json_page(entries, {2, 2}) == "[3]");
  CHECK(json_page(entries, {5, 3}) == "[]");
  CHECK(json_page(entries, {0, 0}) == "[]");
  CHECK(json_page(entries, {5, 99}) == "[]");
  CHECK(json_page({}, {10, 0}) == "[]");
}
