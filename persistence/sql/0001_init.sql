-- 0001_init: the whole Tandem schema (PostgreSQL 15).
-- Runs inside one transaction opened by the migration runner, which also owns
-- schema_migrations. No BEGIN/COMMIT here and nothing that cannot run in a transaction.
--
-- Conventions used throughout:
--  * Every user id column is text COLLATE "C": ordering is bytewise, exactly like
--    std::string::operator< in the service, whatever the database default collation is.
--    This matters for friendships (user_low < user_high) and conversations.direct_key.
--  * Every time is timestamptz. The API prints them in UTC without an offset.
--  * Length CHECKs count characters (char_length), not bytes, and mirror the API validation.

-- pg_trgm ships with postgresql-15 and is a trusted extension, so a database owner
-- without superuser may create it. It backs the name and email search indexes.
CREATE EXTENSION IF NOT EXISTS pg_trgm;


-- accounts: Tandem's own credentials (POST /auth/register, /auth/login).
-- One login per email, compared case-insensitively. Users signed in through an external
-- identity provider (Cognito) have no row here, so users does not reference accounts.
CREATE TABLE accounts (
    user_id       text COLLATE "C" PRIMARY KEY DEFAULT gen_random_uuid()::text
                  CHECK (char_length(user_id) BETWEEN 1 AND 128),
    email         text        NOT NULL
                  CHECK (char_length(email) BETWEEN 3 AND 320 AND position('@' IN email) > 1),
    password_hash text        NOT NULL CHECK (password_hash <> ''),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_lower_key ON accounts (lower(email));


-- users: the profile, created by POST /users/me (until then GET /users/me is 404).
-- user_id is the token subject (Tandem account id or cognito:username), with no FK to accounts.
-- email is a copy of the token claim and is NOT unique here: two identity providers may carry
-- the same address for different user ids. Login uniqueness is enforced in accounts.
CREATE TABLE users (
    user_id                   text COLLATE "C" PRIMARY KEY
                              CHECK (char_length(user_id) BETWEEN 1 AND 128),
    email                     text        NOT NULL CHECK (char_length(email) <= 320),
    first_name                text        NOT NULL CHECK (char_length(first_name) BETWEEN 1 AND 50),
    last_name                 text        NOT NULL CHECK (char_length(last_name) BETWEEN 1 AND 50),
    description               text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 200),
    dob                       date        NULL,
    gender                    text        NOT NULL DEFAULT '' CHECK (char_length(gender) <= 200),
    school                    text        NOT NULL DEFAULT '' CHECK (char_length(school) <= 200),
    work                      text        NOT NULL DEFAULT '' CHECK (char_length(work) <= 200),
    location                  text        NOT NULL DEFAULT '' CHECK (char_length(location) <= 200),
    email_public              boolean     NOT NULL DEFAULT false,
    dob_public                boolean     NOT NULL DEFAULT false,
    gender_public             boolean     NOT NULL DEFAULT false,
    school_public             boolean     NOT NULL DEFAULT false,
    work_public               boolean     NOT NULL DEFAULT false,
    location_public           boolean     NOT NULL DEFAULT false,
    share_mode                text        NOT NULL DEFAULT 'default_none'
                              CHECK (share_mode IN ('default_none', 'default_all')),
    -- registrable domains (Public Suffix List), at most 500 entries, no NULL entries.
    domain_allow              text[]      NOT NULL DEFAULT '{}'
                              CHECK (cardinality(domain_allow) <= 500
                                     AND array_position(domain_allow, NULL) IS NULL),
    domain_deny               text[]      NOT NULL DEFAULT '{}'
                              CHECK (cardinality(domain_deny) <= 500
                                     AND array_position(domain_deny, NULL) IS NULL),
    profile_image_extension   text        NULL
                              CHECK (profile_image_extension IN ('png', 'jpeg', 'jpg')),
    profile_image_uploaded_at timestamptz NULL,
    created_at                timestamptz NOT NULL DEFAULT now(),
    -- both image columns are set together (upload URL issued) and cleared together (DELETE).
    CONSTRAINT users_profile_image_pair
        CHECK ((profile_image_extension IS NULL) = (profile_image_uploaded_at IS NULL))
);
-- Search (U16/U17): substring/prefix/suffix LIKE on these exact expressions uses the
-- trigram indexes, so queries must spell them the same way:
--   lower(first_name || ' ' || last_name) LIKE ...      lower(email) LIKE ...   (or = ...)
CREATE INDEX users_name_trgm_idx  ON users USING gin (lower(first_name || ' ' || last_name) gin_trgm_ops);
CREATE INDEX users_email_trgm_idx ON users USING gin (lower(email) gin_trgm_ops);


