-- Accounts deleted, by the SHA-256 of their id, never the id itself: an
-- event about one that arrives after its UserDeleted (topics are not
-- ordered against each other) is counted without it, so erasure is not
-- undone by a late PostDeleted or Engagement.
CREATE TABLE analytics_erased_users (
    user_hash bytea       PRIMARY KEY,
    erased_at timestamptz NOT NULL DEFAULT now()
);
