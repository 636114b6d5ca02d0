//! SQL for `rate_limits`: fixed windows counted in PostgreSQL, so every
//! instance sharing the database sees the same counts.
//!
//! A window starts at a key's first request and lasts `window` seconds;
//! every request in it adds a hit (rejected ones too, which keeps a client
//! that hammers a closed window from learning anything new). The row lock
//! taken by the upsert serialises concurrent hits on one key, so counts are
//! exact across instances. Times come from the database's clock only.

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

/// The upsert that counts a hit on every key `k` of `$KEYS` (a FROM item),
/// with a window of `$WINDOW` seconds. Used inside other statements: the
/// authentication statement (`db::tokens::authenticate`), the token
/// creation budget's hit under the account's lock (`db::tokens::insert_capped`)
/// and the sign-in limits ([`hit_then_email`]).
const HIT: &str = "INSERT INTO rate_limits AS r (key, window_start, hits, window_secs) \
    SELECT k, now(), 1, $WINDOW::float8::integer FROM $KEYS \
    ON CONFLICT (key) DO UPDATE SET \
      window_secs = excluded.window_secs, \
      window_start = CASE WHEN r.window_start <= now() - make_interval(secs => $WINDOW::float8) \
                     THEN now() ELSE r.window_start END, \
      hits = CASE WHEN r.window_start <= now() - make_interval(secs => $WINDOW::float8) \
             THEN 1 ELSE r.hits + 1 END \
    RETURNING r.key, r.hits, \
      greatest(1, ceil(extract(epoch FROM r.window_start + make_interval(secs => $WINDOW::float8) - now())))::bigint AS reset_in, \
      ceil(extract(epoch FROM r.window_start + make_interval(secs => $WINDOW::float8)))::bigint AS reset_at";

/// The hit statement over the keys of `source` (a FROM item yielding a
/// column `k`), with the window length in parameter `$window`.
pub fn hit_sql(source: &str, window: usize) -> String {
    HIT.replace("$KEYS", source)
        .replace("$WINDOW", &format!("${window}"))
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
