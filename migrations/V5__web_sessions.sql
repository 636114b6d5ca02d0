-- Browser sessions of the settings page, shared by every instance.

CREATE TABLE web_sessions (
    -- SHA-256 of the cookie's random value; the value itself is never stored.
    id_hash      bytea       PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    account_id   bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The synchronizer token every state-changing form must carry.
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    -- Absolute expiry; the idle expiry is checked against last_seen_at.
    expires_at   timestamptz NOT NULL
);

CREATE INDEX web_sessions_account ON web_sessions (account_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
