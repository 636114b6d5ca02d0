//! `GET /list/changes`: the account's changes after a cursor, in position
//! order (see migration V8 and `docs/sync.md`).

use anitrack_spec::limits::{PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, PAGE_LIMIT_MIN};
use anitrack_spec::sync::{ChangeOp, ListChange, ListChanges};
use deadpool_postgres::GenericClient;

use super::conditions::{list_etag, not_modified};
use super::{cursor, to_wire};
use crate::auth::signing::SigningKey;
use crate::db::feed;
use crate::error::Error;
use crate::validate::QueryInput;

/// A read that may be answered with `304 Not Modified`.
pub enum Conditional<T> {
    NotModified { etag: String },
    Fresh { value: T, etag: String },
}

/// `GET /list/changes`.
pub async fn changes(
    client: &impl GenericClient,
    key: &SigningKey,
    account_id: i64,
    query: &(dyn Fn(&str) -> Option<String> + Sync),
    if_none_match: Option<&str>,
) -> Result<Conditional<ListChanges>, Error> {
    let mut input = QueryInput::new(query);
    let limit = input.integer("limit", PAGE_LIMIT_MIN, PAGE_LIMIT_MAX);
    let after = input.choice("cursor", |raw| cursor::read_feed(key, account_id, raw));
    input.finish(())?;
    let limit = limit.unwrap_or(PAGE_LIMIT_DEFAULT);
    let (after, floor) = match after {
        Some(at) => (at.position, Some(at.floor)),
        None => (0, None),
    };
    // One more than asked tells whether more are waiting.
    let (state, rows) = feed::changes(client, account_id, after, floor, limit + 1).await?;
    let mut rows = rows.ok_or(Error::CursorGone)?;
    let etag = list_etag(&state);
    if not_modified(if_none_match, &etag) {
        return Ok(Conditional::NotModified { etag });
    }
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    // The state was read in the rows' snapshot, and positions commit in
    // order: once nothing more is waiting, every position up to `last_seq`
    // has been seen (an entry changed twice keeps only its last position).
    let next = match rows.last() {
        Some(last) if has_more => last.position,
        _ => state.last_seq.max(after),
    };
    let data = rows
        .into_iter()
        .map(|row| {
            let (entry_id, anime_id, rev) = (row.entry.id, row.entry.anime_id, row.entry.rev);
            Ok(ListChange {
                op: if row.deleted {
                    ChangeOp::Delete
                } else {
                    ChangeOp::Upsert
                },
                entry_id,
                anime_id,
                rev,
                entry: if row.deleted {
                    None
                } else {
                    Some(to_wire(row.entry)?)
                },
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(Conditional::Fresh {
        value: ListChanges {
            data,
            next_cursor: cursor::feed(
                key,
                account_id,
                cursor::FeedCursor {
                    position: next,
                    // A reader starting now needs none of what is purged.
                    floor: floor.unwrap_or(state.purged_through),
                },
            ),
            has_more,
        },
        etag,
    })
}
