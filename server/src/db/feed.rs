//! SQL for the change feed: `list_feeds` and the entries in feed order.

use deadpool_postgres::GenericClient;

use super::DbError;
use super::entries::{COLUMNS, EntryRow, InOrder, entry_from};

/// Takes the account's next feed position. The feed row stays locked until
/// the transaction ends, so the account's writes take positions one at a
/// time and commit in position order; every list write calls this first,
/// before it locks any entry, so no two writes wait on each other in
/// opposite orders.
pub async fn next_position(db: &impl GenericClient, account_id: i64) -> Result<i64, DbError> {
    let statement = db
        .prepare_cached(
            "INSERT INTO list_feeds (account_id, last_seq) VALUES ($1, 1) \
             ON CONFLICT (account_id) DO UPDATE SET last_seq = list_feeds.last_seq + 1 \
             RETURNING last_seq",
        )
        .await?;
    Ok(db.query_one(&statement, &[&account_id]).await?.get(0))
}

/// Returns the position this transaction took with [`next_position`] and
/// did not use (the feed row is still locked by it, so nobody took another).
pub async fn give_back_position(db: &impl GenericClient, account_id: i64) -> Result<(), DbError> {
    let statement = db
        .prepare_cached("UPDATE list_feeds SET last_seq = last_seq - 1 WHERE account_id = $1")
        .await?;
    db.execute(&statement, &[&account_id]).await?;
    Ok(())
}

/// What a list `ETag` is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedState {
    /// The account's latest position (0 before its first write).
    pub last_seq: i64,
    /// The highest position of a tombstone purged.
    pub purged_through: i64,
    /// The catalog's newest change, in microseconds since the epoch: every
    /// entry shows its anime's summary.
    pub catalog_version: i64,
}

/// `s`: the account's feed state and the catalog's version, as columns
/// `last_seq, purged, catalog`; `$1` is the account.
const STATE: &str = "SELECT coalesce(f.last_seq, 0) AS last_seq, \
    coalesce(f.purged_through, 0) AS purged, \
    coalesce((SELECT (extract(epoch FROM max(updated_at)) * 1000000)::bigint FROM anime), 0) AS catalog \
    FROM (SELECT 1) one LEFT JOIN list_feeds f ON f.account_id = $1";

fn state_of(row: &tokio_postgres::Row) -> Result<FeedState, DbError> {
    let mut col = InOrder::new(row, 0);
    Ok(FeedState {
        last_seq: col.take("last_seq")?,
        purged_through: col.take("purged")?,
        catalog_version: col.take("catalog")?,
    })
}

pub async fn state(db: &impl GenericClient, account_id: i64) -> Result<FeedState, DbError> {
    let statement = db.prepare_cached(STATE).await?;
    state_of(&db.query_one(&statement, &[&account_id]).await?)
}

/// One change: an entry's latest state (a tombstone when `deleted`).
#[derive(Clone, Debug)]
pub struct ChangeRow {
    pub position: i64,
    pub deleted: bool,
    pub entry: EntryRow,
}

/// The changes after `after` and the state they were read in, from one
/// snapshot. `None` when a tombstone past both `after` and `floor` (the
/// purged position when the reader started; `None` for a reader starting
/// now) has been purged: the reader may hold its entry.
pub async fn changes(
    db: &impl GenericClient,
    account_id: i64,
    after: i64,
    floor: Option<i64>,
    limit: i64,
) -> Result<(FeedState, Option<Vec<ChangeRow>>), DbError> {
    let statement = db
        .prepare_cached(&format!(
            "WITH s AS ({STATE}) \
             SELECT s.last_seq, s.purged, s.catalog, x.* FROM s LEFT JOIN LATERAL ( \
               SELECT {COLUMNS}, e.change_seq, e.deleted_at IS NOT NULL AS deleted \
               FROM list_entries e JOIN anime a ON a.id = e.anime_id \
               WHERE e.account_id = $1 AND e.change_seq > $2 \
                 AND greatest($2, coalesce($4, s.purged)) >= s.purged \
               ORDER BY e.change_seq LIMIT $3) x ON true"
        ))
        .await?;
    let rows = db
        .query(&statement, &[&account_id, &after, &limit, &floor])
        .await?;
    let Some(first) = rows.first() else {
        return Err(DbError::Unexpected("the feed state row is missing".into()));
    };
    let state = state_of(first)?;
    if after.max(floor.unwrap_or(state.purged_through)) < state.purged_through {
        return Ok((state, None));
    }
    let mut changes = Vec::with_capacity(rows.len());
    for row in &rows {
        // The lateral side is all nulls when there is no change.
        if row.try_get::<_, Option<i64>>(3).ok().flatten().is_none() {
            continue;
        }
        let mut col = InOrder::new(row, 3);
        let entry = entry_from(&mut col)?;
        changes.push(ChangeRow {
            position: col.take("change_seq")?,
            deleted: col.take("deleted")?,
            entry,
        });
    }
    Ok((state, Some(changes)))
}

/// Deletes up to `batch` tombstones older than `retention_days` and records,
/// per account, the highest position purged; returns how many went.
pub async fn purge_tombstones(
    db: &impl GenericClient,
    retention_days: i32,
    batch: i64,
) -> Result<u64, DbError> {
    let statement = db
        .prepare_cached(
            "WITH gone AS ( \
               DELETE FROM list_entries WHERE id IN ( \
                 SELECT id FROM list_entries \
                 WHERE deleted_at < now() - make_interval(days => $1) \
                 ORDER BY deleted_at LIMIT $2) \
               RETURNING account_id, change_seq), \
             marked AS ( \
               UPDATE list_feeds f SET purged_through = greatest(f.purged_through, p.upto) \
               FROM (SELECT account_id, max(change_seq) AS upto FROM gone GROUP BY account_id) p \
               WHERE f.account_id = p.account_id) \
             SELECT count(*) FROM gone",
        )
        .await?;
    let count: i64 = db
        .query_one(&statement, &[&retention_days, &batch])
        .await?
        .get(0);
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Whether this transaction may purge: one purger at a time across every
/// instance (two purgers would lock feed rows in different orders).
pub async fn try_purge_lock(db: &impl GenericClient) -> Result<bool, DbError> {
    // The lock's key is arbitrary but fixed: 'purge' in ASCII.
    let statement = db
        .prepare_cached("SELECT pg_try_advisory_xact_lock(482955584357)")
        .await?;
    Ok(db.query_one(&statement, &[]).await?.get(0))
}
