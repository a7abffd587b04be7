#include "persistence/email_repo.hpp"

namespace tandem::persistence::email_repo {

namespace {

// next_attempt_at defaults to now(): the sender picks the row up on its next pass.
constexpr const char* enqueue_sql =
  "INSERT INTO email_outbox (sender_user_id, sender_first_name, sender_last_name, "
  "recipient_email) VALUES ($1, $2, $3, $4) RETURNING id";

} // namespace

int64_t enqueue(pqxx::work& tx, const invitation& inv) {
  auto row = tx.exec_params1(enqueue_sql, inv.sender_user_id, inv.sender_first_name,
                             inv.sender_last_name, inv.recipient_email);
  return row[0].as<int64_t>();
}

} // namespace tandem::persistence::email_repo
