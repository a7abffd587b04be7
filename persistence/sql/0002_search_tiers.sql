-- User search (U16/U17) reads strangers tier by tier (persistence/social_repo.cpp,
-- search_users): prefix matches through a pattern index of the searched expression,
-- suffix matches through one of the expression reversed. Spelled exactly like
-- search_expression() so that the planner can use them. IF NOT EXISTS: on a large table an
-- operator may build them CONCURRENTLY before upgrading (docs/operations.md, Migrations).
CREATE INDEX IF NOT EXISTS users_name_prefix_idx
  ON users (lower(first_name || ' ' || last_name) text_pattern_ops);
CREATE INDEX IF NOT EXISTS users_name_suffix_idx
  ON users (reverse(lower(first_name || ' ' || last_name)) text_pattern_ops);
CREATE INDEX IF NOT EXISTS users_email_prefix_idx ON users (lower(email) text_pattern_ops);
CREATE INDEX IF NOT EXISTS users_email_suffix_idx ON users (reverse(lower(email)) text_pattern_ops);
