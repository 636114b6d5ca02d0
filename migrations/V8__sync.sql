-- The sync protocol: a per-account change feed, entry revisions, and kept
-- answers for Idempotency-Key retries.

-- One row per account that ever wrote its list. Every list write takes the
-- next position (last_seq + 1) under this row's lock, so positions commit
-- in order and a reader that saw position n saw everything up to n.
-- purged_through: the highest position of a tombstone purged; a cursor
-- before it may have missed a deletion (410).
CREATE TABLE list_feeds (
    account_id     bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    last_seq       bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    purged_through bigint NOT NULL DEFAULT 0 CHECK (purged_through >= 0)
);

-- rev: +1 on every change of the entry (its deletion included).
-- change_seq: the feed position of the entry's latest change.
ALTER TABLE list_entries
    ADD COLUMN rev        bigint NOT NULL DEFAULT 1 CHECK (rev >= 1),
    ADD COLUMN change_seq bigint;

-- Entries written before the feed existed get positions in the order they
-- last changed.
WITH numbered AS (
    SELECT id, row_number() OVER (PARTITION BY account_id ORDER BY updated_at, id) AS seq
    FROM list_entries
)
UPDATE list_entries e SET change_seq = n.seq FROM numbered n WHERE n.id = e.id;

INSERT INTO list_feeds (account_id, last_seq)
SELECT account_id, max(change_seq) FROM list_entries GROUP BY account_id;

ALTER TABLE list_entries ALTER COLUMN change_seq SET NOT NULL;

-- The server gives every write its position (after locking the feed row,
-- then the entry). Rows written by other means, an operator's SQL or a bulk
-- seed, get one here, so the feed never misses a change whoever made it.
-- (Such an update locks the entry before the feed row, the server's order
-- reversed: against a concurrent server write on the same account one of the
-- two may be cancelled as a deadlock, and the server answers 503 to retry.)
CREATE FUNCTION list_entries_take_position() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO list_feeds AS f (account_id, last_seq) VALUES (NEW.account_id, 1)
        ON CONFLICT (account_id) DO UPDATE SET last_seq = f.last_seq + 1
        RETURNING f.last_seq INTO NEW.change_seq;
    IF TG_OP = 'UPDATE' THEN
        NEW.rev := OLD.rev + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER list_entries_position_on_insert
    BEFORE INSERT ON list_entries
    FOR EACH ROW WHEN (NEW.change_seq IS NULL)
    EXECUTE FUNCTION list_entries_take_position();

CREATE TRIGGER list_entries_position_on_update
    BEFORE UPDATE ON list_entries
    FOR EACH ROW WHEN (NEW.change_seq IS NOT DISTINCT FROM OLD.change_seq)
    EXECUTE FUNCTION list_entries_take_position();

-- The feed: an account's changes after a position, in order. Unique, so two
-- changes can never share a position.
CREATE UNIQUE INDEX list_entries_feed ON list_entries (account_id, change_seq);

-- The purger finds tombstones past their retention.
CREATE INDEX list_entries_tombstones ON list_entries (deleted_at) WHERE deleted_at IS NOT NULL;

-- The catalog's version (its newest change) is part of every list ETag: an
-- entry shows its anime's summary. One index descent.
CREATE INDEX anime_updated_at ON anime (updated_at);

-- The first answer to a write sent with an Idempotency-Key, replayed to its
-- retries. Written in the write's own transaction, so a kept answer always
-- describes a committed write, and a write that committed always has its
-- answer kept.
CREATE TABLE idempotency_keys (
    account_id  bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key         text        NOT NULL,
    -- SHA-256 of the operation and the request body.
    fingerprint bytea       NOT NULL,
    status      smallint    NOT NULL,
    body        bytea       NOT NULL,
    etag        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
