//! The list: entry endpoints' domain logic.

pub mod input;
pub mod rules;
pub mod streams;

use anitrack_spec::error::FieldErrors;
use anitrack_spec::types::{AnimeSummary, ListEntry, ListStatus};
use chrono::Utc;
use deadpool_postgres::Pool;
use serde_json::Value;

use dropshot::Body;
use futures_util::TryStreamExt as _;
use tracing::Instrument as _;

use crate::db::DbError;
use crate::db::entries::{self, EntryRow};
use crate::error::Error;
use crate::http::streaming::{DataArray, WriteError};
use crate::validate::Input;
use streams::Streams;

pub fn to_wire(row: EntryRow) -> ListEntry {
    let s = row.state;
    ListEntry {
        id: row.id,
        anime_id: row.anime_id,
        anime: AnimeSummary {
            id: row.anime_id,
            slug: row.anime_slug,
            title: row.anime_title,
            episodes: row.anime_episodes,
            cover_image_url: row.anime_cover_image_url,
        },
        status: s.status,
        score: s.score,
        progress: s.progress,
        started_at: s.started_at,
        completed_at: s.completed_at,
        notes: s.notes,
        is_private: s.is_private,
        is_rewatching: s.is_rewatching,
        rewatch_count: s.rewatch_count,
        tags: s.tags,
        created_at: row.created_at.into(),
        updated_at: row.updated_at.into(),
    }
}

fn taken() -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add("anime_id", "The anime id has already been taken.");
    errors
}

/// `POST /list`.
pub async fn create(db: &Pool, account_id: i64, body: Value) -> Result<ListEntry, Error> {
    let mut reader = Input::new(body);
    let anime_id = reader.anime_id();
    let fields = reader.entry_fields(true);
    let mut errors = reader.errors;
    let client = db.get().await?;
    let mut episodes = None;
    if let Some(id) = anime_id {
        match entries::anime_for_entry(&client, account_id, id).await? {
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
    // A concurrent add of the same anime may win between the check and the
    // insert; the partial unique index decides and the loser gets the same 422.
    match entries::insert(&client, account_id, anime_id, &state).await? {
        Some(row) => Ok(to_wire(row)),
        None => Err(Error::Invalid(taken())),
    }
}

/// `PATCH /list/{entryId}`: lock, merge, validate, write only if changed.
pub async fn update(
    db: &Pool,
    account_id: i64,
    entry_id: i64,
    body: Value,
) -> Result<ListEntry, Error> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let current = entries::lock(&tx, account_id, entry_id)
        .await?
        .ok_or(Error::NotFound)?;
    let mut reader = Input::new(body);
    let fields = reader.entry_fields(false);
    let mut errors = reader.errors;
    let next = rules::merge(
        &current.state,
        fields,
        Some(current.state.progress),
        current.anime_episodes,
        Utc::now().date_naive(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    if next == current.state {
        return Ok(to_wire(current));
    }
    let row = entries::update(&tx, entry_id, &next).await?;
    tx.commit().await?;
    Ok(to_wire(row))
}

/// `DELETE /list/{entryId}`.
pub async fn delete(db: &Pool, account_id: i64, entry_id: i64) -> Result<(), Error> {
    let client = db.get().await?;
    if entries::soft_delete(&client, account_id, entry_id).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// `GET /list`, with its `status` filter validated, as a body that is
/// written while PostgreSQL still sends rows.
///
/// The response starts only once the first row (or the end) has arrived:
/// PostgreSQL sorts the whole list before it sends a row, so a failing or
/// timed-out query still gets its proper 5xx. A failure after that cuts the
/// transfer short (see [`DataArray`]) and is logged with the request id.
pub async fn list(
    db: &Pool,
    streams: &Streams,
    account_id: i64,
    status: Option<&str>,
) -> Result<Body, Error> {
    let status = match status.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match ListStatus::parse(text) {
            Some(status) => Some(status),
            None => {
                let mut errors = FieldErrors::new();
                errors.add("status", "The selected status is invalid.");
                return Err(Error::Invalid(errors));
            }
        },
    };
    let permit = streams.admit(account_id).await?;
    let client = db.get().await?;
    let mut rows = Box::pin(entries::list(&client, account_id, status).await?);
    let (mut array, body) = DataArray::open(streams.stall);
    let unexpected = |e: WriteError| Error::Db(DbError::Unexpected(e.to_string()));
    // The first entry is read and decoded before the answer starts. A
    // finished RowStream must not be polled again (it reports the closed
    // channel as an error), so an empty list ends here.
    let Some(row) = rows.try_next().await? else {
        array.close().await.map_err(unexpected)?;
        return Ok(body);
    };
    array
        .push(&to_wire(entries::entry(&row)?))
        .await
        .map_err(unexpected)?;
    tokio::spawn(
        async move {
            let written = write_rest(&mut array, rows.as_mut()).await;
            // Logged before `array` drops and cuts the transfer, so the line
            // is written by the time the client sees the cut.
            let outcome = match written {
                Ok(()) => array.close().await.map_err(Unfinished::Write),
                Err(unfinished) => {
                    log_unfinished(&unfinished);
                    drop(array);
                    Ok(())
                }
            };
            if let Err(unfinished) = outcome {
                log_unfinished(&unfinished);
            }
            // Read what is left so the connection goes back to the pool idle,
            // not with the rest of a result ahead of its next query.
            while let Ok(Some(_)) = rows.try_next().await {}
            drop(client);
            drop(permit);
        }
        .instrument(tracing::Span::current()),
    );
    Ok(body)
}

fn log_unfinished(unfinished: &Unfinished) {
    match unfinished {
        Unfinished::Write(WriteError::ClientGone) => {
            tracing::debug!("GET /list: the client left before the body was complete")
        }
        Unfinished::Write(WriteError::Stalled(after)) => {
            tracing::warn!(
                ?after,
                "GET /list: the client stopped reading; transfer cut"
            )
        }
        error => tracing::error!(error = %error, "GET /list: the body was cut short"),
    }
}

/// Writes the rows after the first, as they arrive.
async fn write_rest(
    array: &mut DataArray,
    mut rows: std::pin::Pin<&mut tokio_postgres::RowStream>,
) -> Result<(), Unfinished> {
    while let Some(row) = rows.try_next().await? {
        array.push(&to_wire(entries::entry(&row)?)).await?;
    }
    Ok(())
}

/// Why a streamed list stopped before its end.
#[derive(Debug, thiserror::Error)]
enum Unfinished {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl From<tokio_postgres::Error> for Unfinished {
    fn from(error: tokio_postgres::Error) -> Self {
        Unfinished::Db(error.into())
    }
}

/// `GET /list/anime/{animeId}`.
pub async fn for_anime(db: &Pool, account_id: i64, anime_id: i64) -> Result<ListEntry, Error> {
    let client = db.get().await?;
    entries::for_anime(&client, account_id, anime_id)
        .await?
        .map(to_wire)
        .ok_or(Error::NotFound)
}
