-- The statements every authenticated request runs, as functions.
--
-- Behind PgBouncer in transaction mode (`--db-pooler transaction`) every
-- statement is sent unnamed, so PostgreSQL parses and plans it on every
-- call; the authentication statement (a join, an update and an upsert)
-- cost about 0.35 ms of planning for 0.12 ms of work (pgbench, -M extended
-- against -M prepared). PL/pgSQL keeps the plans of a function's
-- statements for the life of the server connection, whoever borrows it, so
-- `SELECT * FROM authenticate_token($1, $2)` is cheap to plan however it
-- is sent: measured the same way, 0.15-0.18 ms a call.
--
-- These functions are the one home of their SQL; the server calls them
-- (server/src/db/throttle.rs, server/src/db/tokens.rs). A later change to
-- one is a new migration (CREATE OR REPLACE, same signature), so instances
-- of the previous release keep working during a rolling deploy.

-- One hit on the fixed window of `p_key`: a window starts at the key's
-- first request and lasts `p_window_secs` seconds; every request in it adds
-- a hit (rejected ones too, so a client hammering a closed window learns
-- nothing new). The upsert's row lock serialises concurrent hits on one
-- key, so counts are exact across instances; times come from the
-- database's clock only.
CREATE FUNCTION rate_limit_hit(p_key text, p_window_secs float8)
RETURNS TABLE (key text, hits integer, reset_in bigint, reset_at bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    INSERT INTO rate_limits AS r (key, window_start, hits, window_secs)
    VALUES (p_key, now(), 1, p_window_secs::integer)
    ON CONFLICT (key) DO UPDATE SET
        window_secs = excluded.window_secs,
        window_start = CASE WHEN r.window_start <= now() - make_interval(secs => p_window_secs)
                       THEN now() ELSE r.window_start END,
        hits = CASE WHEN r.window_start <= now() - make_interval(secs => p_window_secs)
               THEN 1 ELSE r.hits + 1 END
    RETURNING r.key, r.hits,
        greatest(1, ceil(extract(epoch FROM r.window_start
            + make_interval(secs => p_window_secs) - now())))::bigint,
        ceil(extract(epoch FROM r.window_start
            + make_interval(secs => p_window_secs)))::bigint;
END
$$;

-- A token hash to its live token and account, the request counted against
-- the token's window ('t:<token id>'), and `last_used_at` recorded at most
-- once a minute (so a busy token does not turn every read into a write).
-- An unknown or revoked hash returns no row and writes nothing.
--
-- Both writes are bookkeeping: `synchronous_commit` is off for the
-- calling transaction alone, so it commits without waiting for a WAL flush
-- (the window is unlogged anyway, migration V9; this is for the touch). A
-- crash may lose the last fraction of a second of touches
-- (docs/reliability.md).
CREATE FUNCTION authenticate_token(p_hash bytea, p_window_secs float8)
RETURNS TABLE (token_id bigint, token_hash bytea, id bigint, email text, name text,
               api_access boolean, created_at timestamptz,
               key text, hits integer, reset_in bigint, reset_at bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY
    WITH hit AS (
        SELECT t.id AS token_id, t.token_hash, t.last_used_at,
               a.id, a.email, a.name, a.api_access, a.created_at
        FROM api_tokens t JOIN accounts a ON a.id = t.account_id
        WHERE t.token_hash = p_hash AND t.revoked_at IS NULL
    ), touch AS (
        UPDATE api_tokens SET last_used_at = date_trunc('second', now())
        FROM hit WHERE api_tokens.id = hit.token_id
          AND (hit.last_used_at IS NULL OR hit.last_used_at < now() - interval '1 minute')
        RETURNING 1
    )
    SELECT hit.token_id, hit.token_hash, hit.id, hit.email, hit.name, hit.api_access,
           hit.created_at, counted.key, counted.hits, counted.reset_in, counted.reset_at
    FROM hit, LATERAL rate_limit_hit('t:' || hit.token_id, p_window_secs) AS counted;
END
$$;
