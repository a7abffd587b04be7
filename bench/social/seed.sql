-- Seeds the social benchmark into an empty, migrated database. psql variable :users
-- (more than 2 * (half_friends + pending)). Ids are zero-padded so that their bytewise
-- order is the numeric one.
--  * user i is friends with users i+1 .. i+10 (wrapping), so everyone has 20 friends;
--  * users i+11 and i+12 (the next :pending after the friends) have asked user i to be friends (2 pending requests each);
--  * every user shared one page with all friends; about one recipient in seven has not
--    seen it yet (about 3 unread notifications per user).
-- Optional psql variables change those numbers for other benchmarks (bench/realtime):
-- :half_friends (10; everyone has twice as many friends), :pending (2), :shares (1 or 0),
-- :shares_each (1: pages every user shared with all friends), :unread_one_in (7: one
-- recipient in that many has not seen a share; 1: none has) and :share_mode (the column
-- default, default_none, unless set).
\set ON_ERROR_STOP on
\if :{?half_friends} \else \set half_friends 10 \endif
\if :{?pending} \else \set pending 2 \endif
\if :{?shares} \else \set shares 1 \endif
\if :{?shares_each} \else \set shares_each 1 \endif
\if :{?unread_one_in} \else \set unread_one_in 7 \endif
\if :{?share_mode} \else \set share_mode default_none \endif

CREATE FUNCTION pg_temp.uid(i bigint) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT 'u' || lpad(i::text, 6, '0') $$;

INSERT INTO users (user_id, email, first_name, last_name, description, share_mode)
SELECT pg_temp.uid(i), 'user' || i || '@bench.example', 'First' || (i % 997), 'Last' || i,
       'Benchmark user ' || i, :'share_mode'
  FROM generate_series(1, :users) i;

INSERT INTO friendships (user_low, user_high, requester, requested_at, accepted_at)
SELECT least(a, b), greatest(a, b), a, now() - interval '2 days', now() - interval '1 day'
  FROM (SELECT pg_temp.uid(i) AS a, pg_temp.uid((i + k - 1) % :users + 1) AS b
          FROM generate_series(1, :users) i, generate_series(1, :half_friends) k) p;

INSERT INTO friendships (user_low, user_high, requester, requested_at)
SELECT least(a, b), greatest(a, b), b, now() - make_interval(mins => k)
  FROM (SELECT pg_temp.uid(i) AS a, pg_temp.uid((i + k - 1) % :users + 1) AS b, k
          FROM generate_series(1, :users) i,
               generate_series(:half_friends + 1, :half_friends + :pending) k) p;

\if :shares
INSERT INTO share_events (sender, sent_at, url, title)
SELECT pg_temp.uid((i - 1) % :users + 1), now() - make_interval(secs => i),
       'https://bench.example/page/' || i, 'Page ' || i
  FROM generate_series(1, :users * :shares_each) i;

INSERT INTO share_recipients (event_id, user_id, seen_at)
SELECT e.event_id, f.other_id,
       CASE WHEN abs(hashtext(e.event_id::text || f.other_id)) % :unread_one_in = 0 THEN NULL
            ELSE now() END
  FROM share_events e
  JOIN friend_edges f ON f.user_id = e.sender AND f.accepted_at IS NOT NULL;
\endif

ANALYZE;
