// Inbound WebSocket frames through a connection actor (actors/connection_actor.cpp), as
// the socket delivers them: rate limit, JSON decoding, the `action` routing and every
// action's fields, strikes and the close they lead to. The input is a sequence of
// text frames separated by 0xFF bytes. The actor runs under the deterministic
// scheduler with stand-ins for the user's actor, the registry and the chat registry
// that drop what they get (a request is answered with an error). Every frame the
// connection writes back must be JSON.
#include "actors/connection_actor.hpp"
#include "fuzz/fuzz_support.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>

namespace {

using namespace tandem;

/// The socket side: hands every written frame back for the JSON check.
struct checking_link : ws_link {
  bool accepted = false;
  bool closed = false;

  void accept() override {
    accepted = true;
  }
  void refuse(caf::error) override {
  }
  void write(std::vector<shared_frame> frames) override {
    for (const auto& f : frames)
      if (nlohmann::json::parse(f->text, nullptr, false).is_discarded())
        std::abort();  // a frame the client cannot parse
  }
  void read_more() override {
  }
  void close(uint16_t, std::string) override {
    closed = true;
  }
  void alarm(caf::timespan) override {
  }
};

caf::behavior registry_of(caf::event_based_actor* self, caf::actor user) {
  self->set_default_handler(caf::drop);
  return {[user](atom::open_connection, const std::string&, uint8_t, const caf::actor&) { return user; }};
}

struct peers {
  caf::actor user;
  caf::actor registry;
  caf::actor chats;
};

const peers& the_peers() {
  static const peers* p = [] {
    auto& sys = tandem_fuzz::deterministic_system::instance().sys;
    auto user = sys.spawn(tandem_fuzz::dropping_peer);
    return new peers{user, sys.spawn(registry_of, user), sys.spawn(tandem_fuzz::dropping_peer)};
  }();
  return *p;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto& ds = tandem_fuzz::deterministic_system::instance();
  const auto& p = the_peers();
  auto link = std::make_shared<checking_link>();
  connection_params params{"fuzz-user", event_kind::all,
                           caf::actor_cast<user_registry_actor>(p.registry), gateway_settings{},
                           std::chrono::seconds(5),
                           caf::actor_cast<conversation_registry_actor>(p.chats), 1000,
                           {}, 0, nullptr, nullptr};
  auto conn = ds.sys.spawn(connection_impl, std::move(params), std::shared_ptr<ws_link>{link});
  ds.sched.run();
  if (!link->accepted)
    std::abort();  // the stand-in registry always admits the connection
  caf::anon_send(conn, atom::websocket_opened_v);
  ds.sched.run();
  auto text = tandem_fuzz::text_of(data, size);
  std::size_t pos = 0;
  while (pos <= text.size() && !link->closed) {
    auto end = std::min(text.find('\xff', pos), text.size());
    caf::anon_send(conn, atom::websocket_frame_v, text.substr(pos, end - pos));
    ds.sched.run();
    caf::anon_send(conn, atom::websocket_sent_v);  // the socket wrote what it had
    ds.sched.run();
    pos = end + 1;
  }
  caf::anon_send(conn, atom::websocket_closed_v);  // the socket is gone: the actor ends
  ds.sched.run();
  // Timers still pending (requests long answered): fire them so that none piles up.
  ds.sched.trigger_timeouts();
  ds.sched.run();
  return 0;
}
