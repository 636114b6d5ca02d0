//! SQL for `idempotency_keys`: the kept answers of writes sent with an
//! `Idempotency-Key`.

use super::sql::Db;
use super::sql::params;

use super::DbError;

/// An answer kept for a key.
#[derive(Clone, Debug)]
pub struct Kept {
    pub fingerprint: Vec<u8>,
    pub status: i16,
    pub body: Vec<u8>,
    pub etag: Option<String>,
}

/// Takes the key's lock for this transaction without waiting: false when
/// another transaction (on any instance) holds it, i.e. the first request
/// with the key is still running.
pub async fn try_lock(db: &impl Db, lock: i64) -> Result<bool, DbError> {
    let statement = "SELECT pg_try_advisory_xact_lock($1)";
    Ok(db.row(statement, &params![lock]).await?.get(0))
}

/// The answer kept for the key within the last `hours`. Call it after
/// [`try_lock`], in a statement of its own: its snapshot then includes
/// the commit of whoever held the lock before.
pub async fn find(
    db: &impl Db,
    account_id: i64,
    key: &str,
    hours: i32,
) -> Result<Option<Kept>, DbError> {
    let statement = "SELECT fingerprint, status, body, etag FROM idempotency_keys \
             WHERE account_id = $1 AND key = $2 AND created_at > now() - make_interval(hours => $3)";
    Ok(db
        .maybe_row(statement, &params![account_id, key, hours])
        .await?
        .map(|row| Kept {
            fingerprint: row.get(0),
            status: row.get(1),
            body: row.get(2),
            etag: row.get(3),
        }))
}

/// Keeps an answer (replacing one past its time).
pub async fn keep(db: &impl Db, account_id: i64, key: &str, kept: &Kept) -> Result<(), DbError> {
    let statement = "INSERT INTO idempotency_keys (account_id, key, fingerprint, status, body, etag) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (account_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, \
             status = excluded.status, body = excluded.body, etag = excluded.etag, created_at = now()";
    db.run(
        statement,
        &params![
            account_id,
            key,
            kept.fingerprint,
            kept.status,
            kept.body,
            kept.etag
        ],
    )
    .await?;
    Ok(())
}

/// Forgets answers older than `hours`; returns how many.
pub async fn purge(db: &impl Db, hours: i32) -> Result<u64, DbError> {
    let statement =
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)";
    db.run(statement, &params![hours]).await
}
