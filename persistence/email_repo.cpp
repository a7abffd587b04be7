#include "persistence/email_repo.hpp"

#include <algorithm>

namespace tandem::persistence::email_repo {

namespace {

// next_attempt_at defaults to now(): the sender picks the row up on its next pass.
constexpr const char* enqueue_sql =
  "INSERT INTO email_outbox (sender_user_id, sender_first_name, sender_last_name, "
  "recipient_email) VALUES ($1, $2, $3, $4) RETURNING id";

// The inner SELECT locks the rows it picks and skips those locked by a concurrent claim;
// the lease then keeps them out of later claims until it ends or the row is settled.
constexpr const char* claim_sql =
  "UPDATE email_outbox o "
  "   SET claimed_until = now() + $2 * interval '1 millisecond', attempts = o.attempts + 1 "
  "  FROM (SELECT id FROM email_outbox "
  "         WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now() "
  "           AND (claimed_until IS NULL OR claimed_until <= now()) "
  "         ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) due "
  " WHERE o.id = due.id "
  "RETURNING o.id, o.sender_first_name, o.sender_last_name, o.recipient_email, o.attempts";

constexpr const char* sent_sql =
  "UPDATE email_outbox SET sent_at = now(), failed_at = NULL, claimed_until = NULL, "
  "       last_error = NULL "
  " WHERE id = $1 AND sent_at IS NULL";

// A retry or failure applies only while the claim it ends is the row's newest: one that
// ran out and was claimed again belongs to the new claimer. A mail the server accepted
// is recorded whatever claim holds the row.
constexpr const char* retry_sql =
  "UPDATE email_outbox SET claimed_until = NULL, last_error = $2, "
  "       next_attempt_at = now() + $3 * interval '1 millisecond' "
  " WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL AND attempts = $4";

constexpr const char* failed_sql =
  "UPDATE email_outbox SET failed_at = now(), claimed_until = NULL, last_error = $2 "
  " WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL AND attempts = $3";

} // namespace

int64_t enqueue(pqxx::work& tx, const invitation& inv) {
  auto row = tx.exec_params1(enqueue_sql, inv.sender_user_id, inv.sender_first_name,
                             inv.sender_last_name, inv.recipient_email);
  return row[0].as<int64_t>();
}

std::vector<outbox_email> claim(pqxx::work& tx, int32_t batch, int64_t lease_ms) {
  std::vector<outbox_email> out;
  for (const auto& row : tx.exec_params(claim_sql, batch, lease_ms))
    out.push_back({row[0].as<int64_t>(), row[1].as<std::string>(), row[2].as<std::string>(),
                   row[3].as<std::string>(), row[4].as<int32_t>()});
  // RETURNING follows no ORDER BY: send the oldest first.
  std::sort(out.begin(), out.end(),
            [](const outbox_email& a, const outbox_email& b) { return a.id < b.id; });
  return out;
}

bool settle(pqxx::work& tx, const email_settlement& s) {
  pqxx::result r;
  switch (s.kind) {
    case email_settlement::sent:
      r = tx.exec_params(sent_sql, s.id);
      break;
    case email_settlement::retry:
      r = tx.exec_params(retry_sql, s.id, s.error, s.retry_in_ms, s.attempt);
      break;
    default:
      r = tx.exec_params(failed_sql, s.id, s.error, s.attempt);
      break;
  }
  return r.affected_rows() == 1;
}

} // namespace tandem::persistence::email_repo
