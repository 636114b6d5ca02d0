//! The list operations' transport: request headers in (`If-Match`,
//! `If-None-Match`, `Idempotency-Key`), `ETag`s, 304s and replayed answers
//! out. The rules themselves live in [`crate::list`].

use anitrack_spec::api::{ChangesPath, EntryForAnimePath, EntryPath};
use anitrack_spec::extract::RequestHeaders;
use anitrack_spec::reply::WithHeaders;
use anitrack_spec::routes;
use anitrack_spec::sync::{
    CreateConditions, EntryHeaders, ListChanges, ListHeaders, ReadConditions, ReplayHeaders,
    WriteConditions,
};
use anitrack_spec::types::{ListEntries, ListEntry};
use anitrack_spec::{QueryParams, StreamedOk};
use dropshot::{Body, HttpResponseCreated, HttpResponseDeleted, HttpResponseOk};
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::Value;

use crate::error::Error;
use crate::list::conditions::IfMatch;
use crate::list::feed::Conditional;
use crate::list::retry::{self, Replay, Retry};
use crate::list::write::{self, Saved, Written};
use crate::list::{self, ListRead};
use crate::request::{Call, OwnerRead};

const IF_NONE_MATCH: &str = "If-None-Match";
const IF_MATCH: &str = "If-Match";
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

fn etag(tag: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(tag).map_err(|e| Error::Internal(format!("ETag {tag:?}: {e}")))
}

/// A read's answer: the value with its `ETag`, or 304.
fn conditional<R, H, T>(
    read: Conditional<T>,
    respond: impl FnOnce(T) -> Result<R, Error>,
) -> Result<WithHeaders<R, H>, Error> {
    Ok(match read {
        Conditional::NotModified { etag: tag } => {
            WithHeaders::not_modified().header(http::header::ETAG, etag(&tag)?)
        }
        Conditional::Fresh { value, etag: tag } => {
            WithHeaders::new(respond(value)?).header(http::header::ETAG, etag(&tag)?)
        }
    })
}

/// A kept answer, sent again as it was first sent.
fn replayed<R, H>(replay: Replay) -> Result<WithHeaders<R, H>, Error> {
    let status = StatusCode::from_u16(replay.status)
        .map_err(|e| Error::Internal(format!("kept status {}: {e}", replay.status)))?;
    let mut answer = WithHeaders::kept(status, replay.body)
        .header(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    if let Some(tag) = replay.etag {
        answer = answer.header(http::header::ETAG, etag(&tag)?);
    }
    Ok(answer)
}

fn saved<R, H>(
    written: Written<Saved>,
    respond: impl FnOnce(ListEntry) -> R,
) -> Result<WithHeaders<R, H>, Error> {
    match written {
        Written::Replayed(replay) => replayed(replay),
        Written::Done(saved) => {
            Ok(WithHeaders::new(respond(saved.entry))
                .header(http::header::ETAG, etag(&saved.etag)?))
        }
    }
}

/// The `Idempotency-Key` of a write, bound to the request it came with.
fn retry_of<T>(
    headers: &RequestHeaders<T>,
    account_id: i64,
    operation: &str,
    entry_id: Option<i64>,
    body: &Value,
) -> Result<Option<Retry>, Error> {
    headers
        .get(IDEMPOTENCY_KEY)
        .map(|value| {
            let key = retry::parse_key(&value)?;
            Retry::new(account_id, key, operation, entry_id, body)
        })
        .transpose()
}

fn if_match<T>(headers: &RequestHeaders<T>) -> Result<Option<IfMatch>, Error> {
    headers
        .get(IF_MATCH)
        .map(|value| IfMatch::parse(&value))
        .transpose()
}

/// The page of a paged `GET /list`: `next_cursor` is always there (null
/// on the last page), unlike the whole list's body.
#[derive(serde::Serialize)]
struct PageBody<'a> {
    data: &'a [ListEntry],
    next_cursor: Option<&'a str>,
}

