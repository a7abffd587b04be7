// SQL for the invitation e-mail outbox (POST /email): free functions over one
// transaction, called by the database facade's workers.
#pragma once

#include "vocabulary/media_types.hpp"

#include <pqxx/pqxx>

#include <cstdint>

namespace tandem::persistence::email_repo {

/// Queues `inv` in email_outbox, due at once; replies the row's id.
int64_t enqueue(pqxx::work& tx, const invitation& inv);

} // namespace tandem::persistence::email_repo
