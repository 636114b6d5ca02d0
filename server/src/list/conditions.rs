//! Validators of the sync protocol: `ETag`s, and the `If-Match` /
//! `If-None-Match` rules that compare them (RFC 9110 §8.8.3, §13.1).

use anitrack_spec::types::ListEntry;
use sha2::{Digest as _, Sha256};

use crate::db::feed::FeedState;
use crate::error::Error;

/// The strong `ETag` of an entry's representation: its id and revision,
/// and digits of a digest of the whole body, so that a change of the
/// anime's summary in the catalog (which does not change `rev`) changes it
/// too.
pub fn entry_etag(entry: &ListEntry) -> Result<String, Error> {
    let body = serde_json::to_vec(entry).map_err(|e| Error::Internal(e.to_string()))?;
    let digest = Sha256::digest(&body);
    Ok(format!(
        "\"e{}-{}-{:02x}{:02x}{:02x}{:02x}\"",
        entry.id, entry.rev, digest[0], digest[1], digest[2], digest[3]
    ))
}

/// The `ETag` of a list read (`GET /list`, `GET /list/changes`): per URL,
/// the answer is a function of the account's feed position, the tombstones
/// purged and the catalog's version.
pub fn list_etag(state: &FeedState) -> String {
    format!(
        "\"l{}-{}-{:x}\"",
        state.last_seq, state.purged_through, state.catalog_version
    )
}

/// One entity tag of a list: `W/"..."` or `"..."`.
struct Tag<'a> {
    weak: bool,
    /// With its quotes, as an `ETag` header carries it.
    quoted: &'a str,
}

/// `*` or a comma-separated list of entity tags; `None` if malformed.
fn parse(value: &str) -> Option<Option<Vec<Tag<'_>>>> {
    let trimmed = value.trim();
    if trimmed == "*" {
        return Some(None);
    }
    let mut tags = Vec::new();
    let mut rest = trimmed;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (weak, after) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let inner = after.strip_prefix('"')?;
        let end = inner.find('"')?;
        let opaque = &inner[..end];
        // etagc: %x21 / %x23-7E / obs-text.
        if opaque
            .chars()
            .any(|c| c == '"' || (c as u32) < 0x21 || c == '\u{7f}')
        {
            return None;
        }
        tags.push(Tag {
            weak,
            quoted: &after[..end + 2],
        });
        rest = &inner[end + 1..];
        let next = rest.trim_start_matches([' ', '\t']);
        if !(next.is_empty() || next.starts_with(',')) {
            return None;
        }
        rest = next;
    }
    if tags.is_empty() {
        None
    } else {
        Some(Some(tags))
    }
}

/// A parsed `If-Match`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current state.
    Any,
    /// Strong tags; a weak tag never matches, so it is not kept.
    Tags(Vec<String>),
}

pub const IF_MATCH_MALFORMED: &str =
    "The If-Match header must be * or a list of quoted entity tags.";

impl IfMatch {
    /// Parses the header; a malformed value is a 400.
    pub fn parse(value: &str) -> Result<IfMatch, Error> {
        match parse(value) {
            None => Err(Error::BadHeader(IF_MATCH_MALFORMED)),
            Some(None) => Ok(IfMatch::Any),
            Some(Some(tags)) => Ok(IfMatch::Tags(
                tags.into_iter()
                    .filter(|t| !t.weak)
                    .map(|t| t.quoted.to_string())
                    .collect(),
            )),
        }
    }

    /// Strong comparison with the current `ETag`.
    pub fn admits(&self, current: &str) -> bool {
        match self {
            IfMatch::Any => true,
            IfMatch::Tags(tags) => tags.iter().any(|t| t == current),
        }
    }

    /// `Err(PreconditionFailed)` unless the current `ETag` is admitted.
    pub fn check(&self, current: &str) -> Result<(), Error> {
        if self.admits(current) {
            Ok(())
        } else {
            Err(Error::PreconditionFailed)
        }
    }
}

/// Whether `If-None-Match` holds the current `ETag` (weak comparison), so a
/// read answers 304. A malformed header is ignored: the full answer is
/// always correct.
pub fn not_modified(if_none_match: Option<&str>, current: &str) -> bool {
    let Some(value) = if_none_match else {
        return false;
    };
    match parse(value) {
        None => false,
        Some(None) => true,
        Some(Some(tags)) => tags.iter().any(|t| t.quoted == current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_star_and_lists_of_strong_tags() {
        assert_eq!(IfMatch::parse(" * ").unwrap(), IfMatch::Any);
        let parsed = IfMatch::parse(r#""e1-2-aa", W/"e1-3-bb" ,"x,y""#).unwrap();
        assert_eq!(
            parsed,
            IfMatch::Tags(vec![r#""e1-2-aa""#.into(), r#""x,y""#.into()])
        );
        assert!(parsed.admits(r#""e1-2-aa""#));
        assert!(!parsed.admits(r#""e1-3-bb""#), "weak tags never match");
        assert!(parsed.check(r#""e9-1-00""#).is_err());
    }

    #[test]
    fn a_malformed_if_match_is_refused() {
        for bad in ["", "e1-2-aa", "\"open", "\"a\" \"b\"", "W/", "\"a\"x", ","] {
            assert!(
                matches!(IfMatch::parse(bad), Err(Error::BadHeader(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_ignores_garbage() {
        let current = r#""l4-0-1f""#;
        assert!(not_modified(Some(r#"W/"l4-0-1f""#), current));
        assert!(not_modified(Some(r#""l3-0-1f", "l4-0-1f""#), current));
        assert!(not_modified(Some("*"), current));
        assert!(!not_modified(Some(r#""l3-0-1f""#), current));
        assert!(!not_modified(Some("l4-0-1f"), current));
        assert!(!not_modified(None, current));
    }

    #[test]
    fn the_list_etag_changes_with_each_part_of_its_state() {
        let state = FeedState {
            last_seq: 4,
            purged_through: 0,
            catalog_version: 31,
        };
        let tags = [
            list_etag(&state),
            list_etag(&FeedState {
                last_seq: 5,
                ..state
            }),
            list_etag(&FeedState {
                purged_through: 2,
                ..state
            }),
            list_etag(&FeedState {
                catalog_version: 32,
                ..state
            }),
        ];
        let distinct: std::collections::HashSet<_> = tags.iter().collect();
        assert_eq!(distinct.len(), tags.len(), "{tags:?}");
        assert_eq!(tags[0], r#""l4-0-1f""#);
    }
}
