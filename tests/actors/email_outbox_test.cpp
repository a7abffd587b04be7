// What the outbox sender makes of a send's verdict (tests/e2e/test_email.py runs the
// sender against a real SMTP server and database).
#include "actors/email_outbox.hpp"

#include <catch2/catch.hpp>

using namespace tandem;
using std::chrono::milliseconds;

TEST_CASE("a send's verdict settles its row", "[email]") {
  email_outbox_settings s;
  s.max_attempts = 3;
  s.backoff_base = milliseconds(100);
  outbox_email e{7, "Ann", "Lee", "a@example.com", 1};
  auto sent = settle_after(e, {smtp_verdict::accepted, {}}, s);
  CHECK((sent.id == 7 && sent.kind == email_settlement::sent));
  auto retry = settle_after(e, {smtp_verdict::transient, "451 later"}, s);
  CHECK((retry.kind == email_settlement::retry && retry.retry_in_ms == 100));
  CHECK(retry.error == "451 later");
  // Each names the claim it ends, so that a claim taken over is left to its new holder.
  CHECK((sent.attempt == 1 && retry.attempt == 1));
  e.attempts = 2;
  CHECK(settle_after(e, {smtp_verdict::transient, ""}, s).retry_in_ms == 200);
  // The last attempt allowed, or a refusal for good, fails the row.
  e.attempts = 3;
  CHECK(settle_after(e, {smtp_verdict::transient, "451"}, s).kind == email_settlement::failed);
  e.attempts = 1;
  auto refused = settle_after(e, {smtp_verdict::permanent, std::string(2000, 'x')}, s);
  CHECK(refused.kind == email_settlement::failed);
  CHECK(refused.error.size() == 500);
  // However many attempts, a retry waits at most a day.
  s.max_attempts = 100;
  e.attempts = 99;
  CHECK(settle_after(e, {smtp_verdict::transient, ""}, s).retry_in_ms
        == longest_email_backoff.count());
}

TEST_CASE("a claim's lease outlasts the batch it covers", "[email]") {
  config::app_config cfg;
  cfg.smtp.batch = 4;
  cfg.smtp.timeout_ms = 1000;
  auto s = email_outbox_settings_from(cfg);
  CHECK(s.batch == 4);
  CHECK(s.lease == milliseconds(5000));
}
