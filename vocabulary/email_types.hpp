// Values that cross actors on the way of an invitation e-mail from email_outbox to the
// SMTP server: the claimed row, the SMTP server's verdict, and what becomes of the row.
// Included by vocabulary/messages.hpp, which registers them.
#pragma once

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>

namespace tandem {

/// An email_outbox row claimed for sending (its lease runs; `attempts` counts this one).
struct outbox_email {
  int64_t id = 0;
  std::string sender_first_name;
  std::string sender_last_name;
  std::string recipient_email;
  int32_t attempts = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outbox_email& x) {
  return f(caf::meta::type_name("outbox_email"), x.id, x.sender_first_name, x.sender_last_name,
           x.recipient_email, x.attempts);
}

/// What one SMTP transaction came to.
struct smtp_verdict {
  enum kind_t : uint8_t {
    accepted,   ///< The server took the message (250 after DATA).
    transient,  ///< Try again later: no connection, a timeout, a 4xx reply.
    permanent,  ///< Never again: a 5xx reply, an address the client refuses.
  };
  uint8_t kind = transient;
  std::string detail;  ///< For last_error and logs; never carries credentials.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, smtp_verdict& x) {
  return f(caf::meta::type_name("smtp_verdict"), x.kind, x.detail);
}

/// What becomes of a claimed row after its send: sent, due again after `retry_in_ms`,
/// or failed for good. Each releases the claim.
struct email_settlement {
  enum kind_t : uint8_t { sent, retry, failed };
  int64_t id = 0;
  uint8_t kind = sent;
  std::string error;        ///< last_error for retry and failed
  int64_t retry_in_ms = 0;  ///< retry only
  /// The claim this ends (the row's attempts when claimed): a retry or failure of a
  /// claim that ran out and was taken over by another leaves the newer claim alone.
  int32_t attempt = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, email_settlement& x) {
  return f(caf::meta::type_name("email_settlement"), x.id, x.kind, x.error, x.retry_in_ms,
           x.attempt);
}

} // namespace tandem
