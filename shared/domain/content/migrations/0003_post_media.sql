-- Which post each uploaded media is attached to. The primary key makes a
-- media attach to one post at most: when two posts race for a pending
-- upload, or an event is redelivered, the first commit wins and the others
-- attach nothing. The post's own media column keeps the list as shown.
CREATE TABLE post_media (
    media_id    uuid        PRIMARY KEY,
    -- Deferred: a new post claims its media before its own row is written.
    post_id     uuid        NOT NULL REFERENCES posts (id) DEFERRABLE INITIALLY DEFERRED,
    owner_id    uuid        NOT NULL,
    attached_at timestamptz NOT NULL
);

CREATE INDEX post_media_post ON post_media (post_id);
