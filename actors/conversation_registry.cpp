#include "actors/conversation_registry.hpp"

#include "actors/key_sweep.hpp"
#include "common/token_bucket.hpp"

#include <cmath>
#include <string>
#include <utility>

namespace tandem {

namespace {

struct conversation_registry_state {
  persistence::chat_db db;
  persistence::message_writer_actor writer;
  user_registry_actor users;
  chat_settings settings;
  keyed_actors<conversation_actor, cluster::cluster_placement> actors{"conversation"};
  keyed_token_buckets<std::string> messages;       ///< chat.rate_per_s, chat.rate_burst
  keyed_token_buckets<std::string> conversations;  ///< chat.conversations_per_hour, _burst

  static inline const char* name = "tandem.conversation_registry";
};

using self_pointer = conversation_registry_actor::stateful_pointer<conversation_registry_state>;

conversation_registry_actor::behavior_type
conversation_registry_impl(self_pointer self, persistence::chat_db db,
                           persistence::message_writer_actor writer, user_registry_actor users,
                           chat_settings settings, std::shared_ptr<registry_counters> counters,
                           cluster::cluster_placement placement) {
  auto& st = self->state;
  st.db = std::move(db);
  st.writer = std::move(writer);
  st.users = std::move(users);
  st.settings = settings;
  st.messages = {static_cast<double>(settings.rate_per_s),
                 static_cast<double>(settings.rate_burst)};
  st.conversations = {settings.conversations_per_hour / 3600.0,
                      static_cast<double>(settings.conversations_burst)};
  st.actors.setup(
    [self](const std::string& id) {
      auto& st = self->state;
      return self->spawn(conversation_impl, id, st.db, st.writer, st.users, st.settings,
                         conversation_registry_actor{self});
    },
    std::move(counters), std::move(placement));
  self->set_down_handler([self](caf::down_msg& msg) { self->state.actors.on_down(msg); });
  schedule_sweeps(self);
  auto route = [self](const std::string& id, auto... xs) {
    return self->state.actors.route(self, id, xs...);
  };
  return {
    [self, route](atom::send_message a, const std::string& id, const std::string& sender,
                  const std::string& temp_id,
                  const std::string& content) -> caf::result<chat_message> {
      // The sender's budget is taken where the send came in, not again at its home.
      if (!self->state.actors.from_peer(self)
          && self->state.messages.take(sender, self->clock().now()) > 0)
        return caf::make_error(errc::rate_limited,
                               "Rate limit exceeded: at most "
                                 + std::to_string(self->state.settings.rate_per_s)
                                 + " messages per second");
      return route(id, a, id, sender, temp_id, content);
    },
    [route](atom::mark_read a, const std::string& id, const std::string& reader) {
      return route(id, a, id, reader);
    },
    [route](atom::typing a, const std::string& id, const std::string& user) {
      return route(id, a, id, user);
    },
    [route](atom::leave_conversation a, const std::string& id, const std::string& user) {
      return route(id, a, id, user);
    },
    [route](atom::messages_after a, const std::string& id, const std::string& caller,
            int64_t after, int32_t limit) { return route(id, a, id, caller, after, limit); },
    [self](atom::create_conversation, const std::string& user) -> caf::result<bool> {
      auto wait = self->state.conversations.take(user, self->clock().now());
      if (wait > 0)
        return caf::make_error(errc::rate_limited,
                               "Too many new conversations; try again later",
                               static_cast<int64_t>(std::ceil(wait)));
      return true;
    },
    [self](atom::idle, const std::string& id, uint64_t handled) {
      self->state.actors.on_idle(self, id, handled);
    },
    [self](atom::stop_serving) { self->state.actors.stop_all(self); },
    [self](atom::hand_over) {
      self->state.actors.hand_over(self);
      return self->state.actors.when_settled(self);
    },
    [self](atom::node_gone, const node_identity& gone) {
      // Its conversations are claimed now, not when a client's retry reaches them: a
      // client stuck on a socket of a paused node retries only when it gives up on it.
      auto& st = self->state;
      self
        ->request(st.db, st.settings.request_timeout, atom::owned_conversations_v, gone,
                  std::string{}, st.settings.takeover_limit)
        .then(
          [self](const std::vector<owned_key>& owned) {
            std::vector<std::string> keys;
            keys.reserve(owned.size());
            for (const auto& k : owned)
              keys.push_back(k.key);
            auto started = self->state.actors.adopt(self, keys);
            if (started > 0)
              log::info("took over conversations of a node that left",
                        {{"conversations", started}});
          },
          [gone](caf::error& err) {
            log::warn("could not list the conversations of a node that left; they are "
                      "claimed as they are used",
                      {{"node", gone.id}, {"error", describe(err)}});
          });
    },
    [self](atom::sweep_keys, const std::string& after) {
      sweep_keys(self, atom::owned_conversations_v, atom::release_conversations_v,
                 "conversation", after);
    },
  };
}

} // namespace

conversation_registry_actor spawn_conversation_registry(
  caf::actor_system& sys, persistence::chat_db db, persistence::message_writer_actor writer,
  user_registry_actor users, chat_settings settings, std::shared_ptr<registry_counters> counters,
  cluster::cluster_placement placement) {
  return sys.spawn(conversation_registry_impl, std::move(db), std::move(writer), std::move(users),
                   settings, std::move(counters), std::move(placement));
}

} // namespace tandem