/// `GET /list`'s first read: the list's `ETag`.
struct ListTag;

impl OwnerRead for ListTag {
    type Output = String;

    async fn read(
        &self,
        db: &deadpool_postgres::Object,
        account_id: i64,
    ) -> Result<Self::Output, Error> {
        list::list_etag(db, account_id).await
    }
}

pub async fn entries(
    call: &Call<'_>,
    query: &QueryParams<anitrack_spec::types::ListParams>,
    headers: &RequestHeaders<ReadConditions>,
) -> Result<WithHeaders<StreamedOk<ListEntries>, ListHeaders>, Error> {
    // The list's tag travels with the token's lookup: an unchanged list's
    // 304 is one round trip, a changed one's entries a second.
    let (owner, etag) = call.owner_then(&ListTag).await?;
    let account_id = owner.account_id();
    let ctx = call.context();
    let get = |name: &str| query.get(name).map(String::from);
    let if_none_match = headers.get(IF_NONE_MATCH);
    let read = list::list(
        owner.db,
        &ctx.streams,
        &ctx.signing_key,
        account_id,
        &get,
        etag,
        if_none_match.as_deref(),
    )
    .await?;
    let body = match read {
        Conditional::NotModified { etag } => Conditional::NotModified { etag },
        Conditional::Fresh { value, etag } => Conditional::Fresh {
            value: match value {
                ListRead::Whole(entries) => super::list_body::body(*entries).await?,
                ListRead::Page(page) => {
                    let body = PageBody {
                        data: &page.data,
                        next_cursor: page.next_cursor.as_deref(),
                    };
                    let bytes =
                        serde_json::to_vec(&body).map_err(|e| Error::Internal(e.to_string()))?;
                    Body::from(bytes)
                }
            },
            etag,
        },
    };
    conditional(body, |body| Ok(StreamedOk::new(body)))
}

/// `GET /list/changes`' read.
struct Changes<'r> {
    key: &'r crate::auth::signing::SigningKey,
    query: &'r QueryParams<anitrack_spec::sync::ListChangesParams>,
    if_none_match: Option<String>,
}

impl OwnerRead for Changes<'_> {
    type Output = Conditional<ListChanges>;

    async fn read(
        &self,
        db: &deadpool_postgres::Object,
        account_id: i64,
    ) -> Result<Self::Output, Error> {
        let get = |name: &str| self.query.get(name).map(String::from);
        list::feed::changes(
            db,
            self.key,
            account_id,
            &get,
            self.if_none_match.as_deref(),
        )
        .await
    }
}

pub async fn changes(
    call: &Call<'_>,
    path: ChangesPath,
    query: &QueryParams<anitrack_spec::sync::ListChangesParams>,
    headers: &RequestHeaders<ReadConditions>,
) -> Result<WithHeaders<HttpResponseOk<ListChanges>, ListHeaders>, Error> {
    // Served at GET /list/{entryId}, which the contract does not have.
    if !routes::LIST_CHANGES.admits(&path.literal) {
        return Err(Error::MethodNotAllowed);
    }
    let read = Changes {
        key: &call.context().signing_key,
        query,
        if_none_match: headers.get(IF_NONE_MATCH),
    };
    // The poll travels with the token's lookup (one round trip).
    let (_owner, read) = call.owner_then(&read).await?;
    conditional(read, |changes| Ok(HttpResponseOk(changes)))
}

/// `GET /list/anime/{animeId}`'s read.
struct ForAnime {
    path: EntryForAnimePath,
    if_none_match: Option<String>,
}

impl OwnerRead for ForAnime {
    type Output = Conditional<ListEntry>;

