//! SQL for `list_entries`. Every statement is scoped to the account.

use super::sql::Db;
use super::sql::params;
use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::RowStream;

use super::DbError;

/// The columns a client can set, as stored (`status` is the column's text;
/// the list module gives it meaning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryValues {
    pub status: String,
    pub score: Option<i32>,
    pub progress: i32,
    pub started_at: Option<NaiveDate>,
    pub completed_at: Option<NaiveDate>,
    pub notes: Option<String>,
    pub is_private: bool,
    pub is_rewatching: bool,
    pub rewatch_count: i32,
    pub tags: Vec<String>,
}

impl EntryValues {
    /// The values as statement parameters `$1` to `$10`, in the order of
    /// the fields; the statement's own parameters follow from `$11`.
    fn params(&self) -> Vec<super::sql::Typed<'_>> {
        params![
            self.status,
            self.score,
            self.progress,
            self.started_at,
            self.completed_at,
            self.notes,
            self.is_private,
            self.is_rewatching,
            self.rewatch_count,
            self.tags
        ]
        .to_vec()
    }
}

/// A stored entry with the summary of its anime.
#[derive(Clone, Debug)]
pub struct EntryRow {
    pub id: i64,
    pub values: EntryValues,
    pub anime_id: i64,
    pub anime_slug: String,
    pub anime_title: String,
    pub anime_episodes: Option<i32>,
    pub anime_cover_image_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// +1 on every change (see migration V8).
    pub rev: i64,
}

/// Columns of an entry joined with its anime (`e`, `a`). [`entry`] reads
/// them by position, in this order: by name, `Row::get` scans the column
/// names for every field, 7 % of the server's CPU on a 5,000-entry list.
pub(super) const COLUMNS: &str = "e.id, e.status, e.score, e.progress, e.started_at, e.completed_at, e.notes, \
    e.is_private, e.is_rewatching, e.rewatch_count, e.tags, e.created_at, e.updated_at, e.rev, \
    a.id AS anime_id, a.slug AS anime_slug, a.title AS anime_title, a.episodes AS anime_episodes, \
    a.cover_image_url AS anime_cover_image_url";

/// The account's live entries joined with their anime; `$1` is the account.
fn live() -> String {
    format!(
        "SELECT {COLUMNS} FROM list_entries e JOIN anime a ON a.id = e.anime_id \
         WHERE e.account_id = $1 AND e.deleted_at IS NULL"
    )
}

/// Reads a row's columns one after the other.
pub(super) struct InOrder<'r> {
    row: &'r tokio_postgres::Row,
    next: usize,
}

impl<'r> InOrder<'r> {
    /// A reader whose first column is `start`.
    pub(super) fn new(row: &'r tokio_postgres::Row, start: usize) -> Self {
        InOrder { row, next: start }
    }

    /// The next column, which must be `name` (checked in debug builds, which
    /// the conformance suite runs, so a reordered `COLUMNS` fails there).
    pub(super) fn take<T: tokio_postgres::types::FromSql<'r>>(
        &mut self,
        name: &str,
    ) -> Result<T, DbError> {
        let index = self.next;
        self.next += 1;
        debug_assert_eq!(
            self.row.columns().get(index).map(|c| c.name()),
            Some(name),
            "COLUMNS and entry() disagree at {index}"
        );
        self.row
            .try_get(index)
            .map_err(|e| DbError::Unexpected(format!("column {name}: {e}")))
    }
}

pub fn entry(row: &tokio_postgres::Row) -> Result<EntryRow, DbError> {
    entry_from(&mut InOrder::new(row, 0))
}

/// An entry read from [`COLUMNS`] at the reader's position.
pub(super) fn entry_from(col: &mut InOrder<'_>) -> Result<EntryRow, DbError> {
    let id = col.take("id")?;
    let values = EntryValues {
        status: col.take("status")?,
        score: col.take("score")?,
        progress: col.take("progress")?,
        started_at: col.take("started_at")?,
        completed_at: col.take("completed_at")?,
        notes: col.take("notes")?,
        is_private: col.take("is_private")?,
        is_rewatching: col.take("is_rewatching")?,
        rewatch_count: col.take("rewatch_count")?,
        tags: col.take("tags")?,
    };
    Ok(EntryRow {
        id,
        values,
        created_at: col.take("created_at")?,
        updated_at: col.take("updated_at")?,
        rev: col.take("rev")?,
        anime_id: col.take("anime_id")?,
        anime_slug: col.take("anime_slug")?,
        anime_title: col.take("anime_title")?,
        anime_episodes: col.take("anime_episodes")?,
        anime_cover_image_url: col.take("anime_cover_image_url")?,
    })
}

/// What `POST /list` needs to know about an anime before adding it.
pub struct AnimeForEntry {
    pub episodes: Option<i32>,
    /// Already live on this account's list.
    pub taken: bool,
}

