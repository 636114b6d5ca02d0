//! The settings page's sign-in sessions: a random cookie value stands for
//! a row (kept as its SHA-256) with an idle and an absolute expiry.

use base64::Engine as _;
use chrono::Duration;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use crate::db::sessions as sql;
use crate::error::Error;

pub use crate::db::sessions::Session;

/// A session ends after this long without a request...
pub const IDLE: Duration = Duration::hours(2);
/// ...and after this long in any case.
pub const ABSOLUTE: Duration = Duration::hours(12);

/// A random, URL-safe value of 256 bits (session ids, CSRF tokens).
pub fn random_value() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn id_hash(cookie_value: &str) -> [u8; 32] {
    Sha256::digest(cookie_value.as_bytes()).into()
}

/// Starts a session for the account; returns the cookie's value.
pub async fn start(db: &deadpool_postgres::Pool, account_id: i64) -> Result<String, Error> {
    let value = random_value();
    let client = db.get().await?;
    sql::create(
        &client,
        &id_hash(&value),
        account_id,
        &random_value(),
        ABSOLUTE,
    )
    .await?;
    Ok(value)
}

/// The live session a cookie value stands for, its idle clock refreshed.
pub async fn resume(
    db: &deadpool_postgres::Pool,
    cookie_value: &str,
) -> Result<Option<Session>, Error> {
    let client = db.get().await?;
    Ok(sql::touch(&client, &id_hash(cookie_value), IDLE).await?)
}

/// Ends a session on the server (signing out).
pub async fn end(db: &deadpool_postgres::Pool, cookie_value: &str) -> Result<(), Error> {
    let client = db.get().await?;
    Ok(sql::delete(&client, &id_hash(cookie_value)).await?)
}

/// Deletes ended rate-limit windows and expired sessions; returns how many.
/// Every instance runs it; the deletes are idempotent.
pub async fn sweep(db: &deadpool_postgres::Pool) -> Result<u64, Error> {
    let client = db.get().await?;
    let windows = crate::db::throttle::sweep(&client).await?;
    let sessions = sql::sweep(&client, IDLE).await?;
    Ok(windows + sessions)
}

/// A secret every instance shares, made by the first that asks.
pub async fn shared_secret(db: &deadpool_postgres::Pool, name: &str) -> Result<Vec<u8>, Error> {
    let mut candidate = [0u8; 32];
    rand::rng().fill_bytes(&mut candidate);
    let client = db.get().await?;
    Ok(crate::db::secrets::get_or_create(&client, name, &candidate).await?)
}
