#include "actors/email_outbox.hpp"

#include "common/backoff.hpp"
#include "config/log.hpp"
#include "persistence/smtp.hpp"

namespace tandem {

namespace {

/// last_error keeps this much of a verdict's detail.
constexpr std::size_t max_error_bytes = 500;

struct outbox_state {
  std::size_t unsettled = 0;  ///< rows of the current batch not settled yet
  bool full_batch = false;    ///< the current batch was full: more may be due
  static inline const char* name = "tandem.email_outbox";
};

using outbox_pointer = email_outbox_actor::stateful_pointer<outbox_state>;

} // namespace

email_outbox_settings email_outbox_settings_from(const config::app_config& cfg) {
  email_outbox_settings s;
  s.batch = cfg.smtp.batch;
  s.poll_interval = std::chrono::milliseconds(cfg.smtp.poll_interval_ms);
  s.max_attempts = cfg.smtp.max_attempts;
  s.backoff_base = std::chrono::milliseconds(cfg.smtp.backoff_base_ms);
  // Sends run one after the other, each within smtp.timeout_ms: the last of a batch
  // ends within batch x timeout, and one timeout more covers the database round trips.
  s.lease = std::chrono::milliseconds(int64_t{cfg.smtp.timeout_ms} * (cfg.smtp.batch + 1));
  s.db_timeout = std::chrono::milliseconds(cfg.http.request_timeout_ms);
  return s;
}

email_settlement settle_after(const outbox_email& e, const smtp_verdict& verdict,
                              const email_outbox_settings& settings) {
  if (verdict.kind == smtp_verdict::accepted)
    return {e.id, email_settlement::sent, {}, 0, e.attempts};
  auto error = verdict.detail.substr(0, max_error_bytes);
  if (verdict.kind == smtp_verdict::permanent || e.attempts >= settings.max_attempts)
    return {e.id, email_settlement::failed, std::move(error), 0, e.attempts};
  auto wait = persistence::doubling_delay(settings.backoff_base, e.attempts,
                                          longest_email_backoff);
  return {e.id, email_settlement::retry, std::move(error), wait.count(), e.attempts};
}

email_outbox_actor spawn_email_outbox(caf::actor_system& sys, persistence::db_actor db,
                                      const config::app_config& cfg,
                                      std::shared_ptr<email_outbox_counters> counters) {
  if (cfg.smtp.url.empty()) {
    log::info("e-mail outbox off: smtp.url is empty");
    return {};
  }
  auto settings = email_outbox_settings_from(cfg);
  auto smtp = persistence::spawn_smtp(sys, cfg.smtp, static_cast<std::size_t>(settings.batch));
  auto impl = [db, smtp, settings, counters](outbox_pointer self)
    -> email_outbox_actor::behavior_type {
    // The SMTP worker is this sender's alone; the sender has nothing to do without the
    // database, and stops with it (the node stops the database facade on shutdown).
    self->attach_functor([smtp] { caf::anon_send_exit(smtp, caf::exit_reason::user_shutdown); });
    self->monitor(db);
    self->set_down_handler([self](caf::down_msg&) { self->quit(); });

    auto batch_done = [self, settings] {
      if (self->state.full_batch)
        self->send(self, atom::tick_v);
      else
        self->delayed_send(self, settings.poll_interval, atom::tick_v);
    };
    auto settle = [self, db, settings, counters, batch_done](const outbox_email& e,
                                                              const smtp_verdict& verdict) {
      auto s = settle_after(e, verdict, settings);
      auto& counter = s.kind == email_settlement::sent    ? counters->sent
                      : s.kind == email_settlement::retry ? counters->retried
                                                          : counters->failed;
      ++counter;
      if (s.kind != email_settlement::sent)
        log::warn("invitation e-mail not sent",
                  {{"id", e.id}, {"attempts", e.attempts}, {"error", s.error},
                   {"outcome", s.kind == email_settlement::retry ? "retry" : "failed"}});
      auto done = [self, batch_done] {
        if (--self->state.unsettled == 0)
          batch_done();
      };
      self->request(db, settings.db_timeout, atom::settle_email_v, s)
        .then([done](bool) { done(); },
              [done, id = e.id](caf::error& err) {
                // The row stays claimed: it is tried again when its lease has run out.
                log::warn("could not settle an outbox e-mail",
                          {{"id", id}, {"error", describe(err)}});
                done();
              });
    };
    self->send(self, atom::tick_v);
    return {
      [self, db, smtp, settings, settle](atom::tick) {
        if (self->state.unsettled > 0)
          return;
        self->request(db, settings.db_timeout, atom::claim_emails_v, settings.batch,
                      static_cast<int64_t>(settings.lease.count()))
          .then(
            [self, smtp, settings, settle](std::vector<outbox_email>& due) {
              if (due.empty()) {
                self->delayed_send(self, settings.poll_interval, atom::tick_v);
                return;
              }
              self->state.unsettled = due.size();
              self->state.full_batch = due.size() >= static_cast<std::size_t>(settings.batch);
              // No timeout: every send ends within smtp.timeout_ms, and giving up on one
              // here would retry a mail that the server may yet accept.
              for (auto& e : due)
                self->request(smtp, caf::infinite, atom::send_email_v, e)
                  .then([settle, e](smtp_verdict& v) { settle(e, v); },
                        [settle, e](caf::error& err) {
                          settle(e, {smtp_verdict::transient, describe(err)});
                        });
            },
            [self, settings](caf::error& err) {
              log::warn("could not claim outbox e-mails", {{"error", describe(err)}});
              self->delayed_send(self, settings.poll_interval, atom::tick_v);
            });
      },
    };
  };
  log::info("e-mail outbox on", {{"batch", settings.batch}, {"max_attempts", settings.max_attempts}});
  return sys.spawn(impl);
}

} // namespace tandem