    async fn read(
        &self,
        db: &deadpool_postgres::Object,
        account_id: i64,
    ) -> Result<Self::Output, Error> {
        if !routes::LIST_ENTRY_FOR_ANIME.admits(&self.path.literal) {
            return Err(Error::NotFound);
        }
        let anime_id = self.path.anime_id.get().ok_or(Error::NotFound)?;
        list::for_anime(db, account_id, anime_id, self.if_none_match.as_deref()).await
    }
}

pub async fn for_anime(
    call: &Call<'_>,
    path: EntryForAnimePath,
    headers: &RequestHeaders<ReadConditions>,
) -> Result<WithHeaders<HttpResponseOk<ListEntry>, EntryHeaders>, Error> {
    let read = ForAnime {
        path,
        if_none_match: headers.get(IF_NONE_MATCH),
    };
    // The read travels with the token's lookup (one round trip).
    let (_owner, read) = call.owner_then(&read).await?;
    conditional(read, |entry| Ok(HttpResponseOk(entry)))
}

pub async fn create(
    call: &Call<'_>,
    headers: &RequestHeaders<CreateConditions>,
    body: Value,
) -> Result<WithHeaders<HttpResponseCreated<ListEntry>, EntryHeaders>, Error> {
    let mut owner = call.owner().await?;
    let account_id = owner.account_id();
    let retry = retry_of(headers, account_id, "list_entry_create", None, &body)?;
    let written = write::create(&mut owner.db, account_id, body, retry).await?;
    saved(written, HttpResponseCreated)
}

/// `PATCH` and `DELETE /list/changes` reach the entry handlers: another
/// method on a published path.
fn entry_id(call: &Call<'_>, path: EntryPath) -> Result<Option<i64>, Error> {
    if routes::LIST_CHANGES.is_published_path(call.request().uri().path()) {
        return Err(Error::MethodNotAllowed);
    }
    Ok(path.entry_id.get())
}

/// What a write to one entry starts from: its owner, the entry's id, and
/// the request's `If-Match` and `Idempotency-Key` (bound to `operation` and
/// `body`).
struct EntryWrite {
    owner: crate::request::Owner,
    entry_id: i64,
    if_match: Option<IfMatch>,
    retry: Option<Retry>,
}

async fn entry_write(
    call: &Call<'_>,
    path: EntryPath,
    headers: &RequestHeaders<WriteConditions>,
    operation: &str,
    body: &Value,
) -> Result<EntryWrite, Error> {
    let entry_id = entry_id(call, path)?;
    let owner = call.owner().await?;
    let entry_id = entry_id.ok_or(Error::NotFound)?;
    let if_match = if_match(headers)?;
    let retry = retry_of(headers, owner.account_id(), operation, Some(entry_id), body)?;
    Ok(EntryWrite {
        owner,
        entry_id,
        if_match,
        retry,
    })
}

pub async fn update(
    call: &Call<'_>,
    path: EntryPath,
    headers: &RequestHeaders<WriteConditions>,
    body: Value,
) -> Result<WithHeaders<HttpResponseOk<ListEntry>, EntryHeaders>, Error> {
    let w = entry_write(call, path, headers, "list_entry_update", &body).await?;
    let mut db = w.owner.db;
    let account_id = w.owner.principal.account.id;
    let written = write::update(&mut db, account_id, w.entry_id, body, w.if_match, w.retry).await?;
    saved(written, HttpResponseOk)
}

pub async fn delete(
    call: &Call<'_>,
    path: EntryPath,
    headers: &RequestHeaders<WriteConditions>,
) -> Result<WithHeaders<HttpResponseDeleted, ReplayHeaders>, Error> {
    let w = entry_write(call, path, headers, "list_entry_delete", &Value::Null).await?;
    let mut db = w.owner.db;
    let account_id = w.owner.principal.account.id;
    match write::delete(&mut db, account_id, w.entry_id, w.if_match, w.retry).await? {
        Written::Replayed(replay) => replayed(replay),
        Written::Done(()) => Ok(WithHeaders::new(HttpResponseDeleted())),
    }
}
