//! SQL for `server_secrets`: keys every instance must share.

use super::sql::Db;
use super::sql::params;

use super::DbError;

/// The secret called `name`: the one stored, or `candidate` if none was
/// (the first instance to start makes it; concurrent starts agree on one).
///
/// `DO UPDATE`, not `DO NOTHING`: when two instances start at once on a
/// fresh database, the second's insert waits for the first's, and only an
/// update returns the row the first committed (a read beside `DO NOTHING`
/// has the statement's snapshot, from before that commit, and finds
/// nothing). The update rewrites the name with itself; the secret stays.
pub async fn get_or_create(db: &impl Db, name: &str, candidate: &[u8]) -> Result<Vec<u8>, DbError> {
    let statement = "INSERT INTO server_secrets (name, secret) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET name = excluded.name \
             RETURNING secret";
    let row = db.row(statement, &params![name, candidate]).await?;
    Ok(row.get("secret"))
}
