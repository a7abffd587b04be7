-- Seeds the social benchmark into an empty, migrated database. psql variable :users
-- (at least 30). Ids are zero-padded so that their bytewise order is the numeric one.
--  * user i is friends with users i+1 .. i+10 (wrapping), so everyone has 20 friends;
--  * users i+11 and i+12 have asked user i to be friends (2 pending requests each);
--  * every user shared one page with all friends; about one recipient in seven has not
--    seen it yet (about 3 unread notifications per user).
\set ON_ERROR_STOP on

CREATE FUNCTION pg_temp.uid(i bigint) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT 'u' || lpad(i::text, 6, '0') $$;

INSERT INTO users (user_id, email, first_name, last_name, description)
SELECT pg_temp.uid(i), 'user' || i || '@bench.example', 'First' || (i % 997), 'Last' || i,
       'Benchmark user ' || i
  FROM generate_series(1, :users) i;

INSERT INTO friendships (user_low, user_high, requester, requested_at, accepted_at)
SELECT least(a, b), greatest(a, b), a, now() - interval '2 days', now() - interval '1 day'
  FROM (SELECT pg_temp.uid(i) AS a, pg_temp.uid((i + k - 1) % :users + 1) AS b
          FROM generate_series(1, :users) i, generate_series(1, 10) k) p;

INSERT INTO friendships (user_low, user_high, requester, requested_at)
SELECT least(a, b), greatest(a, b), b, now() - make_interval(mins => k)
  FROM (SELECT pg_temp.uid(i) AS a, pg_temp.uid((i + k - 1) % :users + 1) AS b, k
          FROM generate_series(1, :users) i, generate_series(11, 12) k) p;

INSERT INTO share_events (sender, sent_at, url, title)
SELECT pg_temp.uid(i), now() - make_interval(secs => i), 'https://bench.example/page/' || i,
       'Page ' || i
  FROM generate_series(1, :users) i;

INSERT INTO share_recipients (event_id, user_id, seen_at)
SELECT e.event_id, f.other_id,
       CASE WHEN abs(hashtext(e.event_id::text || f.other_id)) % 7 = 0 THEN NULL ELSE now() END
  FROM share_events e
  JOIN friend_edges f ON f.user_id = e.sender AND f.accepted_at IS NOT NULL;

ANALYZE;
