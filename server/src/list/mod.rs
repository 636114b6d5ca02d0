//! The list: entry endpoints' domain logic.

pub mod input;
pub mod rules;
pub mod state;
pub mod streams;

use anitrack_spec::error::FieldErrors;
use anitrack_spec::types::{AnimeSummary, ListEntry, ListStatus};
use chrono::Utc;
use deadpool_postgres::GenericClient;
use serde_json::Value;

use futures_util::TryStreamExt as _;

use crate::db::entries::{self, EntryRow};
use crate::error::Error;
use crate::validate::{Input, QueryInput};
use state::EntryState;
use streams::Streams;

/// An entry as the API shows it.
pub fn to_wire(row: EntryRow) -> Result<ListEntry, Error> {
    let s = EntryState::from_values(row.values)?;
    Ok(ListEntry {
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
    })
}

fn taken() -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add("anime_id", "The anime id has already been taken.");
    errors
}

/// `POST /list`.
pub async fn create(
    client: &impl GenericClient,
    account_id: i64,
    body: Value,
) -> Result<ListEntry, Error> {
    let mut reader = Input::new(body);
    let anime_id = reader.anime_id();
    let fields = reader.entry_fields(true);
    let mut errors = reader.errors;
    let mut episodes = None;
    if let Some(id) = anime_id {
        match entries::anime_for_entry(client, account_id, id).await? {
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
    match entries::insert(client, account_id, anime_id, &state.to_values()).await? {
        Some(row) => to_wire(row),
        None => Err(Error::Invalid(taken())),
    }
}

/// `PATCH /list/{entryId}`: lock, merge, validate, write only if changed.
pub async fn update(
    client: &mut deadpool_postgres::Client,
    account_id: i64,
    entry_id: i64,
    body: Value,
) -> Result<ListEntry, Error> {
    let tx = client.transaction().await?;
    let current = entries::lock(&tx, account_id, entry_id)
        .await?
        .ok_or(Error::NotFound)?;
    let current_state = EntryState::from_values(current.values.clone())?;
    let mut reader = Input::new(body);
    let fields = reader.entry_fields(false);
    let mut errors = reader.errors;
    let next = rules::merge(
        &current_state,
        fields,
        Some(current_state.progress),
        current.anime_episodes,
        Utc::now().date_naive(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    if next == current_state {
        return to_wire(current);
    }
    let row = entries::update(&tx, entry_id, &next.to_values()).await?;
    tx.commit().await?;
    to_wire(row)
}

/// `DELETE /list/{entryId}`.
pub async fn delete(
    client: &impl GenericClient,
    account_id: i64,
    entry_id: i64,
) -> Result<(), Error> {
    if entries::soft_delete(client, account_id, entry_id).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// `GET /list`: the account's entries (with `status` validated), read as
/// PostgreSQL sends them; the transport writes them out (see [`Entries`]).
pub async fn list(
    client: deadpool_postgres::Object,
    streams: &Streams,
    account_id: i64,
    query: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Entries, Error> {
    let mut input = QueryInput::new(query);
    let status = input.choice("status", ListStatus::parse);
    input.finish(())?;
    let permit = streams.admit(account_id).await?;
    let status = status.map(ListStatus::as_str);
    let rows = Box::pin(entries::list(&client, account_id, status).await?);
    Ok(Entries {
        rows,
        client,
        done: false,
        permit,
        stall: streams.stall,
    })
}

/// The entries of a list being read. It holds its pool connection (and its
/// place among the streams) until [`Entries::finish`] or drop.
pub struct Entries {
    rows: std::pin::Pin<Box<tokio_postgres::RowStream>>,
    client: deadpool_postgres::Object,
    /// A finished RowStream must not be polled again (it reports the closed
    /// channel as an error).
    done: bool,
    permit: streams::StreamPermit,
    /// How long the client may take no data before the transfer is cut.
    pub stall: std::time::Duration,
}

impl Entries {
    /// The next entry, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<ListEntry>, Error> {
        if self.done {
            return Ok(None);
        }
        match self.rows.try_next().await? {
            Some(row) => Ok(Some(to_wire(entries::entry(&row)?)?)),
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }

    /// The client is done with the transfer (see
    /// [`streams::StreamPermit::end_transfer`]).
    pub fn end_transfer(&mut self) {
        self.permit.end_transfer();
    }

    /// Reads what is left, so the connection goes back to the pool idle,
    /// not with the rest of a result ahead of its next query.
    pub async fn finish(mut self) {
        if !self.done {
            while let Ok(Some(_)) = self.rows.try_next().await {}
        }
        drop(self.client);
    }
}

/// `GET /list/anime/{animeId}`.
pub async fn for_anime(
    client: &impl GenericClient,
    account_id: i64,
    anime_id: i64,
) -> Result<ListEntry, Error> {
    entries::for_anime(client, account_id, anime_id)
        .await?
        .map(to_wire)
        .ok_or(Error::NotFound)?
}
