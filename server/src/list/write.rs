//! `POST /list`, `PATCH` and `DELETE /list/{entryId}`: each write takes the
//! account's next feed position and bumps the entry's revision in one
//! transaction, honours `If-Match`, and keeps its answer for an
//! `Idempotency-Key` in that same transaction.

use anitrack_spec::error::FieldErrors;
use anitrack_spec::types::ListEntry;
use chrono::Utc;
use serde_json::Value;

use super::conditions::{IfMatch, entry_etag};
use super::retry::{Replay, Retry};
use super::state::EntryState;
use super::{rules, to_wire};
use crate::db::{entries, feed};
use crate::error::Error;
use crate::validate::Input;

/// What a write answers: its own result, or the kept answer of an earlier
/// request with the same `Idempotency-Key`.
pub enum Written<T> {
    Done(T),
    Replayed(Replay),
}

/// An entry as written, with its `ETag`.
pub struct Saved {
    pub entry: ListEntry,
    pub etag: String,
}

impl Saved {
    fn new(entry: ListEntry) -> Result<Saved, Error> {
        let etag = entry_etag(&entry)?;
        Ok(Saved { entry, etag })
    }

    fn body(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(&self.entry).map_err(|e| Error::Internal(e.to_string()))
    }
}

fn taken() -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add("anime_id", "The anime id has already been taken.");
    errors
}

/// Status codes kept for replays.
const CREATED: u16 = 201;
const OK: u16 = 200;
const NO_CONTENT: u16 = 204;

/// How a write's transaction ends.
enum End<T> {
    Commit(T),
    /// Nothing to keep: a replay, or a write that changed nothing.
    Rollback(Written<T>),
}

