//! SQL for `server_secrets`: keys every instance must share.

use super::sql::Db;
use super::sql::params;

use super::DbError;

/// The secret called `name`: the one stored, or `candidate` if none was
/// (the first instance to start makes it; concurrent starts agree on one).
pub async fn get_or_create(db: &impl Db, name: &str, candidate: &[u8]) -> Result<Vec<u8>, DbError> {
    let statement = "WITH made AS ( \
                 INSERT INTO server_secrets (name, secret) VALUES ($1, $2) \
                 ON CONFLICT (name) DO NOTHING RETURNING secret \
             ) \
             SELECT secret FROM made \
             UNION ALL SELECT secret FROM server_secrets WHERE name = $1 \
             LIMIT 1";
    let row = db.row(statement, &params![name, candidate]).await?;
    Ok(row.get("secret"))
}
