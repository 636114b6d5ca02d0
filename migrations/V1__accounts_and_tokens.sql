-- Accounts and their API tokens.

CREATE TABLE accounts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL,
    name          text        NOT NULL,
    -- Argon2id PHC string; never leaves the server.
    password_hash text        NOT NULL,
    -- The API-access feature flag: without it, token issuance and every
    -- authenticated endpoint answer 403.
    api_access    boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Email addresses are unique regardless of case; lookups use lower(email).
CREATE UNIQUE INDEX accounts_email_lower_key ON accounts (lower(email));

CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The device name given at issuance.
    name         text        NOT NULL,
    -- SHA-256 of the plain-text token; the plain text is never stored.
    token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Written at most once a minute per token, not on every request.
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- GET /auth/tokens: an account's active tokens, newest first.
CREATE INDEX api_tokens_active_by_account
    ON api_tokens (account_id, created_at DESC, id DESC)
    WHERE revoked_at IS NULL;
