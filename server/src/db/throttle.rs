//! SQL for `rate_limits`: fixed windows counted in PostgreSQL, so every
//! instance sharing the database sees the same counts. The window's rule
//! (when a window starts and ends, what a hit adds, the row lock that keeps
//! counts exact across instances) lives in the function `rate_limit_hit`
//! of migration V10; the statements here call it.

use super::sql::Db;
use super::sql::params;

use super::DbError;

/// One key's window after a hit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub key: String,
    pub hits: i32,
    /// Whole seconds until the window ends (at least 1).
    pub reset_in: i64,
    /// When the window ends, in Unix seconds.
    pub reset_at: i64,
}

/// The hit on every key `k` of `source` (a FROM item yielding a column
/// `k`), with a window of `$window` seconds: the function
/// `rate_limit_hit` (migration V10, the one home of the window's rule),
/// called once per key. Used inside other statements: the token creation
/// budget's hit under the account's lock (`db::tokens::insert_capped`) and
/// the sign-in limits ([`hit_then_email`]); authentication calls it from
/// its own function.
pub fn hit_sql(source: &str, window: usize) -> String {
    format!(
        "SELECT h.key, h.hits, h.reset_in, h.reset_at FROM {source}, \
         LATERAL rate_limit_hit(keys.k, ${window}::float8) AS h"
    )
}

pub fn window(row: &tokio_postgres::Row) -> Window {
    Window {
        key: row.get("key"),
        hits: row.get("hits"),
        reset_in: row.get("reset_in"),
        reset_at: row.get("reset_at"),
    }
}

/// Counts a hit on `first`, and on the email key of `email` only if that
/// left `first` at or under `gate` hits: a request refused for its first key
/// is not counted against the second. The email key is `email:` followed by
/// `email_key(email)`, the database's one definition of "the same address",
/// which the account lookup uses too. When `device` names the account that
/// `email` belongs to, the second key is `device:<id>` instead: a browser
/// that signed in to the account before has a counter of its own.
pub async fn hit_then_email(
    db: &impl Db,
    first: &str,
    email: Option<&str>,
    gate: i32,
    window_secs: f64,
    device: Option<(i64, &str)>,
) -> Result<Vec<Window>, DbError> {
    let sql = format!(
        "WITH first AS ({first}), second AS ({second}) \
         SELECT key, hits, reset_in, reset_at FROM first \
         UNION ALL SELECT key, hits, reset_in, reset_at FROM second",
        first = hit_sql("(SELECT $1::text AS k) AS keys", 3),
        second = hit_sql(
            "(SELECT CASE WHEN $5::bigint IS NOT NULL AND $5::bigint = \
                (SELECT id FROM accounts WHERE email_key(email) = email_key($2::text)) \
              THEN 'device:' || $6::text ELSE 'email:' || email_key($2::text) END AS k \
              WHERE $2::text IS NOT NULL AND (SELECT hits FROM first) <= $4::integer) AS keys",
            3
        ),
    );
    let statement = &sql;
    let (device_account, device_id) = device.unzip();
    Ok(db
        .rows(
            statement,
            &params![first, email, window_secs, gate, device_account, device_id],
        )
        .await?
        .iter()
        .map(window)
        .collect())
}

/// Deletes windows that ended more than a minute ago; returns how many.
pub async fn sweep(db: &impl Db) -> Result<u64, DbError> {
    let statement = "DELETE FROM rate_limits WHERE window_start < now() - interval '2 minutes' \
             AND window_start + make_interval(secs => window_secs + 60) < now()";
    db.run(statement, &params![]).await
}
