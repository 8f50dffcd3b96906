-- Analytics, fed only by events (analytics-events, content-events,
-- user-events). Ids carry no foreign keys: analytics may live in a database
-- of its own.

-- Events already counted, by CloudEvents (source, id): a redelivery finds
-- its row and counts nothing. Written in the same transaction as the
-- counters it guards.
CREATE TABLE analytics_processed (
    source       text        NOT NULL,
    id           text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, id)
);

-- Engagements already counted, by engagement_id: the same engagement sent
-- again under a new CloudEvents id (a producer's retry) counts once.
CREATE TABLE analytics_engagements (
    engagement_id text        PRIMARY KEY,
    processed_at  timestamptz NOT NULL DEFAULT now()
);

-- Per-post counters. likes is net: an UNLIKE takes one off.
CREATE TABLE analytics_posts (
    post_id    uuid        PRIMARY KEY,
    author_id  uuid        NOT NULL,
    views      bigint      NOT NULL DEFAULT 0,
    likes      bigint      NOT NULL DEFAULT 0,
    comments   bigint      NOT NULL DEFAULT 0,
    shares     bigint      NOT NULL DEFAULT 0,
    created_at timestamptz,
    deleted_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Events per acting user per UTC day; daily active users are the rows of a
-- day.
CREATE TABLE analytics_user_days (
    day     date   NOT NULL,
    user_id uuid   NOT NULL,
    events  bigint NOT NULL,
    PRIMARY KEY (day, user_id)
);

CREATE INDEX analytics_user_days_user ON analytics_user_days (user_id, day);

-- Events per topic, event and engagement kind ('' for other events) per
-- UTC hour. Events per topic per hour sum over event and kind; the
-- Prometheus counters sum over hours.
CREATE TABLE analytics_event_hours (
    hour   timestamptz NOT NULL,
    topic  text        NOT NULL,
    event  text        NOT NULL,
    kind   text        NOT NULL,
    events bigint      NOT NULL,
    PRIMARY KEY (hour, topic, event, kind)
);
