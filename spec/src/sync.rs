//! Wire types of the sync protocol, added to v1 after its first
//! publication: the change feed, list pages, and the headers of conditional
//! requests and safe retries.
//!
//! The protocol in short: every change to an entry takes the next position
//! in its account's feed and bumps the entry's `rev`. Positions are handed
//! out under a per-account lock and commit in order, so a reader that has
//! seen position *n* has seen every change up to *n*: a cursor is a
//! position, never a time, and no change is skipped.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::types::ListEntry;

/// What happened to an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// The entry was added or changed: `entry` holds its state now.
    Upsert,
    /// The entry was deleted: `entry` is null. Its anime may be on the list
    /// again under a new entry id.
    Delete,
}

/// One entry's latest change.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ListChange {
    /// `upsert` or `delete`.
    pub op: ChangeOp,
    /// The entry's id.
    pub entry_id: i64,
    /// AniTrack's anime id of the entry.
    pub anime_id: i64,
    /// The entry's revision after this change (the `rev` of its last
    /// representation; a delete is a revision too).
    pub rev: i64,
    /// The entry as it is now; null for a `delete`.
    #[schemars(schema_with = "crate::types::nullable_object::<ListEntry>")]
    pub entry: Option<ListEntry>,
}

/// A page of the change feed.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ListChanges {
    /// Changes in the order they became visible; each entry at most once,
    /// with its latest state.
    pub data: Vec<ListChange>,
    /// Where to continue: pass it as `cursor` to get the next page (when
    /// `has_more`) or, from the last page, the changes made afterwards.
    /// Opaque: store it as given.
    pub next_cursor: String,
    /// More changes are waiting: ask again at once with `next_cursor`.
    pub has_more: bool,
}

/// Query of `GET /list/changes`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ListChangesParams {
    /// A `next_cursor` from an earlier answer; without it the feed starts
    /// from the beginning (every entry on the list, then the deletions still
    /// kept). A cursor that was not issued to this account is 422.
    pub cursor: Option<String>,
    /// Changes per page, 1 to 1000 (default 500).
    #[schemars(range(
        min = "crate::limits::PAGE_LIMIT_MIN",
        max = "crate::limits::PAGE_LIMIT_MAX"
    ))]
    pub limit: Option<u32>,
}

/// `If-None-Match` of the list reads: `304 Not Modified` (no body) when the
/// answer would carry one of the given `ETag`s.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ReadConditions {
    /// `ETag`s of answers the client holds, e.g. `"l42-0-6f1c"`, or `*`.
    #[serde(rename = "If-None-Match")]
    pub if_none_match: Option<String>,
}

/// `Idempotency-Key` of `POST /list`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct CreateConditions {
    /// A key the client made up for this request (e.g. a UUID), 1 to 255
    /// visible ASCII characters, optionally as a quoted string
    /// (draft-ietf-httpapi-idempotency-key-header). The first successful
    /// answer (status, body, `ETag`) is kept for 24 hours per account and
    /// key, in the write's own transaction, and replayed with
    /// `Idempotent-Replayed: true` for a retry with the same key and
    /// request; the same key with another body, entry or operation is 422,
    /// and a retry while the first request is still being processed (on any
    /// instance) is 409. A refused or failed request keeps nothing: retry it
    /// with the same key. A malformed key is 400.
    #[serde(rename = "Idempotency-Key")]
    pub idempotency_key: Option<String>,
}

/// `If-Match` and `Idempotency-Key` of `PATCH` and `DELETE /list/{entryId}`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct WriteConditions {
    /// The `ETag` of the entry as the client last saw it (or several,
    /// comma-separated, or `*` for any current state). When the entry has
    /// changed since, the write is refused with `412 Precondition Failed`:
    /// fetch the entry again and decide. A value that is not `*` or a list
    /// of quoted entity tags is 400.
    #[serde(rename = "If-Match")]
    pub if_match: Option<String>,
    /// As on `POST /list`.
    #[serde(rename = "Idempotency-Key")]
    pub idempotency_key: Option<String>,
}

/// Headers of an answer that carries one entry (documentation only: the
/// server writes them at run time). Header values are strings: dropshot
/// serializes typed headers from string fields only.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EntryHeaders {
    /// Strong validator of the entry's representation, e.g. `"e17-3-9b2d0c41"`;
    /// it changes whenever the body would (a new `rev`, or a change of the
    /// anime's summary in the catalog). Send it back as `If-Match`.
    #[serde(rename = "ETag")]
    pub etag: String,
    /// `true` when this is the kept answer of an earlier request with the
    /// same `Idempotency-Key`; absent otherwise.
    #[serde(rename = "Idempotent-Replayed")]
    pub replayed: Option<String>,
}

/// Headers of `DELETE /list/{entryId}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReplayHeaders {
    /// `true` when this is the kept answer of an earlier request with the
    /// same `Idempotency-Key`; absent otherwise.
    #[serde(rename = "Idempotent-Replayed")]
    pub replayed: Option<String>,
}

/// Headers of the list reads.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListHeaders {
    /// Strong validator of this answer: it changes whenever the list changes
    /// (a write, or a change of an anime's summary in the catalog). Send it
    /// back as `If-None-Match` to get `304 Not Modified` while nothing did.
    #[serde(rename = "ETag")]
    pub etag: String,
}
