//! SQL for `web_sessions`: the settings page's sign-in sessions.

use super::sql::Db;
use super::sql::params;
use chrono::Duration;

use super::DbError;
use super::accounts::Account;

/// A live session and its account.
#[derive(Clone)]
pub struct Session {
    pub account: Account,
    pub csrf_token: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("account", &self.account)
            .field("csrf_token", &"[redacted]")
            .finish()
    }
}

pub async fn create(
    db: &impl Db,
    id_hash: &[u8; 32],
    account_id: i64,
    csrf_token: &str,
    absolute: Duration,
) -> Result<(), DbError> {
    let statement = "INSERT INTO web_sessions (id_hash, account_id, csrf_token, expires_at) \
             VALUES ($1, $2, $3, now() + make_interval(secs => $4::float8))";
    db.run(
        statement,
        &params![
            id_hash.as_slice(),
            account_id,
            csrf_token,
            (absolute.num_seconds() as f64)
        ],
    )
    .await?;
    Ok(())
}

/// The live session for a cookie, refreshing its idle clock; `None` when
/// unknown, idle longer than `idle`, or past its absolute expiry.
pub async fn touch(
    db: &impl Db,
    id_hash: &[u8; 32],
    idle: Duration,
) -> Result<Option<Session>, DbError> {
    let statement = "WITH s AS (UPDATE web_sessions SET last_seen_at = now() \
               WHERE id_hash = $1 AND expires_at > now() \
                 AND last_seen_at > now() - make_interval(secs => $2::float8) \
               RETURNING account_id, csrf_token) \
             SELECT a.id, a.email, a.name, a.api_access, a.created_at, s.csrf_token \
             FROM s JOIN accounts a ON a.id = s.account_id";
    let row = db
        .maybe_row(
            statement,
            &params![id_hash.as_slice(), (idle.num_seconds() as f64)],
        )
        .await?;
    Ok(row.map(|row| Session {
        account: Account {
            id: row.get("id"),
            email: row.get("email"),
            name: row.get("name"),
            api_access: row.get("api_access"),
            created_at: row.get("created_at"),
        },
        csrf_token: row.get("csrf_token"),
    }))
}

pub async fn delete(db: &impl Db, id_hash: &[u8; 32]) -> Result<(), DbError> {
    let statement = "DELETE FROM web_sessions WHERE id_hash = $1";
    db.run(statement, &params![id_hash.as_slice()]).await?;
    Ok(())
}

/// Deletes expired sessions; returns how many.
pub async fn sweep(db: &impl Db, idle: Duration) -> Result<u64, DbError> {
    let statement = "DELETE FROM web_sessions WHERE expires_at <= now() \
             OR last_seen_at <= now() - make_interval(secs => $1::float8)";
    db.run(statement, &params![(idle.num_seconds() as f64)])
        .await
}
