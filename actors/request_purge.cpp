#include "actors/request_purge.hpp"

#include "config/log.hpp"

namespace tandem {

request_purge_settings request_purge_settings_from(const config::app_config& cfg) {
  request_purge_settings s;
  s.interval = std::chrono::seconds(cfg.users.request_purge_interval_s);
  s.batch = cfg.users.request_purge_batch;
  s.request_timeout = std::chrono::milliseconds(cfg.http.request_timeout_ms);
  return s;
}

request_purge_actor spawn_request_purge(caf::actor_system& sys, persistence::social_db db,
                                        request_purge_settings settings,
                                        std::shared_ptr<request_purge_counters> counters) {
  return sys.spawn([db, settings, counters](request_purge_actor::pointer self)
                     -> request_purge_actor::behavior_type {
    self->send(self, atom::purge_expired_requests_v);
    return {
      [self, db, settings, counters](atom::purge_expired_requests) {
        self->request(db, settings.request_timeout, atom::purge_expired_requests_v, settings.batch)
          .then(
            [self, settings, counters](int64_t n) {
              counters->purged += static_cast<uint64_t>(n);
              if (n >= settings.batch)
                self->send(self, atom::purge_expired_requests_v);
              else
                self->delayed_send(self, settings.interval, atom::purge_expired_requests_v);
            },
            [self, settings](caf::error& err) {
              log::warn("could not delete expired friend requests", {{"error", describe(err)}});
              self->delayed_send(self, settings.interval, atom::purge_expired_requests_v);
            });
      },
    };
  });
}

} // namespace tandem
