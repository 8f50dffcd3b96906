-- The transactional outbox. A producer inserts its event here in the same
-- transaction as its own rows; the relay publishes it to Kafka and deletes it
-- once the broker acknowledged it.
CREATE TABLE nova_outbox (
    -- Within one (topic, key) ids follow commit order, because Enqueue
    -- serialises the writers of a key (see the package doc).
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The relay's unit of ownership: a hash of (topic, key) modulo 256.
    lane            smallint    NOT NULL CHECK (lane >= 0 AND lane < 256),
    topic           text        NOT NULL,
    key             text        NOT NULL,
    -- CloudEvents attributes and extensions, and the data as produced.
    event_id        text        NOT NULL,
    source          text        NOT NULL,
    type            text        NOT NULL,
    subject         text,
    time            timestamptz,
    datacontenttype text,
    dataschema      text,
    extensions      jsonb       NOT NULL DEFAULT '{}',
    data            bytea,
    enqueued_at     timestamptz NOT NULL DEFAULT now()
);

-- The relay reads the head of each lane and then the rows of the lanes it
-- holds, in id order.
CREATE INDEX nova_outbox_lane_id ON nova_outbox (lane, id);
