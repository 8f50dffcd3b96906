-- Trust-safety's state in PostgreSQL: what it last judged of each post and
-- the review queue. The trust-safety function writes both, with its
-- ModerationDecision event, in one transaction through the outbox;
-- nova-api's moderation endpoints read the queue and record reviewers'
-- decisions the same way.

-- The newest version of each live post that was judged, with its text, so
-- an edit that changes only tags is judged against the whole post, and a
-- redelivered or older event is recognised (content_at not newer).
CREATE TABLE moderation_subjects (
    post_id    uuid        PRIMARY KEY,
    author_id  uuid        NOT NULL,
    content    text        NOT NULL,
    tags       text[]      NOT NULL DEFAULT '{}',
    content_at timestamptz NOT NULL,
    action     text        NOT NULL
);

-- Posts the rules flagged or hid, waiting for a reviewer. One row per post:
-- a newer version's verdict replaces it, a reviewer's decision removes it.
CREATE TABLE moderation_queue (
    post_id    uuid        PRIMARY KEY,
    author_id  uuid        NOT NULL,
    content    text        NOT NULL,
    tags       text[]      NOT NULL DEFAULT '{}',
    -- FLAG or HIDE: what the rules did meanwhile.
    action     text        NOT NULL,
    -- [{"code": "...", "detail": "..."}]
    reasons    jsonb       NOT NULL,
    content_at timestamptz NOT NULL,
    queued_at  timestamptz NOT NULL
);

-- The queue is read oldest first, by (queued_at, post_id).
CREATE INDEX moderation_queue_order ON moderation_queue (queued_at, post_id);
