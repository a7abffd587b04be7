-- Chat groups for bench/chat/run, after bench/social/seed.sql (no friendships needed):
-- :groups group conversations of :size members each; group g (0-based) holds users
-- g*size+1 .. g*size+size, so every user is in exactly one group. Conversation ids are
-- fixed so that the load generator knows them: 00000000-0000-4000-8000-<g+1 in hex, 12>.
\set ON_ERROR_STOP on
CREATE FUNCTION pg_temp.uid(i bigint) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT 'u' || lpad(i::text, 6, '0') $$;
CREATE FUNCTION pg_temp.cid(g bigint) RETURNS uuid
  LANGUAGE sql IMMUTABLE AS $$ SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g + 1), 12, '0'))::uuid $$;

INSERT INTO conversations (conversation_id, created_by, title, is_group)
SELECT pg_temp.cid(g), pg_temp.uid(g * :size + 1), 'Bench group ' || g, true
  FROM generate_series(0, :groups - 1) g;

INSERT INTO participants (conversation_id, user_id)
SELECT pg_temp.cid(g), pg_temp.uid(g * :size + k)
  FROM generate_series(0, :groups - 1) g, generate_series(1, :size) k;

ANALYZE;
