-- Mail waiting for the relay. A row is written in the transaction of the
-- change that calls for it and deleted once the relay took the message;
-- one the relay refused for good stays, with its reason, until an
-- operator looks (failed_at set).
CREATE TABLE mail_queue (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text        NOT NULL DEFAULT '',
    failed_at       timestamptz
);

CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at) WHERE failed_at IS NULL;
