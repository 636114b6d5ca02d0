//! SQL for `accounts`.

use super::sql::Db;
use super::sql::params;
use chrono::{DateTime, Utc};

use super::DbError;

#[derive(Clone, Debug)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub api_access: bool,
    pub created_at: DateTime<Utc>,
}

/// An account with its password hash, for sign-in only.
pub struct Credentials {
    pub account: Account,
    pub password_hash: String,
}

const COLUMNS: &str = "id, email, name, api_access, created_at";

fn account(row: &tokio_postgres::Row) -> Account {
    Account {
        id: row.get("id"),
        email: row.get("email"),
        name: row.get("name"),
        api_access: row.get("api_access"),
        created_at: row.get("created_at"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] DbError),
}

pub async fn create(
    db: &impl Db,
    email: &str,
    name: &str,
    password_hash: &str,
    api_access: bool,
) -> Result<Account, CreateError> {
    let sql = format!(
        "INSERT INTO accounts (email, name, password_hash, api_access) VALUES ($1, $2, $3, $4) \
         RETURNING {COLUMNS}"
    );
    match db
        .row(&sql, &params![email, name, password_hash, api_access])
        .await
    {
        Ok(row) => Ok(account(&row)),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
            Err(CreateError::EmailTaken)
        }
        Err(e) => Err(CreateError::Db(e)),
    }
}

pub async fn find_by_email(db: &impl Db, email: &str) -> Result<Option<Account>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE email_key(email) = email_key($1)");
    let statement = &sql;
    Ok(db
        .maybe_row(statement, &params![email])
        .await?
        .as_ref()
        .map(account))
}

pub async fn credentials_by_email(
    db: &impl Db,
    email: &str,
) -> Result<Option<Credentials>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS}, password_hash FROM accounts WHERE email_key(email) = email_key($1)"
    );
    let statement = &sql;
    Ok(db
        .maybe_row(statement, &params![email])
        .await?
        .map(|row| Credentials {
            account: account(&row),
            password_hash: row.get("password_hash"),
        }))
}

/// Sets the API-access flag; `None` if no such email.
pub async fn set_api_access(
    db: &impl Db,
    email: &str,
    enabled: bool,
) -> Result<Option<Account>, DbError> {
    let sql = format!(
        "UPDATE accounts SET api_access = $2, updated_at = now() WHERE email_key(email) = email_key($1) \
         RETURNING {COLUMNS}"
    );
    Ok(db
        .maybe_row(&sql, &params![email, enabled])
        .await?
        .as_ref()
        .map(account))
}
