// The board of polled views: who may replace or withdraw a view, and paging rendered
// entries into one JSON array.
#include "wire/polled_views.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

using namespace tandem;

namespace {

std::shared_ptr<const polled_view> view_of(uint64_t owner, std::string requests) {
  auto v = std::make_shared<polled_view>();
  v->owner = owner;
  v->requests = std::make_shared<const std::string>(std::move(requests));
  return v;
}

} // namespace

TEST_CASE("a view is replaced by its owner or a newer actor, never an older one",
          "[views]") {
  polled_views board;
  CHECK_FALSE(board.find("ann"));
  board.publish("ann", view_of(7, "[1]"));
  board.publish("ann", view_of(7, "[2]"));
  CHECK(*board.find("ann")->requests == "[2]");
  // An actor on its way out (lower id) does not hide its successor's state.
  board.publish("ann", view_of(9, "[3]"));
  board.publish("ann", view_of(7, "[old]"));
  CHECK(*board.find("ann")->requests == "[3]");
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
  auto entries = json_entries::of({"1", "{\"a\":2}", "3"});
  CHECK(json_page(entries, {10, 0}) == "[1,{\"a\":2},3]");
  CHECK(json_page(entries, {1, 1}) == "[{\"a\":2}]");
  CHECK(json_page(entries, {2, 2}) == "[3]");
  CHECK(json_page(entries, {5, 3}) == "[]");
  CHECK(json_page(entries, {0, 0}) == "[]");
  CHECK(json_page(entries, {5, 99}) == "[]");
  CHECK(json_page({}, {10, 0}) == "[]");
}

namespace {

std::vector<std::string> texts(const json_entries& entries) {
  return {entries.begin(), entries.end()};
}

using strings = std::vector<std::string>;

} // namespace

TEST_CASE("json entries insert into a new list and leave the old one as it was", "[views]") {
  auto abc = json_entries::of({"a", "b", "c"});
  auto front = abc.inserted(0, "x");
  auto middle = abc.inserted(2, "y");
  auto back = abc.inserted(3, "z");
  auto past = abc.inserted(9, "w"); // clipped to the end
  CHECK(texts(abc) == strings{"a", "b", "c"});
  CHECK(texts(front) == strings{"x", "a", "b", "c"});
  CHECK(texts(middle) == strings{"a", "b", "y", "c"});
  CHECK(texts(back) == strings{"a", "b", "c", "z"});
  CHECK(texts(past) == strings{"a", "b", "c", "w"});
  CHECK(front.size() == 4);
  CHECK(front.front() == "x");
  // Behind the new entry, the very strings of the old list; before it, copies.
  CHECK(&*std::next(front.begin()) == &abc.front());
  CHECK(&*std::next(middle.begin(), 3) == &*std::next(abc.begin(), 2));
  CHECK(&middle.front() != &abc.front());
  CHECK(json_entries{}.empty());
  CHECK(texts(json_entries{}.inserted(0, "a")) == strings{"a"});
}

TEST_CASE("json entries cut to their first entries, and the cut-off nodes do not pile up",
          "[views]") {
  auto abc = json_entries::of({"a", "b", "c"});
  CHECK(texts(abc.first(2)) == strings{"a", "b"});
  CHECK(texts(abc.first(0)).empty());
  CHECK(abc.first(0).empty());
  CHECK(texts(abc.first(7)) == strings{"a", "b", "c"});
  CHECK(&abc.first(2).front() == &abc.front()); // a few cut off: still shared

  // A full list taking a new entry in front and dropping its last, over and over, as
  // a user's unread entries at the cache limit do: it holds the newest entries, and
  // keeps alive no more than about twice as many nodes.
  std::vector<std::string> first_ten;
  for (int i = 9; i >= 0; --i)
    first_ten.push_back(std::to_string(i));
  auto list = json_entries::of(first_ten);
  std::size_t most_held = 0;
  for (int i = 10; i < 1000; ++i) {
    list = list.inserted(0, std::to_string(i)).first(10);
    most_held = std::max(most_held, list.held());
  }
  CHECK(texts(list) == strings{"999", "998", "997", "996", "995", "994", "993", "992", "991",
                               "990"});
  CHECK(most_held <= 2 * 10 + 16);
  CHECK(json_entries::of(first_ten).first(0).held() == 10); // cut off, not copied
}

TEST_CASE("a long list of json entries is freed without deep recursion", "[views]") {
  json_entries list;
  for (int i = 0; i < 1000000; ++i)
    list = list.inserted(0, "{}");
  CHECK(list.size() == 1000000);
  list = json_entries{}; // would overflow the stack if each node freed the next recursively
  CHECK(list.empty());
}
