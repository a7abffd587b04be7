-- 0004_external_identities: users signed in through an external identity provider
-- (auth.external_issuer, e.g. a Cognito pool) get a namespace of their own. Their tokens
-- name (issuer, subject); the Tandem user id is minted here on first sight and is what
-- every other table holds, so a subject spelled like a native account's id reaches nothing
-- of that account. A row never changes: nodes cache it without invalidation.
--
-- Users who signed in externally before this migration have user_id = subject. An
-- operator keeps them by mapping each to itself before their next sign-in, e.g.
--   INSERT INTO external_identities (issuer, subject, user_id)
--   SELECT '<auth.external_issuer>', user_id, user_id FROM users u
--   WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.user_id = u.user_id);
CREATE TABLE external_identities (
    issuer     text COLLATE "C" NOT NULL CHECK (char_length(issuer) BETWEEN 1 AND 512),
    subject    text COLLATE "C" NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 256),
    user_id    text COLLATE "C" NOT NULL UNIQUE DEFAULT gen_random_uuid()::text
               CHECK (char_length(user_id) BETWEEN 1 AND 128),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);
