-- The soak's extra friendships, after bench/social/seed.sql (users u000001 .. :users, each
-- with 20 friends). psql variables: :users, :max_friends (users.max_friends), :online_first
-- and :online_last (the range of users the load generator keeps connected).
-- u000001, the presence flooder, gets friends up to :max_friends: ten of the connected users
-- (so that its flood reaches live sockets) and then users above the online range, offline
-- at the start (so that the flood's cost for offline friends shows too).
\set ON_ERROR_STOP on
CREATE FUNCTION pg_temp.uid(i bigint) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT 'u' || lpad(i::text, 6, '0') $$;

INSERT INTO friendships (user_low, user_high, requester, requested_at, accepted_at)
SELECT pg_temp.uid(1), pg_temp.uid(i), pg_temp.uid(1), now() - interval '2 days', now() - interval '1 day'
  FROM (SELECT i FROM generate_series(:online_first, :online_first + 9) i
        UNION ALL SELECT i FROM generate_series(:online_last + 1, :users) i) c
 WHERE NOT EXISTS (SELECT 1 FROM friendships f
                    WHERE f.user_low = pg_temp.uid(1) AND f.user_high = pg_temp.uid(c.i))
 ORDER BY i
 LIMIT greatest(0, :max_friends - (SELECT count(*) FROM friend_edges
                                     WHERE user_id = pg_temp.uid(1) AND accepted_at IS NOT NULL));
ANALYZE friendships;
