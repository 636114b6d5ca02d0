//! Forgetting what the sync protocol keeps for a while: tombstones past
//! their retention (a cursor older than them is then 410) and answers kept
//! for `Idempotency-Key`s past their 24 hours.

use anitrack_spec::limits::IDEMPOTENCY_KEY_HOURS;

use crate::db::{feed, idempotency};
use crate::error::Error;

/// Tombstones deleted per transaction: each batch holds its rows' locks
/// only briefly.
const BATCH: i64 = 1000;

/// What one purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub tombstones: u64,
    pub idempotency_keys: u64,
}

/// Purges everything past its time. Every instance calls this; one at a
/// time does the work (the others find the purge lock taken and return).
pub async fn purge(db: &deadpool_postgres::Pool, tombstone_days: u32) -> Result<Purged, Error> {
    let days = i32::try_from(tombstone_days).unwrap_or(i32::MAX);
    let mut purged = Purged::default();
    let mut client = db.get().await?;
    loop {
        let tx = client.transaction().await?;
        if !feed::try_purge_lock(&tx).await? {
            return Ok(purged);
        }
        let gone = feed::purge_tombstones(&tx, days, BATCH).await?;
        if gone < BATCH as u64 {
            purged.idempotency_keys = idempotency::purge(&tx, IDEMPOTENCY_KEY_HOURS as i32).await?;
            tx.commit().await?;
            purged.tombstones += gone;
            return Ok(purged);
        }
        tx.commit().await?;
        purged.tombstones += gone;
    }
}