/// Ends the transaction as the write says, and on an error too. A dropped
/// transaction only queues its ROLLBACK: the advisory lock of an
/// `Idempotency-Key` could outlive the answer, and the client's next retry
/// (on another connection) would be told the first is still running.
async fn end<T>(
    tx: deadpool_postgres::Transaction<'_>,
    outcome: Result<End<T>, Error>,
) -> Result<Written<T>, Error> {
    match outcome {
        Ok(End::Commit(value)) => {
            tx.commit().await?;
            Ok(Written::Done(value))
        }
        Ok(End::Rollback(written)) => {
            tx.rollback().await?;
            Ok(written)
        }
        Err(error) => {
            // If even the rollback fails the connection is gone, and the
            // session's locks with it.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

/// `POST /list`.
pub async fn create(
    client: &mut deadpool_postgres::Client,
    account_id: i64,
    body: Value,
    retry: Option<Retry>,
) -> Result<Written<Saved>, Error> {
    let tx = client.transaction().await?;
    let outcome = create_in(&tx, account_id, body, retry).await;
    end(tx, outcome).await
}

async fn create_in(
    tx: &deadpool_postgres::Transaction<'_>,
    account_id: i64,
    body: Value,
    retry: Option<Retry>,
) -> Result<End<Saved>, Error> {
    if let Some(retry) = &retry
        && let Some(replay) = retry.claim(tx, account_id).await?
    {
        return Ok(End::Rollback(Written::Replayed(replay)));
    }
    let mut reader = Input::new(body).map_err(Error::Invalid)?;
    let anime_id = reader.anime_id();
    let fields = reader.entry_fields(true);
    let mut errors = reader.errors;
    let mut episodes = None;
    if let Some(id) = anime_id {
        match entries::anime_for_entry(tx, account_id, id).await? {
            None => errors.add("anime_id", "The selected anime id is invalid."),
            Some(anime) if anime.taken => {
                errors.add("anime_id", "The anime id has already been taken.")
            }
            Some(anime) => episodes = anime.episodes,
        }
    }
    let state = rules::merge(
        &rules::defaults(),
        fields,
        None,
        episodes,
        Utc::now().date_naive(),
        &mut errors,
    );
    let anime_id = match anime_id {
        Some(id) if errors.is_empty() => id,
        _ => return Err(Error::Invalid(errors)),
    };
    let position = feed::next_position(tx, account_id).await?;
    // A concurrent add of the same anime may win between the check and the
    // insert; the partial unique index decides and the loser gets the same 422.
    let Some(row) = entries::insert(tx, account_id, anime_id, &state.to_values(), position).await?
    else {
        return Err(Error::Invalid(taken()));
    };
    let saved = Saved::new(to_wire(row)?)?;
    if let Some(retry) = &retry {
        retry
            .keep(
                tx,
                account_id,
                CREATED,
                saved.body()?,
                Some(saved.etag.clone()),
            )
            .await?;
    }
    Ok(End::Commit(saved))
}

/// `PATCH /list/{entryId}`: lock, check `If-Match`, merge, validate, write
/// only if changed.
pub async fn update(
    client: &mut deadpool_postgres::Client,
    account_id: i64,
    entry_id: i64,
    body: Value,
    if_match: Option<IfMatch>,
    retry: Option<Retry>,
) -> Result<Written<Saved>, Error> {
    let tx = client.transaction().await?;
    let outcome = update_in(&tx, account_id, entry_id, body, if_match, retry).await;
    end(tx, outcome).await
}

async fn update_in(
    tx: &deadpool_postgres::Transaction<'_>,
    account_id: i64,
    entry_id: i64,
    body: Value,
    if_match: Option<IfMatch>,
    retry: Option<Retry>,
) -> Result<End<Saved>, Error> {
    if let Some(retry) = &retry
        && let Some(replay) = retry.claim(tx, account_id).await?
    {
        return Ok(End::Rollback(Written::Replayed(replay)));
    }
    // The feed row's lock, then the entry's (the one lock order of every
    // list write), sent together: PostgreSQL runs them in the order they
    // were sent, in one round trip. Both are awaited, so when the first
    // fails its error is the one reported, not the second's "transaction
    // is aborted".
    let (position, current) = futures_util::future::join(
        feed::next_position(tx, account_id),
        entries::lock(tx, account_id, entry_id),
    )
    .await;
    let position = position?;
    let current = current?.ok_or(Error::NotFound)?;
    let current_state = EntryState::from_values(current.values.clone())?;
    let episodes = current.anime_episodes;
    let before = Saved::new(to_wire(current)?)?;
    if let Some(if_match) = &if_match {
        if_match.check(&before.etag)?;
    }
    let mut reader = Input::new(body).map_err(Error::Invalid)?;
    let fields = reader.entry_fields(false);
    let mut errors = reader.errors;
    let next = rules::merge(
        &current_state,
        fields,
        Some(current_state.progress),
        episodes,
        Utc::now().date_naive(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let saved = if next == current_state {
        let Some(retry) = &retry else {
            // Nothing changed and nothing to keep.
            return Ok(End::Rollback(Written::Done(before)));
        };
        // Nothing changed, but the answer is kept: the position goes back,
        // so the list's ETag stays.
        feed::give_back_position(tx, account_id).await?;
        retry
            .keep(
                tx,
                account_id,
                OK,
                before.body()?,
                Some(before.etag.clone()),
            )
            .await?;
        return Ok(End::Commit(before));
    } else {
        let row = entries::update(tx, entry_id, &next.to_values(), position).await?;
        Saved::new(to_wire(row)?)?
    };
    if let Some(retry) = &retry {
        retry
            .keep(tx, account_id, OK, saved.body()?, Some(saved.etag.clone()))
            .await?;
    }
    Ok(End::Commit(saved))
}

/// `DELETE /list/{entryId}`: leaves a tombstone for the feed.
pub async fn delete(
    client: &mut deadpool_postgres::Client,
    account_id: i64,
    entry_id: i64,
    if_match: Option<IfMatch>,
    retry: Option<Retry>,
) -> Result<Written<()>, Error> {
    let tx = client.transaction().await?;
    let outcome = delete_in(&tx, account_id, entry_id, if_match, retry).await;
    end(tx, outcome).await
}

async fn delete_in(
    tx: &deadpool_postgres::Transaction<'_>,
    account_id: i64,
    entry_id: i64,
    if_match: Option<IfMatch>,
    retry: Option<Retry>,
) -> Result<End<()>, Error> {
    if let Some(retry) = &retry
        && let Some(replay) = retry.claim(tx, account_id).await?
    {
        return Ok(End::Rollback(Written::Replayed(replay)));
    }
    let position = feed::next_position(tx, account_id).await?;
    if let Some(if_match) = &if_match {
        let current = entries::lock(tx, account_id, entry_id)
            .await?
            .ok_or(Error::NotFound)?;
        if_match.check(&Saved::new(to_wire(current)?)?.etag)?;
    }
    if !entries::soft_delete(tx, account_id, entry_id, position).await? {
        return Err(Error::NotFound);
    }
    if let Some(retry) = &retry {
        retry
            .keep(tx, account_id, NO_CONTENT, Vec::new(), None)
            .await?;
    }
    Ok(End::Commit(()))
}
