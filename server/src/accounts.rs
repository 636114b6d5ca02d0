//! Accounts: creating them and switching their API access (the operator
//! CLI's domain), with the same email rules as sign-in.

use crate::auth::password;
use crate::db::DbError;
use crate::db::accounts as sql;
use crate::validate::{self, TextKind, forbidden_character};

pub use crate::db::accounts::Account;

/// Longest display name of an account.
pub const NAME_MAX: usize = 255;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("an account with email {0} already exists")]
    EmailTaken(String),
    #[error("no account with email {0}")]
    NoSuchAccount(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// An email as sign-in reads it, or why not.
fn email(raw: &str) -> Result<String, AccountError> {
    validate::email(raw).map_err(|message| {
        AccountError::Invalid(format!(
            "{:?} is not a valid email address ({message})",
            raw.trim()
        ))
    })
}

/// Creates an account with an Argon2id hash of `password`.
pub async fn create(
    db: &deadpool_postgres::Pool,
    email_address: &str,
    name: &str,
    password: String,
    api_access: bool,
) -> Result<Account, AccountError> {
    let email = email(email_address)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX {
        return Err(AccountError::Invalid(format!(
            "the name must be 1 to {NAME_MAX} characters"
        )));
    }
    if forbidden_character(name, TextKind::Line).is_some() {
        return Err(AccountError::Invalid(
            "the name must not contain control characters".into(),
        ));
    }
    let hash = tokio::task::spawn_blocking(move || password::hash_blocking(&password))
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))?
        .map_err(|e| AccountError::Hash(e.to_string()))?;
    let client = db.get().await.map_err(DbError::from)?;
    match sql::create(&client, &email, name, &hash, api_access).await {
        Ok(account) => Ok(account),
        Err(sql::CreateError::EmailTaken) => Err(AccountError::EmailTaken(email)),
        Err(sql::CreateError::Db(e)) => Err(e.into()),
    }
}

/// Sets the API-access flag of the account with this email.
pub async fn set_api_access(
    db: &deadpool_postgres::Pool,
    email: &str,
    enabled: bool,
) -> Result<Account, AccountError> {
    let client = db.get().await.map_err(DbError::from)?;
    sql::set_api_access(&client, email.trim(), enabled)
        .await?
        .ok_or_else(|| AccountError::NoSuchAccount(email.trim().to_string()))
}

/// The account with this email.
pub async fn find(db: &deadpool_postgres::Pool, email: &str) -> Result<Account, AccountError> {
    let client = db.get().await.map_err(DbError::from)?;
    sql::find_by_email(&client, email.trim())
        .await?
        .ok_or_else(|| AccountError::NoSuchAccount(email.trim().to_string()))
}
