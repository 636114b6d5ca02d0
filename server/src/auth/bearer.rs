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

/// What a token's lookup found: its row and rate-limit window, if the
/// token exists.
pub type Found = Option<tokens::Found>;

/// A well-formed token on its way to being checked: the connection it will
/// be looked up on, checked out, and what this instance remembers of it.
pub struct Pending {
    hash: TokenHash,
    memory_key: String,
    /// The account this token authenticated as here lately (a hint).
    hint: Option<i64>,
    client: deadpool_postgres::Object,
    /// The unfamiliar lane's place, held until the lookup ends.
    lane: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Starts resolving `candidate` (the credentials of `Authorization:
/// Bearer`). Malformed tokens cost nothing; a token known here to be over
/// its limit is refused from memory; tokens not seen here lately wait for a
/// bounded lane of the pool, so a flood of made-up tokens cannot take every
/// connection.
pub async fn begin(
    db: &deadpool_postgres::Pool,
    memory: &Throttle,
    candidate: &str,
) -> Result<Result<Pending, Limit>, Error> {
    if !token::is_well_formed(candidate) {
        return Err(Error::Unauthenticated);
    }
    let hash = TokenHash::of(candidate);
    let memory_key = format!("token:{}", hash.hex());
    if let Some(limit) = memory.blocked(&memory_key) {
        return Ok(Err(limit));
    }
    let hint = memory.familiar_account(&hash.0);
    let lane = match hint {
        Some(_) => None,
        None => Some(memory.unfamiliar_lookup().await?),
    };
    let client = db.get().await?;
    Ok(Ok(Pending {
        hash,
        memory_key,
        hint,
        client,
        lane,
    }))
}

impl Pending {
    /// The connection the token is looked up on; the request's own
    /// statements may go out on it beside the lookup.
    pub fn db(&self) -> &deadpool_postgres::Object {
        &self.client
    }

    /// The account the token authenticated as on this instance lately.
    pub fn account_hint(&self) -> Option<i64> {
        self.hint
    }

    /// The token's lookup and its rate-limit hit: one statement. An unknown
    /// token costs one indexed read and no write.
    pub async fn lookup(&self) -> Result<Found, Error> {
        Ok(tokens::authenticate(&self.client, &self.hash.0, f64::from(MINUTE_SECS)).await?)
    }

    /// What the lookup found, judged.
    pub fn decide(self, memory: &Throttle, quota: u32, found: Found) -> Result<Bearer, Error> {
        let Pending {
            hash,
            memory_key,
            client,
            lane,
            ..
        } = self;
        drop(lane);
        // The index found the row by its hash; the comparison that decides
        // is ours, in constant time.
        let tokens::Found {
            principal, window, ..
        } = found
            .filter(|f| hash.matches(&f.stored_hash))
            .ok_or(Error::Unauthenticated)?;
        memory.make_familiar(&hash.0, principal.account.id);
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
}

/// Resolves `candidate` in full (see [`begin`]).
pub async fn authenticate(
    db: &deadpool_postgres::Pool,
    memory: &Throttle,
    quota: u32,
    candidate: &str,
) -> Result<Bearer, Error> {
    let pending = match begin(db, memory, candidate).await? {
        Ok(pending) => pending,
        Err(limit) => return Ok(Bearer::OverLimit(limit)),
    };
    let found = pending.lookup().await?;
    pending.decide(memory, quota, found)
}
