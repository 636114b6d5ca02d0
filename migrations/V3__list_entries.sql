-- The list: one row per anime an account tracks. Deleted entries are kept
-- (deleted_at) for the future incremental-sync endpoint's tombstones.

CREATE TABLE list_entries (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    anime_id      bigint      NOT NULL REFERENCES anime (id),
    status        text        NOT NULL
                  CHECK (status IN ('watching', 'completed', 'on_hold', 'dropped', 'plan_to_watch')),
    score         integer     CHECK (score BETWEEN 0 AND 100),
    progress      integer     NOT NULL DEFAULT 0 CHECK (progress >= 0),
    started_at    date,
    completed_at  date,
    notes         text        CHECK (char_length(notes) <= 2000),
    is_private    boolean     NOT NULL DEFAULT false,
    is_rewatching boolean     NOT NULL DEFAULT false,
    rewatch_count integer     NOT NULL DEFAULT 0 CHECK (rewatch_count >= 0),
    tags          text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 25),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);

-- At most one live entry per (account, anime), enforced by the database so
-- that concurrent adds cannot both win.
CREATE UNIQUE INDEX list_entries_one_live_per_anime
    ON list_entries (account_id, anime_id) WHERE deleted_at IS NULL;

-- GET /list (optionally by status): newest update first, ties by id.
CREATE INDEX list_entries_live_by_update
    ON list_entries (account_id, updated_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX list_entries_live_by_status
    ON list_entries (account_id, status, updated_at DESC, id DESC) WHERE deleted_at IS NULL;
