//! SQL for `api_tokens`.

use super::sql::Db;
use super::sql::params;
use chrono::{DateTime, Utc};

use super::DbError;
use super::accounts::Account;
use super::throttle::{self, Window};

#[derive(Clone, Debug)]
pub struct Token {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Who a request acts as: the token that authenticated it and its account.
#[derive(Clone, Debug)]
pub struct Principal {
    pub token_id: i64,
    pub account: Account,
}

/// A creation budget counted in the same transaction as the insert: a
/// rate-limit window (`db::throttle`) under `key`.
pub struct Budget<'a> {
    pub key: &'a str,
    /// Creations allowed per window: once a hit leaves the window past it,
    /// nothing is inserted.
    pub quota: i32,
    pub window_secs: f64,
}

/// What [`insert_capped`] did.
#[derive(Debug)]
pub struct Capped {
    /// The budget's window after this creation's hit, when there was a
    /// budget.
    pub window: Option<Window>,
    /// The new token; `None` when the budget was spent or the account
    /// already held `cap` live tokens.
    pub token: Option<Token>,
}

/// The insert under the cap of live tokens (`$4`), after the account's
/// row lock; the budgeted form adds its own condition and `RETURNING`.
const INSERT_CAPPED: &str = "INSERT INTO api_tokens (account_id, name, token_hash) \
     SELECT $1, $2, $3 \
     WHERE (SELECT count(*) FROM api_tokens \
            WHERE account_id = $1 AND revoked_at IS NULL) < $4";
const RETURNING_TOKEN: &str = " RETURNING id, name, created_at, last_used_at";

/// Inserts a token unless the account already has `cap` live ones. The
/// account's row is locked first, so concurrent creations for one account
/// count one after the other and can never pass the cap.
///
/// With a `budget`, the statement that takes the lock also counts a hit on
/// the budget's window (account row first, then the window's row: one
/// order for every creation), and the insert only happens while the window
/// is within its quota; the hit and the token commit together. The two
/// statements go out together and PostgreSQL runs them one after the
/// other, each on a snapshot of its own: the insert's is taken once the
/// lock is held, so it counts every token a creation before it committed,
/// and it sees this hit. In all: one checkout and three round trips
/// (`BEGIN`; lock and hit with the insert; `COMMIT`).
pub async fn insert_capped(
    db: &mut deadpool_postgres::Client,
    account_id: i64,
    name: &str,
    hash: &[u8],
    cap: i64,
    budget: Option<&Budget<'_>>,
) -> Result<Capped, DbError> {
    let tx = db.transaction().await?;
    let (window, row) = match budget {
        None => {
            let lock = "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE";
            tx.run(lock, &params![account_id]).await?;
            let insert = &format!("{INSERT_CAPPED}{RETURNING_TOKEN}");
            let row = tx
                .maybe_row(insert, &params![account_id, name, hash, cap])
                .await?;
            (None, row)
        }
        Some(budget) => {
            let lock_and_hit = &throttle::hit_sql(
                "(SELECT $2::text AS k FROM accounts WHERE id = $1 FOR UPDATE) AS keys",
                3,
            );
            let insert = &format!(
                "{INSERT_CAPPED} AND (SELECT hits FROM rate_limits WHERE key = $5) <= $6\
                     {RETURNING_TOKEN}"
            );
            // A query goes out when it is first polled, and `join` polls
            // these in this order: the lock and hit reach PostgreSQL first.
            // Both are awaited, so when the first fails (a lock timeout is
            // a 503) its error is the one reported, not the second's
            // "transaction is aborted".
            let (hit, row) = futures_util::future::join(
                tx.maybe_row(
                    lock_and_hit,
                    &params![account_id, budget.key, budget.window_secs],
                ),
                tx.maybe_row(
                    insert,
                    &params![account_id, name, hash, cap, budget.key, budget.quota],
                ),
            )
            .await;
            let hit =
                hit?.ok_or_else(|| DbError::Unexpected(format!("no account {account_id}")))?;
            let row = row?;
            (Some(throttle::window(&hit)), row)
        }
    };
    tx.commit().await?;
    Ok(Capped {
        window,
        token: row.map(|row| Token {
            id: row.get("id"),
            name: row.get("name"),
            created_at: row.get("created_at"),
            last_used_at: row.get("last_used_at"),
        }),
    })
}

/// A live token found by its hash, with the hash as stored (for the
/// caller's constant-time comparison) and the token's window after this hit.
pub struct Found {
    pub principal: Principal,
    pub stored_hash: Vec<u8>,
    pub window: Window,
}

/// Resolves a token hash to its live token and account, counts the
/// request against the token's rate limit, and records `last_used_at` (at
/// most once a minute): one statement, one round trip, in the function
/// `authenticate_token` (migration V10), whose plans PostgreSQL keeps per
/// connection even when statements go out unnamed (`--db-pooler
/// transaction`).
///
/// Both writes are bookkeeping, so the call commits without waiting for a
/// WAL flush: the hit lands in an unlogged table (migration V9), and the
/// function turns `synchronous_commit` off for its transaction alone, for
/// the `last_used_at` touch. A crash may lose the last fraction of a
/// second of touches (`wal_writer_delay`); nothing else rides on it.
pub async fn authenticate(
    db: &impl Db,
    hash: &[u8],
    window_secs: f64,
) -> Result<Option<Found>, DbError> {
    let sql = "SELECT token_id, token_hash, id, email, name, api_access, created_at, \
               key, hits, reset_in, reset_at FROM authenticate_token($1, $2)";
    let Some(row) = db.maybe_row(sql, &params![hash, window_secs]).await? else {
        return Ok(None);
    };
    let principal = Principal {
        token_id: row.get("token_id"),
        account: Account {
            id: row.get("id"),
            email: row.get("email"),
            name: row.get("name"),
            api_access: row.get("api_access"),
            created_at: row.get("created_at"),
        },
    };
    Ok(Some(Found {
        principal,
        stored_hash: row.get("token_hash"),
        window: throttle::window(&row),
    }))
}

/// The account's live tokens, newest first.
pub async fn list_active(db: &impl Db, account_id: i64) -> Result<Vec<Token>, DbError> {
    let statement = "SELECT id, name, created_at, last_used_at FROM api_tokens \
             WHERE account_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC";
    Ok(db
        .rows(statement, &params![account_id])
        .await?
        .iter()
        .map(|row| Token {
            id: row.get("id"),
            name: row.get("name"),
            created_at: row.get("created_at"),
            last_used_at: row.get("last_used_at"),
        })
        .collect())
}

/// Revokes a live token of the account; false if there is none with that id.
pub async fn revoke(db: &impl Db, account_id: i64, token_id: i64) -> Result<bool, DbError> {
    let statement = "UPDATE api_tokens SET revoked_at = now() \
             WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL";
    Ok(db.run(statement, &params![token_id, account_id]).await? == 1)
}
