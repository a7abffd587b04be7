// The SMTP side of the e-mail outbox: a facade actor over a worker pool whose one
// detached worker owns a libcurl SMTP session (libcurl blocks its thread), and the
// invitation mail as it is written.
#pragma once

#include "vocabulary/messages.hpp"
#include "config/app_config.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace tandem::persistence {

/// Sends one claimed outbox row as an invitation mail and replies the server's verdict
/// (never an error: a failed send is a `transient` or `permanent` verdict). Each send
/// ends within smtp.timeout_ms.
using smtp_actor = caf::typed_actor<
  caf::replies_to<atom::send_email, outbox_email>::with<smtp_verdict>>;

/// Spawns the facade and its worker. Sends run one at a time over one connection, which
/// libcurl keeps open between them; at most `queue_limit` wait. The SMTP settings are
/// `cfg`'s (smtp.url must be set).
smtp_actor spawn_smtp(caf::actor_system& sys, const config::smtp_config& cfg,
                      std::size_t queue_limit);

/// The invitation mail of `e` from `from`, as sent: RFC 5322 headers (the subject as
/// RFC 2047 encoded words, since the sender's names are UTF-8), a Message-ID that every
/// send of the row repeats, and a base64 UTF-8 text body.
std::string compose_invitation(const outbox_email& e, const std::string& from,
                               std::chrono::system_clock::time_point now);

} // namespace tandem::persistence
