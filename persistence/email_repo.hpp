// SQL for the invitation e-mail outbox: POST /email queues, the outbox sender claims and
// settles. Free functions over one transaction, called by the database facade's workers.
#pragma once

#include "vocabulary/email_types.hpp"
#include "vocabulary/media_types.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <vector>

namespace tandem::persistence::email_repo {

/// Queues `inv` in email_outbox, due at once; replies the row's id.
int64_t enqueue(pqxx::work& tx, const invitation& inv);

/// Claims up to `batch` due rows (neither sent nor failed, next_attempt_at reached, no
/// running claim) for `lease_ms`, oldest due first, and counts the attempt. Rows another
/// transaction is claiming are skipped, so concurrent claims never share a row.
std::vector<outbox_email> claim(pqxx::work& tx, int32_t batch, int64_t lease_ms);

/// Records what became of a claimed row and releases its claim; a row already sent
/// stays sent, and a retry or failure of a claim that a newer one replaced changes
/// nothing. Replies whether the row was changed.
bool settle(pqxx::work& tx, const email_settlement& s);

} // namespace tandem::persistence::email_repo
