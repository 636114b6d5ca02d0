//! Bearer authentication: a token to the account it acts as, counted
//! against the token's rate limit.

use crate::auth::throttle::{Limit, MINUTE_SECS, Throttle};
use crate::auth::token::{self, TokenHash};
use crate::db::tokens::{self, Principal};
use crate::error::Error;

/// A token accepted, with the connection it was looked up on, for the
/// request's own statements.
pub struct Accepted {
    pub principal: Principal,
    pub limit: Limit,
    pub db: deadpool_postgres::Object,
}

/// What a well-formed bearer token turned out to be.
pub enum Bearer {
    /// A live token within its limit (the account's API-access flag is the
    /// caller's to check).
    Accepted(Box<Accepted>),
    /// A token over its limit: 429, with the limit for the headers.
    OverLimit(Limit),
}

/// Resolves `candidate` (the credentials of `Authorization: Bearer`).
/// Malformed tokens cost nothing; a token known here to be over its limit
/// is refused from memory; an unknown one costs one indexed read and no
/// write, and tokens not seen here lately wait for a bounded lane of the
/// pool, so a flood of made-up tokens cannot take every connection.
pub async fn authenticate(
    db: &deadpool_postgres::Pool,
    memory: &Throttle,
    quota: u32,
    candidate: &str,
) -> Result<Bearer, Error> {
    if !token::is_well_formed(candidate) {
        return Err(Error::Unauthenticated);
    }
    let hash = TokenHash::of(candidate);
    let memory_key = format!("token:{}", hash.hex());
    if let Some(limit) = memory.blocked(&memory_key) {
        return Ok(Bearer::OverLimit(limit));
    }
    let lane = if memory.is_familiar(&hash.0) {
        None
    } else {
        Some(memory.unfamiliar_lookup().await?)
    };
    let client = db.get().await?;
    let found = tokens::authenticate(&client, &hash.0, f64::from(MINUTE_SECS)).await?;
    drop(lane);
    // The index found the row by its hash; the comparison that decides is
    // ours, in constant time.
    let tokens::Found {
        principal, window, ..
    } = found
        .filter(|f| hash.matches(&f.stored_hash))
        .ok_or(Error::Unauthenticated)?;
    memory.make_familiar(&hash.0);
    let limit = Limit::counted("token", quota, MINUTE_SECS, window);
    if limit.exceeded() {
        memory.remember(&memory_key, &limit);
        return Ok(Bearer::OverLimit(limit));
    }
    Ok(Bearer::Accepted(Box::new(Accepted {
        principal,
        limit,
        db: client,
    })))
}
