-- 0007_email_delivery: the outbox is sent (smtp.*). A node claims due rows in batches:
-- claimed_until is a lease, set in the statement that picks the rows with FOR UPDATE
-- SKIP LOCKED, so that two nodes never claim one row at once; attempts counts the
-- claims. After each send the row is settled: sent_at, or a retry (next_attempt_at after
-- a doubling backoff), or failed_at once smtp.max_attempts sends were refused; each
-- releases the claim.
--
-- Delivery is at least once: a node that dies after the server accepted a mail and
-- before sent_at is written leaves the row claimed, and it is sent again once the lease
-- ran out. Every send of a row carries the same Message-ID, which lets a receiving system
-- drop the duplicate.
ALTER TABLE email_outbox ADD COLUMN failed_at timestamptz NULL;
ALTER TABLE email_outbox ADD COLUMN claimed_until timestamptz NULL;
-- Due rows: neither sent nor failed, in the order they fall due. Claimed ones stay in
-- the index; the claim filters them out (there are at most a batch per node).
DROP INDEX email_outbox_unsent_idx;
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND failed_at IS NULL;
