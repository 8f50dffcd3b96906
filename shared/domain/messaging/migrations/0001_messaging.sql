-- Conversations, participants and messages, owned by the messaging domain.
-- User and media ids carry no foreign key: each component migrates on its
-- own and may later live in its own database.
CREATE TABLE conversations (
    id              uuid        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('DIRECT', 'GROUP')),
    title           text        NOT NULL DEFAULT '',
    created_by      uuid        NOT NULL,
    -- "<smaller user id>:<larger user id>" for DIRECT conversations, so a
    -- pair has at most one; NULL for groups.
    pair_key        text        UNIQUE,
    -- The sequence of the newest message; the row is locked while a
    -- message draws the next one, which orders a conversation's messages.
    last_sequence   bigint      NOT NULL DEFAULT 0,
    -- Newest activity (creation or last message), for listing.
    last_activity_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    CHECK ((kind = 'DIRECT') = (pair_key IS NOT NULL))
);

CREATE TABLE conversation_participants (
    conversation_id uuid        NOT NULL REFERENCES conversations (id),
    user_id         uuid        NOT NULL,
    joined_at       timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

-- A user's conversations.
CREATE INDEX conversation_participants_user ON conversation_participants (user_id, conversation_id);

CREATE TABLE messages (
    id                uuid        PRIMARY KEY,
    conversation_id   uuid        NOT NULL REFERENCES conversations (id),
    sequence          bigint      NOT NULL CHECK (sequence > 0),
    sender_id         uuid        NOT NULL,
    client_message_id text        NOT NULL,
    type              text        NOT NULL CHECK (type IN ('TEXT', 'IMAGE', 'VIDEO', 'AUDIO')),
    content           text        NOT NULL,
    -- The attached media as the API shows them (post.Media).
    media             jsonb       NOT NULL DEFAULT '[]',
    sent_at           timestamptz NOT NULL,
    -- History is read by sequence in both directions.
    UNIQUE (conversation_id, sequence),
    -- Exactly once per sender and client id, whichever path it came by.
    UNIQUE (sender_id, client_message_id)
);
