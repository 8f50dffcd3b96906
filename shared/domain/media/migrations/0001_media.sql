-- Uploaded files, owned by the media domain. Owner and post ids point at
-- identity's users and content's posts but carry no foreign key: each
-- component migrates on its own and may later live in its own database.
CREATE TABLE media (
    id               uuid        PRIMARY KEY,
    owner_id         uuid        NOT NULL,
    -- The post named at upload, if any; attachment itself is content's.
    post_id          uuid,
    type             text        NOT NULL CHECK (type IN ('IMAGE', 'VIDEO', 'AUDIO')),
    mime_type        text        NOT NULL,
    -- Object storage keys, made by the server (media/<owner>/<id>/...).
    storage_key      text        NOT NULL UNIQUE,
    thumbnail_key    text,
    url              text        NOT NULL,
    thumbnail_url    text        NOT NULL DEFAULT '',
    width            integer     NOT NULL DEFAULT 0,
    height           integer     NOT NULL DEFAULT 0,
    size_bytes       bigint      NOT NULL,
    duration_seconds integer,
    created_at       timestamptz NOT NULL
);

CREATE INDEX media_owner_created ON media (owner_id, created_at DESC);
