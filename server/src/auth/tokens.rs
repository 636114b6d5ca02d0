//! An account's tokens, as their owner manages them.

use crate::db::sql::Db;

use crate::db::tokens as sql;
use crate::error::Error;

pub use crate::db::tokens::{Principal, Token};

/// The account's live tokens, newest first.
pub async fn list(client: &impl Db, account_id: i64) -> Result<Vec<Token>, Error> {
    Ok(sql::list_active(client, account_id).await?)
}

/// One live token of the account.
pub async fn find(
    client: &impl Db,
    account_id: i64,
    token_id: i64,
) -> Result<Option<Token>, Error> {
    Ok(list(client, account_id)
        .await?
        .into_iter()
        .find(|t| t.id == token_id))
}

/// Revokes a live token of the account; false if there is none with that
/// id (a concurrent revocation may have won: the token is gone either way).
pub async fn revoke(client: &impl Db, account_id: i64, token_id: i64) -> Result<bool, Error> {
    Ok(sql::revoke(client, account_id, token_id).await?)
}
