-- Views and shares count once per user and post within a window
-- (content.EngagementWindow): one account cannot pump a post's ranking by
-- repeating them. A row is the last counted one; a repeat inside the
-- window is answered like the first and emits nothing.
CREATE TABLE engagement_counted (
    post_id    uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    kind       smallint    NOT NULL,
    counted_at timestamptz NOT NULL,
    PRIMARY KEY (post_id, user_id, kind)
);

-- An account's rows, for its erasure.
CREATE INDEX engagement_counted_user ON engagement_counted (user_id);
