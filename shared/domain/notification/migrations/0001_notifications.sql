-- The notification inbox, owned by the notification domain. Recipient and
-- actor ids point at identity's users but carry no foreign key: each
-- component migrates on its own and may later live in its own database.
CREATE TABLE notifications (
    id           uuid        PRIMARY KEY,
    recipient_id uuid        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('MESSAGE', 'FOLLOW', 'LIKE', 'COMMENT')),
    -- The post, conversation or (for a follow) followed user it is about.
    subject_id   text        NOT NULL,
    -- Who acted, newest first, capped (the count says how many actions).
    actor_ids    uuid[]      NOT NULL,
    count        integer     NOT NULL CHECK (count >= 1),
    text         text        NOT NULL,
    -- Notifications with the same key fold into one while it is unread and
    -- young (kind and subject, e.g. LIKE:<post id>).
    group_key    text        NOT NULL,
    read_at      timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- The inbox, newest first, and its unread part.
CREATE INDEX notifications_inbox ON notifications (recipient_id, updated_at DESC, id DESC);
CREATE INDEX notifications_unread ON notifications (recipient_id, updated_at DESC, id DESC) WHERE read_at IS NULL;
-- The open group a new action folds into.
CREATE INDEX notifications_open_group ON notifications (recipient_id, group_key, created_at DESC) WHERE read_at IS NULL;

-- Events already turned into notifications, by their CloudEvents identity,
-- so a redelivered event changes nothing. Written in the transaction that
-- writes the notifications; pruned once Kafka can no longer redeliver.
CREATE TABLE notification_triggers (
    source       text        NOT NULL,
    id           text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, id)
);

CREATE INDEX notification_triggers_processed ON notification_triggers (processed_at);
