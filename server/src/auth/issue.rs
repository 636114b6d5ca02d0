//! `POST /auth/token`: credentials for a token.

use anitrack_spec::limits::TOKENS_ACTIVE_MAX;
use anitrack_spec::types::TokenIssueRequest;
use serde_json::Value;

use crate::auth::password::Passwords;
use crate::auth::throttle::{self, Limit, Throttle};
use crate::auth::token;
use crate::db::accounts::Account;
use crate::db::tokens::Token;
use crate::db::{DbError, accounts, tokens};
use crate::error::Error;
use crate::validate::Input;

/// Contract message for a wrong email or password.
pub const BAD_CREDENTIALS: &str = "The provided credentials are incorrect.";
pub use anitrack_spec::limits::DEVICE_NAME_MAX;
use anitrack_spec::limits::PASSWORD_MAX;

/// Validates the body; all failing fields at once.
pub fn validate(body: Value) -> Result<TokenIssueRequest, Error> {
    let mut input = Input::new(body).map_err(Error::Invalid)?;
    let email = input.required_email("email");
    let password = input.required_secret("password", PASSWORD_MAX);
    let device_name = input.required_string("device_name", DEVICE_NAME_MAX);
    match (email, password, device_name) {
        (Some(email), Some(password), Some(device_name)) if input.errors.is_empty() => {
            Ok(TokenIssueRequest {
                email,
                password,
                device_name,
            })
        }
        _ => Err(Error::Invalid(input.errors)),
    }
}

/// The account whose email and password these are. Unknown emails are
/// verified against a dummy hash, so timing does not reveal which emails
/// exist; any mismatch is the same 422 on `email`.
pub async fn check_credentials(
    db: &deadpool_postgres::Pool,
    passwords: &Passwords,
    email: &str,
    password: String,
) -> Result<Account, Error> {
    let credentials = {
        let client = db.get().await?;
        accounts::credentials_by_email(&client, email).await?
    };
    let (account, stored) = match credentials {
        Some(c) => (Some(c.account), Some(c.password_hash)),
        None => (None, None),
    };
    let verified = passwords.verify(password, stored).await?;
    match account {
        Some(account) if verified => Ok(account),
        _ => {
            let mut errors = anitrack_spec::error::FieldErrors::new();
            errors.add("email", BAD_CREDENTIALS);
            Err(Error::Invalid(errors))
        }
    }
}

/// Checks the credentials; the API-access flag is only revealed to someone
/// who knows the password. The caller then mints with [`mint_counted`],
/// which counts the creation against the account's hourly budget.
pub async fn sign_in_for_token(
    db: &deadpool_postgres::Pool,
    passwords: &Passwords,
    request: &TokenIssueRequest,
) -> Result<Account, Error> {
    let account =
        check_credentials(db, passwords, &request.email, request.password.clone()).await?;
    if !account.api_access {
        return Err(Error::ApiAccessDisabled);
    }
    Ok(account)
}

/// The message (on `device_name`) when the account holds the most tokens
/// it may.
pub fn too_many_tokens() -> String {
    format!(
        "This account already has {TOKENS_ACTIVE_MAX} active tokens, the most it may hold. \
         Revoke one you no longer use, then try again."
    )
}

/// The 422 (on `device_name`) for an account that holds the most tokens
/// it may.
fn at_cap() -> Error {
    let mut errors = anitrack_spec::error::FieldErrors::new();
    errors.add("device_name", too_many_tokens());
    Error::Invalid(errors)
}

/// Mints a token and stores it under the cap of active tokens (and the
/// `budget`, if any) on one pool connection; the stored outcome with the
/// token's plain text.
async fn store(
    db: &deadpool_postgres::Pool,
    account_id: i64,
    name: &str,
    budget: Option<&tokens::Budget<'_>>,
) -> Result<(tokens::Capped, String), Error> {
    let minted = token::mint();
    let mut client = db.get().await?;
    let stored = tokens::insert_capped(
        &mut client,
        account_id,
        name,
        &minted.hash.0,
        i64::from(TOKENS_ACTIVE_MAX),
        budget,
    )
    .await?;
    Ok((stored, minted.plain))
}

/// Mints and stores a token for an account, within the account's cap of
/// active tokens (else a 422 on `device_name`); returns it with its plain
/// text. No creation budget: this is the operator CLI's; requests go
/// through [`mint_counted`].
pub async fn mint_for(
    db: &deadpool_postgres::Pool,
    account_id: i64,
    name: &str,
) -> Result<(Token, String), Error> {
    match store(db, account_id, name, None).await? {
        (
            tokens::Capped {
                token: Some(token), ..
            },
            plain,
        ) => Ok((token, plain)),
        _ => Err(at_cap()),
    }
}

/// [`mint_for`] for a request: the creation is counted against the
/// account's hourly budget of `quota` (policy `token-creation`) in the
/// transaction that stores the token, after the account's row lock, so
/// one checkout and one commit do both. An account this instance already
/// saw over its budget is refused from memory, without the database.
///
/// Returns the budget after this attempt (for the rate-limit headers)
/// and the outcome: the token; a 429 when the budget was spent (nothing
/// minted); or a 422 on `device_name` at the cap (the attempt counts).
pub async fn mint_counted(
    db: &deadpool_postgres::Pool,
    memory: &Throttle,
    quota: u32,
    account_id: i64,
    name: &str,
) -> Result<(Limit, Result<(Token, String), Error>), Error> {
    let key = throttle::creation_key(account_id);
    if let Some(limit) = memory.blocked(&key) {
        return Ok((limit, Err(Error::TooManyAttempts)));
    }
    let budget = tokens::Budget {
        key: &key,
        quota: i32::try_from(quota).unwrap_or(i32::MAX),
        window_secs: f64::from(throttle::HOUR_SECS),
    };
    let (stored, plain) = store(db, account_id, name, Some(&budget)).await?;
    let window = stored.window.ok_or(Error::Db(DbError::Unexpected(
        "the token-creation budget was not counted".into(),
    )))?;
    let limit = Limit::counted(
        throttle::CREATION_POLICY,
        quota,
        throttle::HOUR_SECS,
        window,
    );
    memory.remember(&key, &limit);
    let outcome = match stored.token {
        _ if limit.exceeded() => Err(Error::TooManyAttempts),
        Some(token) => Ok((token, plain)),
        None => Err(at_cap()),
    };
    Ok((limit, outcome))
}