pub async fn anime_for_entry(
    db: &impl Db,
    account_id: i64,
    anime_id: i64,
) -> Result<Option<AnimeForEntry>, DbError> {
    let statement = "SELECT a.episodes, EXISTS (SELECT 1 FROM list_entries e WHERE e.account_id = $2 \
             AND e.anime_id = a.id AND e.deleted_at IS NULL) AS taken FROM anime a WHERE a.id = $1";
    Ok(db
        .maybe_row(statement, &params![anime_id, account_id])
        .await?
        .map(|row| AnimeForEntry {
            episodes: row.get("episodes"),
            taken: row.get("taken"),
        }))
}

/// `None` when the account already has a live entry for the anime (the
/// partial unique index decided, even under concurrency). `position` is the
/// account's feed position taken by this transaction.
pub async fn insert(
    db: &impl Db,
    account_id: i64,
    anime_id: i64,
    s: &EntryValues,
    position: i64,
) -> Result<Option<EntryRow>, DbError> {
    let statement = &format!(
        "WITH e AS (INSERT INTO list_entries (status, score, progress, started_at, \
             completed_at, notes, is_private, is_rewatching, rewatch_count, tags, \
             account_id, anime_id, change_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *) \
             SELECT {COLUMNS} FROM e JOIN anime a ON a.id = e.anime_id"
    );
    let mut values = s.params();
    values.extend(params![account_id, anime_id, position]);
    let result = db.row(statement, &values).await;
    match result {
        Ok(row) => entry(&row).map(Some),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The account's live entries, newest update first, optionally by status,
/// as rows arrive from the server (decode each with [`entry`]).
pub async fn list(
    db: &impl Db,
    account_id: i64,
    status: Option<&str>,
) -> Result<RowStream, DbError> {
    let statement = &format!(
        "{} AND ($2::text IS NULL OR e.status = $2) ORDER BY e.updated_at DESC, e.id DESC",
        live()
    );
    db.stream(statement, &params![account_id, status]).await
}

pub async fn for_anime(
    db: &impl Db,
    account_id: i64,
    anime_id: i64,
) -> Result<Option<EntryRow>, DbError> {
    one_live(db, "AND e.anime_id = $2", account_id, anime_id).await
}

/// A live entry of the account, locked for update until the transaction ends.
pub async fn lock(
    db: &impl Db,
    account_id: i64,
    entry_id: i64,
) -> Result<Option<EntryRow>, DbError> {
    one_live(db, "AND e.id = $2 FOR UPDATE OF e", account_id, entry_id).await
}

/// At most one of the account's live entries, picked by `filter` on `$2`.
async fn one_live(
    db: &impl Db,
    filter: &str,
    account_id: i64,
    key: i64,
) -> Result<Option<EntryRow>, DbError> {
    let statement = &format!("{} {filter}", live());
    db.maybe_row(statement, &params![account_id, key])
        .await?
        .as_ref()
        .map(entry)
        .transpose()
}

/// A new state of a locked entry, at feed `position`, one revision later.
pub async fn update(
    db: &impl Db,
    entry_id: i64,
    s: &EntryValues,
    position: i64,
) -> Result<EntryRow, DbError> {
    let statement = &format!(
        "WITH e AS (UPDATE list_entries SET status = $1, score = $2, progress = $3, started_at = $4, \
             completed_at = $5, notes = $6, is_private = $7, is_rewatching = $8, rewatch_count = $9, \
             tags = $10, updated_at = now(), rev = rev + 1, change_seq = $12 WHERE id = $11 RETURNING *) \
             SELECT {COLUMNS} FROM e JOIN anime a ON a.id = e.anime_id"
    );
    let mut values = s.params();
    values.extend(params![entry_id, position]);
    let row = db.row(statement, &values).await?;
    entry(&row)
}

/// Soft delete at feed `position`, leaving a tombstone one revision later;
/// false if the account has no such live entry.
pub async fn soft_delete(
    db: &impl Db,
    account_id: i64,
    entry_id: i64,
    position: i64,
) -> Result<bool, DbError> {
    let statement = "UPDATE list_entries SET deleted_at = now(), updated_at = now(), rev = rev + 1, \
             change_seq = $3 WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL";
    Ok(db
        .run(statement, &params![entry_id, account_id, position])
        .await?
        == 1)
}

/// One page of the account's live entries in `GET /list` order, after the
/// entry `(updated_at, id)` of the previous page's last one.
pub async fn page(
    db: &impl Db,
    account_id: i64,
    status: Option<&str>,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> Result<Vec<EntryRow>, DbError> {
    let statement = &format!(
        "{} AND ($2::text IS NULL OR e.status = $2) \
             AND ($3::timestamptz IS NULL OR (e.updated_at, e.id) < ($3, $4)) \
             ORDER BY e.updated_at DESC, e.id DESC LIMIT $5",
        live()
    );
    let (at, id) = match after {
        Some((at, id)) => (Some(at), id),
        None => (None, 0),
    };
    db.rows(statement, &params![account_id, status, at, id, limit])
        .await?
        .iter()
        .map(entry)
        .collect()
}
