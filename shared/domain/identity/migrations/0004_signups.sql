-- Sign-ups waiting for their address to be proven. The account is created
-- only when the code mailed to the address comes back, so registering
-- says nothing about whether an address has an account, and nobody can
-- hold an address they cannot read. Only the code's SHA-256 is kept.
CREATE TABLE signups (
    code_hash     bytea       PRIMARY KEY,
    username      text        NOT NULL,
    email         text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);

CREATE INDEX signups_email ON signups (lower(email));
CREATE INDEX signups_expires ON signups (expires_at);

-- How much sign-up mail each address got in its current hour, so that
-- registering cannot be used to flood someone's mailbox.
CREATE TABLE signup_mail (
    email        text        PRIMARY KEY, -- lower-cased
    window_start timestamptz NOT NULL,
    sent         integer     NOT NULL
);
