#include "persistence/redis.hpp"

#include "persistence/redis_session.hpp"

#include <algorithm>

namespace tandem::persistence {

namespace {

struct redis_state {
  std::optional<worker_pool<redis_session, redis_actor::base>> pool;
  static inline const char* name = "tandem.redis";
};

redis_actor::behavior_type redis_impl(redis_actor::stateful_pointer<redis_state> self,
                                      config::redis_config cfg,
                                      std::shared_ptr<pool_gauges> gauges) {
  auto size = static_cast<std::size_t>(std::max(cfg.pool_size, 1));
  pool_settings settings{"redis", size, cfg.queue_limit};
  settings.gauges = std::move(gauges);
  self->state.pool.emplace(self, std::move(settings), redis_worker_factory(cfg));
  return {
    [self](atom::ping) {
      return self->state.pool->submit("PING", [](redis_session& s) -> caf::expected<bool> {
        if (auto reply = s.command({"PING"}); !reply)
          return std::move(reply.error());
        return true;
      });
    },
    [self](atom::command, std::vector<std::string>& args) -> caf::result<redis_reply> {
      if (args.empty())
        return caf::make_error(errc::invalid_request, "empty redis command");
      // The command name only: arguments may be tokens.
      auto name = args.front();
      return self->state.pool->submit(std::move(name), [args = std::move(args)](redis_session& s) {
        return s.command(args);
      });
    },
    [self](atom::command, std::vector<std::vector<std::string>>& commands)
      -> caf::result<std::vector<redis_reply>> {
      if (commands.empty())
        return caf::make_error(errc::invalid_request, "empty redis pipeline");
      return self->state.pool->submit(
        "pipeline", [commands = std::move(commands)](redis_session& s) {
          return s.pipeline(commands);
        });
    },
    [self](atom::stats) { return self->state.pool->stats(); },
  };
}

} // namespace

redis_actor spawn_redis(caf::actor_system& sys, const config::redis_config& cfg,
                        std::shared_ptr<pool_gauges> gauges) {
  return sys.spawn(redis_impl, cfg, std::move(gauges));
}

} // namespace tandem::persistence
