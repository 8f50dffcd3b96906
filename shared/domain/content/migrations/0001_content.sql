-- Posts and their engagement, owned by the content domain. Author and user
-- ids point at identity's users but carry no foreign key: each component
-- migrates on its own and may later live in its own database.
CREATE TABLE posts (
    id            uuid        PRIMARY KEY,
    author_id     uuid        NOT NULL,
    content       text        NOT NULL,
    type          text        NOT NULL CHECK (type IN ('TEXT', 'IMAGE', 'VIDEO', 'REEL')),
    visibility    text        NOT NULL CHECK (visibility IN ('PUBLIC', 'PRIVATE', 'FOLLOWERS_ONLY')),
    tags          text[]      NOT NULL DEFAULT '{}',
    -- The attached media as the API shows them (post.Media), set by media
    -- attachment.
    media         jsonb       NOT NULL DEFAULT '[]',
    -- Set by moderation; a hidden post is shown to its author only, with
    -- the reason.
    hidden        boolean     NOT NULL DEFAULT false,
    hidden_reason text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    -- Deletion is soft: the row stays so late engagement and moderation
    -- events still find what they refer to.
    deleted_at    timestamptz
);

CREATE INDEX posts_author_created ON posts (author_id, created_at DESC) WHERE deleted_at IS NULL;

-- One row per (post, user): liking twice is a no-op by construction.
CREATE TABLE likes (
    post_id    uuid        NOT NULL REFERENCES posts (id),
    user_id    uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id)
);

CREATE TABLE comments (
    id         uuid        PRIMARY KEY,
    post_id    uuid        NOT NULL REFERENCES posts (id),
    author_id  uuid        NOT NULL,
    content    text        NOT NULL,
    created_at timestamptz NOT NULL,
    deleted_at timestamptz
);

-- Comments are listed oldest first per post, by (created_at, id).
CREATE INDEX comments_post_created ON comments (post_id, created_at, id) WHERE deleted_at IS NULL;