-- friendships: ONE row per unordered pair (user_low < user_high), so A->B and B->A can
-- never both exist (the old service allowed it). requester says who asked, accepted_at
-- NULL means pending. addressee is derived (the side that did not ask) for the
-- "pending requests to X" index. Rows go away with either user.
CREATE TABLE friendships (
    user_low     text COLLATE "C" NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    user_high    text COLLATE "C" NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    requester    text COLLATE "C" NOT NULL,
    addressee    text COLLATE "C" NOT NULL
                 GENERATED ALWAYS AS (CASE WHEN requester = user_low THEN user_high ELSE user_low END) STORED,
    requested_at timestamptz NOT NULL DEFAULT now(),
    accepted_at  timestamptz NULL,
    PRIMARY KEY (user_low, user_high),
    CONSTRAINT friendships_ordered_pair CHECK (user_low < user_high),
    CONSTRAINT friendships_requester_in_pair CHECK (requester IN (user_low, user_high))
);
-- The PK serves "rows of X" on the low side, this index the high side.
CREATE INDEX friendships_user_high_idx ON friendships (user_high, user_low);
-- Incoming pending requests of X, newest first (F4, polled every minute).
CREATE INDEX friendships_pending_in_idx  ON friendships (addressee, requested_at DESC) WHERE accepted_at IS NULL;
-- Outgoing pending requests of X.
CREATE INDEX friendships_pending_out_idx ON friendships (requester, requested_at DESC) WHERE accepted_at IS NULL;

-- friend_edges: each friendship seen from both sides (user_id, other_id), for queries
-- like "friends of X", mutual friends and friendship_state. A filter on user_id is pushed
-- into both branches, which use the PK and friendships_user_high_idx respectively.
CREATE VIEW friend_edges AS
    SELECT user_low AS user_id, user_high AS other_id, requester, requested_at, accepted_at
      FROM friendships
    UNION ALL
    SELECT user_high AS user_id, user_low AS other_id, requester, requested_at, accepted_at
      FROM friendships;


-- share_events: a page shared by sender, with all accepted friends (sent_to NULL) or with
-- one user (sent_to set). Who received it lives in share_recipients.
CREATE TABLE share_events (
    event_id uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    sender   text COLLATE "C" NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    sent_at  timestamptz NOT NULL DEFAULT now(),
    url      text        NOT NULL CHECK (char_length(url) <= 2048),
    title    text        NOT NULL CHECK (char_length(title) <= 512),
    sent_to  text COLLATE "C" NULL REFERENCES users (user_id) ON DELETE CASCADE
);
-- Sent list of X, newest first (N4).
CREATE INDEX share_events_sender_idx  ON share_events (sender, sent_at DESC, event_id);
-- Makes the ON DELETE CASCADE from users cheap.
CREATE INDEX share_events_sent_to_idx ON share_events (sent_to) WHERE sent_to IS NOT NULL;

-- share_recipients: one row per (event, recipient), written with the event in one
-- transaction. seen_at NULL means unread. The PK also serves not_seen_count per event.
CREATE TABLE share_recipients (
    event_id uuid             NOT NULL REFERENCES share_events (event_id) ON DELETE CASCADE,
    user_id  text COLLATE "C" NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    seen_at  timestamptz      NULL,
    PRIMARY KEY (event_id, user_id)
);
-- Everything received by X (N3, N5).
CREATE INDEX share_recipients_user_idx   ON share_recipients (user_id, event_id);
-- Unread of X (N3 with is_read=false, polled every minute).
CREATE INDEX share_recipients_unread_idx ON share_recipients (user_id, event_id) WHERE seen_at IS NULL;


