// Which event kinds each WebSocket path's connections subscribe to.
#include "actors/connection_actor.hpp"

#include <catch2/catch.hpp>

using namespace tandem;

TEST_CASE("each WebSocket path subscribes to its event kinds", "[presence]") {
  CHECK(subscriptions_of("/ws") == event_kind::all);
  CHECK(subscriptions_of("/ws/chat") == event_kind::chat);
  CHECK(subscriptions_of("/ws/presence") == (event_kind::presence | event_kind::social));
  CHECK(subscriptions_of("/ws/other") == 0);
}
