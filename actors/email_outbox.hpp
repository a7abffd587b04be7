// Sends the invitation e-mails queued in email_outbox (smtp.*). Each node runs one
// sender: it claims due rows in batches (a lease in the database keeps two nodes from
// claiming one row), hands them one by one to the SMTP worker, and settles each row as
// soon as its verdict is in: sent, due again after a doubling backoff, or failed after
// smtp.max_attempts sends (a 5xx reply fails it at once).
//
// Delivery is at least once: a node that dies between the server's acceptance and the
// row's sent_at leaves the row claimed, and it is sent again once the lease has run out
// (the same Message-ID each time, so a receiving system can drop the duplicate). The
// lease outlasts the batch, (smtp.batch + 1) x smtp.timeout_ms, so that a living node
// never loses its claim while it is still sending.
#pragma once

#include "config/app_config.hpp"
#include "persistence/db.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace tandem {

/// The sender's own timer: look for due rows now.
using email_outbox_actor = caf::typed_actor<caf::reacts_to<atom::tick>>;

struct email_outbox_settings {
  int32_t batch = 50;                                   ///< smtp.batch
  caf::timespan poll_interval = std::chrono::seconds(5);  ///< smtp.poll_interval_ms
  int32_t max_attempts = 8;                             ///< smtp.max_attempts
  std::chrono::milliseconds backoff_base{60000};        ///< smtp.backoff_base_ms
  std::chrono::milliseconds lease{0};                   ///< how long a claim holds
  caf::timespan db_timeout = std::chrono::seconds(5);   ///< http.request_timeout_ms
};

email_outbox_settings email_outbox_settings_from(const config::app_config& cfg);

/// Longest wait before a retry, whatever smtp.backoff_base_ms and the attempts.
inline constexpr std::chrono::milliseconds longest_email_backoff = std::chrono::hours(24);

/// Mails handled since start, for /metrics.
struct email_outbox_counters {
  std::atomic<uint64_t> sent{0};     ///< accepted by the SMTP server
  std::atomic<uint64_t> retried{0};  ///< refused for now, due again later
  std::atomic<uint64_t> failed{0};   ///< given up on
};

/// What becomes of a claimed row after its send ended with `verdict`.
email_settlement settle_after(const outbox_email& e, const smtp_verdict& verdict,
                              const email_outbox_settings& settings);

/// Starts the sender and its SMTP worker (cfg.smtp) unless smtp.url is empty, and
/// returns it (an empty handle when off). It stops when `db` stops.
email_outbox_actor spawn_email_outbox(caf::actor_system& sys, persistence::db_actor db,
                                      const config::app_config& cfg,
                                      std::shared_ptr<email_outbox_counters> counters);

} // namespace tandem
