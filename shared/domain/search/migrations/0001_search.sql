-- The search index, fed only by content-events and user-events. Ids carry no
-- foreign keys: the index may live in a database of its own.

-- The text a post is found by: its tags (weight A) and content (weight B).
-- array_to_string is only STABLE in general, but on text[] it depends on
-- nothing but its input, so the function may be declared IMMUTABLE and feed
-- a generated column.
CREATE FUNCTION search_post_document(content text, tags text[]) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN setweight(to_tsvector('english'::regconfig, array_to_string(tags, ' ')), 'A')
        || setweight(to_tsvector('english'::regconfig, content), 'B');

-- Tags as matched by #tag: case-insensitively.
CREATE FUNCTION search_tag_keys(tags text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY(SELECT lower(t) FROM unnest(tags) AS t);

CREATE TABLE search_posts (
    post_id    uuid        PRIMARY KEY,
    author_id  uuid        NOT NULL,
    content    text        NOT NULL DEFAULT '',
    tags       text[]      NOT NULL DEFAULT '{}',
    visibility text        NOT NULL CHECK (visibility IN ('PUBLIC', 'PRIVATE', 'FOLLOWERS_ONLY')),
    hidden     boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    -- The version of the last change applied; older changes are dropped.
    updated_at timestamptz NOT NULL,
    -- A deleted post stays as a tombstone with its text erased, so that a
    -- late redelivery of its creation cannot bring it back.
    deleted_at timestamptz,
    document   tsvector    GENERATED ALWAYS AS (search_post_document(content, tags)) STORED,
    tag_keys   text[]      GENERATED ALWAYS AS (search_tag_keys(tags)) STORED
);

-- Only what can ever be found is indexed; queries repeat the predicate.
CREATE INDEX search_posts_document ON search_posts USING gin (document) WHERE deleted_at IS NULL AND NOT hidden;
CREATE INDEX search_posts_tags ON search_posts USING gin (tag_keys) WHERE deleted_at IS NULL AND NOT hidden;

CREATE TABLE search_users (
    user_id      uuid        PRIMARY KEY,
    username     text        NOT NULL DEFAULT '',
    display_name text        NOT NULL DEFAULT '',
    updated_at   timestamptz NOT NULL
);

-- Trigram indexes serve ILIKE '%part%' and similarity (%) alike.
CREATE INDEX search_users_username ON search_users USING gin (username gin_trgm_ops);
CREATE INDEX search_users_display_name ON search_users USING gin (display_name gin_trgm_ops);

-- Who follows whom, for FOLLOWERS_ONLY posts. An unfollow keeps the row
-- (following = false) so that a stale follow redelivered after it is
-- recognised as older and dropped.
CREATE TABLE search_follows (
    follower_id uuid        NOT NULL,
    followee_id uuid        NOT NULL,
    following   boolean     NOT NULL,
    changed_at  timestamptz NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