-- conversations: direct (two people) or group chats. A direct conversation has
-- direct_key = "<lower id>|<higher id>" (bytewise order), unique, so a pair has exactly one.
-- Group conversations have no direct_key. No FKs to users (as in the old chat DB): the
-- API checks that recipients exist.
CREATE TABLE conversations (
    conversation_id uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    created_by      text COLLATE "C" NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    title           text        NULL CHECK (char_length(title) <= 300),
    is_group        boolean     NOT NULL DEFAULT false,
    direct_key      text COLLATE "C" NULL UNIQUE,
    CONSTRAINT conversations_direct_key_iff_direct
        CHECK (is_group = (direct_key IS NULL)),
    CONSTRAINT conversations_direct_key_sorted_pair
        CHECK (direct_key IS NULL
               OR (direct_key ~ '^[^|]+[|][^|]+$'
                   AND split_part(direct_key, '|', 1) < split_part(direct_key, '|', 2)))
);

-- participants: membership plus the read state. Read state is a cursor per member
-- (last_read_seq), not a row per message per reader: the conversation is read for the
-- member iff last_read_seq >= the latest message seq, and reading is one UPDATE.
CREATE TABLE participants (
    conversation_id uuid             NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    user_id         text COLLATE "C" NOT NULL,
    joined_at       timestamptz      NOT NULL DEFAULT now(),
    last_read_seq   bigint           NOT NULL DEFAULT 0 CHECK (last_read_seq >= 0),
    PRIMARY KEY (conversation_id, user_id)
);
-- Conversations of X (C3, start-up of a user).
CREATE INDEX participants_user_idx ON participants (user_id, conversation_id);

-- messages: the durable chat log. seq is assigned by the conversation's actor, starting
-- at 1, and the PK (conversation_id, seq) is what catches two nodes acting for one
-- conversation at once. It also serves latest-message, paging and after_seq replay.
-- (conversation_id, sender_id, client_message_id) makes a resent tempMessageId idempotent.
CREATE TABLE messages (
    conversation_id   uuid             NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    seq               bigint           NOT NULL CHECK (seq > 0),
    message_id        uuid             NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    sender_id         text COLLATE "C" NOT NULL,
    content           text             NOT NULL CHECK (char_length(content) BETWEEN 1 AND 1000),
    sent_at           timestamptz      NOT NULL DEFAULT now(),
    client_message_id text             NULL CHECK (char_length(client_message_id) BETWEEN 1 AND 128),
    PRIMARY KEY (conversation_id, seq),
    CONSTRAINT messages_idempotent_send UNIQUE (conversation_id, sender_id, client_message_id)
);


-- email_outbox: invitations from POST /email, queued here and sent by a worker, so the
-- request never waits for the mail server. Unsent rows are those with sent_at NULL, and a
-- worker takes the due ones (next_attempt_at <= now()) with FOR UPDATE SKIP LOCKED.
CREATE TABLE email_outbox (
    id                bigserial   PRIMARY KEY,
    sender_user_id    text COLLATE "C" NOT NULL,
    sender_first_name text        NOT NULL CHECK (char_length(sender_first_name) <= 50),
    sender_last_name  text        NOT NULL CHECK (char_length(sender_last_name) <= 50),
    recipient_email   text        NOT NULL
                      CHECK (char_length(recipient_email) BETWEEN 3 AND 320
                             AND position('@' IN recipient_email) > 1),
    created_at        timestamptz NOT NULL DEFAULT now(),
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz NULL,
    attempts          integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error        text        NULL
);
CREATE INDEX email_outbox_unsent_idx ON email_outbox (next_attempt_at, id) WHERE sent_at IS NULL;
