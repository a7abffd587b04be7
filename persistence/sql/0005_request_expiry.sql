-- 0005_request_expiry: pending friend requests expire (users.request_ttl_s). A request
-- carries the time it expires from, set when it is made, so that changing the key
-- affects new requests only. An expired request is gone for every reader: friend_edges
-- leaves it out, the pending bounds do not count it, it cannot be accepted or declined,
-- and a new request of the pair replaces it. Expired rows are deleted by the nodes in
-- batches (users.request_purge_interval_s, users.request_purge_batch).
--
-- Requests pending before this migration expire 30 days (the key's default) after they
-- were made.
ALTER TABLE friendships ADD COLUMN expires_at timestamptz NULL;
UPDATE friendships SET expires_at = requested_at + interval '30 days' WHERE accepted_at IS NULL;
ALTER TABLE friendships ADD CONSTRAINT friendships_pending_expires
    CHECK (accepted_at IS NOT NULL OR expires_at IS NOT NULL);
-- The nodes set it on every request; the default serves other writers (a node not yet
-- upgraded, a seed script).
ALTER TABLE friendships ALTER COLUMN expires_at SET DEFAULT now() + interval '30 days';
-- The purge reads expired requests through this index.
CREATE INDEX friendships_pending_expiry_idx ON friendships (expires_at) WHERE accepted_at IS NULL;

-- 0001's columns plus expires_at; the filter is pushed into both branches with the
-- user_id one.
CREATE OR REPLACE VIEW friend_edges AS
    SELECT user_low AS user_id, user_high AS other_id, requester, requested_at, accepted_at,
           expires_at
      FROM friendships
     WHERE accepted_at IS NOT NULL OR expires_at > now()
    UNION ALL
    SELECT user_high AS user_id, user_low AS other_id, requester, requested_at, accepted_at,
           expires_at
      FROM friendships
     WHERE accepted_at IS NOT NULL OR expires_at > now();
