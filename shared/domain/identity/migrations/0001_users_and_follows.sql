-- Accounts. Usernames and emails keep the case the user typed but are unique
-- without regard to case: "Alice" and "alice" must never be two people, and
-- mail servers treat addresses that differ only in case as one mailbox in
-- practice.
CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    username      text        NOT NULL CHECK (username ~ '^[A-Za-z0-9_]{3,30}$'),
    email         text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    -- An argon2id PHC string; its parameters travel with it.
    password_hash text        NOT NULL,
    display_name  text        NOT NULL DEFAULT '',
    avatar_url    text        NOT NULL DEFAULT '',
    role          text        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- The constraint names are how a unique violation is told apart
-- (username_taken or email_taken); keep them in step with the Go code.
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- Who follows whom. The primary key makes a second follow a no-op; the
-- index on followee serves follower counts and "who follows X" (fan-out
-- back-fills, FOLLOWERS_ONLY checks go through the primary key).
CREATE TABLE follows (
    follower_id uuid        NOT NULL,
    followee_id uuid        NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (follower_id, followee_id),
    -- Named because a violation of either means "no such user" and the Go
    -- code says which one.
    CONSTRAINT follows_follower_fkey FOREIGN KEY (follower_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT follows_followee_fkey FOREIGN KEY (followee_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT follows_not_self CHECK (follower_id <> followee_id)
);

CREATE INDEX follows_followee ON follows (followee_id, follower_id);
