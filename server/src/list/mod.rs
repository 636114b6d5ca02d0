//! The list: entry endpoints' domain logic.

pub mod conditions;
pub mod cursor;
pub mod feed;
pub mod input;
pub mod purge;
pub mod retry;
pub mod rules;
pub mod state;
pub mod streams;
pub mod write;

use crate::db::sql::Db;
use anitrack_spec::types::{AnimeSummary, ListEntry, ListStatus};

use futures_util::TryStreamExt as _;

use anitrack_spec::limits::{PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, PAGE_LIMIT_MIN};

use crate::auth::signing::SigningKey;
use crate::db::entries::{self, EntryRow};
use crate::db::feed as db_feed;
use crate::error::Error;
use crate::validate::QueryInput;
use feed::Conditional;
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
        rev: row.rev,
    })
}

/// What `GET /list` answers: the whole list as it is read, or one page.
pub enum ListRead {
    Whole(Box<Entries>),
    Page(EntryPage),
}

/// One page of `GET /list`.
pub struct EntryPage {
    pub data: Vec<ListEntry>,
    /// Where the next page starts; `None` on the last.
    pub next_cursor: Option<String>,
}

/// The list's `ETag`, read before its entries ([`list`]): a write in
/// between makes the tag older than the body, never newer, so a later 304
/// is never wrong. A read of its own so that it can travel with the
/// token's lookup (`Call::owner_then`): an unchanged list's 304 is then one
/// round trip.
pub async fn list_etag(db: &deadpool_postgres::Object, account_id: i64) -> Result<String, Error> {
    Ok(conditions::list_etag(
        &db_feed::state(db, account_id).await?,
    ))
}

/// `GET /list`: the account's entries (with `status`, `limit` and `cursor`
/// validated), or 304 while `If-None-Match` holds the list's `etag` (from
/// [`list_etag`], read first). The whole list is read as PostgreSQL sends
/// it; the transport writes it out (see [`Entries`]).
pub async fn list(
    client: deadpool_postgres::Object,
    streams: &Streams,
    key: &SigningKey,
    account_id: i64,
    query: &(dyn Fn(&str) -> Option<String> + Sync),
    etag: String,
    if_none_match: Option<&str>,
) -> Result<Conditional<ListRead>, Error> {
    let mut input = QueryInput::new(query);
    let status = input.choice("status", ListStatus::parse);
    let limit = input.integer("limit", PAGE_LIMIT_MIN, PAGE_LIMIT_MAX);
    let after = input.choice("cursor", |raw| cursor::read_page(key, account_id, raw));
    input.finish(())?;
    let status = status.map(ListStatus::as_str);
    if conditions::not_modified(if_none_match, &etag) {
        return Ok(Conditional::NotModified { etag });
    }
    if limit.is_some() || after.is_some() {
        let limit = limit.unwrap_or(PAGE_LIMIT_DEFAULT);
        let mut rows = entries::page(&client, account_id, status, after, limit + 1).await?;
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = match rows.last() {
            Some(last) if has_more => Some(cursor::page(key, account_id, last.updated_at, last.id)),
            _ => None,
        };
        let data = rows.into_iter().map(to_wire).collect::<Result<_, _>>()?;
        let page = EntryPage { data, next_cursor };
        return Ok(Conditional::Fresh {
            value: ListRead::Page(page),
            etag,
        });
    }
    let permit = streams.admit(account_id).await?;
    let rows = Box::pin(entries::list(&client, account_id, status).await?);
    let entries = Entries {
        rows,
        client,
        done: false,
        permit,
        stall: streams.stall,
    };
    Ok(Conditional::Fresh {
        value: ListRead::Whole(Box::new(entries)),
        etag,
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

/// `GET /list/anime/{animeId}`: the entry, or 304 while `If-None-Match`
/// holds its `ETag`.
pub async fn for_anime(
    client: &impl Db,
    account_id: i64,
    anime_id: i64,
    if_none_match: Option<&str>,
) -> Result<Conditional<ListEntry>, Error> {
    let row = entries::for_anime(client, account_id, anime_id)
        .await?
        .ok_or(Error::NotFound)?;
    let entry = to_wire(row)?;
    let etag = conditions::entry_etag(&entry)?;
    if conditions::not_modified(if_none_match, &etag) {
        return Ok(Conditional::NotModified { etag });
    }
    Ok(Conditional::Fresh { value: entry, etag })
}
