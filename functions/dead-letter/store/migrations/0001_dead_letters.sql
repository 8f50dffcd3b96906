-- Every event a KafkaSource could not deliver, once per (source, id).
CREATE TABLE dead_letters (
    seq             bigserial   NOT NULL UNIQUE,
    source          text        NOT NULL,
    id              text        NOT NULL,
    type            text        NOT NULL,
    subject         text        NOT NULL DEFAULT '',
    event_time      timestamptz,
    -- Knative's error extensions: where delivery failed, the status it
    -- got (0 for a transport error or none given) and the response body.
    error_dest      text        NOT NULL DEFAULT '',
    error_code      integer     NOT NULL DEFAULT 0,
    error_data      text        NOT NULL DEFAULT '',
    -- Where the event was read; NULL when the event does not say.
    topic           text,
    kafka_partition integer,
    kafka_offset    bigint,
    -- The whole event in structured JSON, to replay it as it was (json,
    -- not jsonb, so JSON data keeps its exact bytes).
    event           json        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    replayed_at     timestamptz,
    PRIMARY KEY (source, id)
);

CREATE INDEX dead_letters_topic_seq ON dead_letters (topic, seq DESC);
CREATE INDEX dead_letters_source_seq ON dead_letters (source, seq DESC);
