-- Rate-limit counters shared by every server instance: a fixed window per
-- key that starts at the key's first request (as Laravel's limiter does).
-- Keys: 't:<token id>' (60/min per token), 'ip:<address>' and
-- 'email:<lower-cased email>' (5/min each on POST /auth/token).

CREATE TABLE rate_limits (
    key          text        PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL
);

-- The sweeper deletes windows that ended long ago.
CREATE INDEX rate_limits_window_start ON rate_limits (window_start);
