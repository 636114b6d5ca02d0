-- Defences against hostile clients (sign-in throttles, cookies).

-- One definition of "the same email address": the unique index, every
-- account lookup and the sign-in throttle's email key all use it, so no
-- spelling of an address gets a counter of its own. A plain SQL function,
-- so the planner inlines it and the index still serves lookups.
CREATE FUNCTION email_key(email text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(email) $$;

CREATE UNIQUE INDEX accounts_email_key ON accounts (email_key(email));
DROP INDEX accounts_email_lower_key;

-- Secrets every instance must share (the HMAC key that signs cookies), made
-- by the first instance that starts and read by the others.
CREATE TABLE server_secrets (
    name       text        PRIMARY KEY,
    secret     bytea       NOT NULL CHECK (octet_length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Windows are no longer all a minute long (token creation counts per hour):
-- each row says its own length, so the sweeper never ends a window early.
ALTER TABLE rate_limits ADD COLUMN window_secs integer NOT NULL DEFAULT 60
    CHECK (window_secs > 0);
