-- Sessions: one row per access token issued, keyed by its jti. A token is
-- honoured only while its row is here, unrevoked and unexpired, so logout,
-- a password change and account deletion take effect on the next request.
-- Deleting a user deletes their sessions.
CREATE TABLE sessions (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    -- What the owner sees to tell their sessions apart; bounded on write.
    user_agent text        NOT NULL DEFAULT '' CHECK (length(user_agent) <= 256),
    ip         text        NOT NULL DEFAULT '' CHECK (length(ip) <= 64)
);

-- Listing a user's sessions and revoking them all.
CREATE INDEX sessions_user ON sessions (user_id, created_at DESC);
