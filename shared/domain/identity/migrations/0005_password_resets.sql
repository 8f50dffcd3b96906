-- Codes mailed to an account's address to set a new password without the
-- old one. Only the code's SHA-256 is kept; a code works once, for an hour,
-- and goes with its account.
CREATE TABLE password_resets (
    code_hash  bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX password_resets_user ON password_resets (user_id);
CREATE INDEX password_resets_expires ON password_resets (expires_at);
