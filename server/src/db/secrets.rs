//! SQL for `server_secrets`: keys every instance must share.

use super::sql::Db;
use super::sql::params;

use super::DbError;

/// The secret called `name`: the one stored, or `candidate` if none was
/// (the first instance to start makes it; concurrent starts agree on one).
///
/// When two instances start at once on a fresh database, the second's
/// insert waits for the first's and then does nothing, and its read
/// cannot see the first's row either (the statement's snapshot predates
/// that commit): it finds no row. A second statement, with a new snapshot,
/// sees it.
pub async fn get_or_create(db: &impl Db, name: &str, candidate: &[u8]) -> Result<Vec<u8>, DbError> {
    if let Some(secret) = try_get_or_create(db, name, candidate).await? {
        return Ok(secret);
    }
    try_get_or_create(db, name, candidate)
        .await?
        .ok_or_else(|| DbError::Unexpected(format!("no secret {name} after a concurrent start")))
}

async fn try_get_or_create(
    db: &impl Db,
    name: &str,
    candidate: &[u8],
) -> Result<Option<Vec<u8>>, DbError> {
    let statement = "WITH made AS ( \
                 INSERT INTO server_secrets (name, secret) VALUES ($1, $2) \
                 ON CONFLICT (name) DO NOTHING RETURNING secret \
             ) \
             SELECT secret FROM made \
             UNION ALL SELECT secret FROM server_secrets WHERE name = $1 \
             LIMIT 1";
    let row = db.maybe_row(statement, &params![name, candidate]).await?;
    Ok(row.map(|row| row.get("secret")))
}
