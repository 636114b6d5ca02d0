//! Cursors of the change feed and of list pages: positions signed with the
//! instances' shared key and bound to their account, so they are opaque, and
//! one issued to another account (or made up) is refused without telling
//! anything about it.

use chrono::{DateTime, Utc};

use crate::auth::signing::SigningKey;

fn purpose(account_id: i64) -> String {
    format!("list-cursor/{account_id}")
}

/// Where a follower of the feed stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedCursor {
    /// The last position it has seen.
    pub position: i64,
    /// The highest position purged when its copy was started from the
    /// beginning: tombstones purged up to there were gone before it read
    /// anything, so it cannot hold their entries.
    pub floor: i64,
}

/// The cursor of a feed position.
pub fn feed(key: &SigningKey, account_id: i64, at: FeedCursor) -> String {
    let FeedCursor { position, floor } = at;
    key.sign(&purpose(account_id), &format!("f{position}_{floor}"))
}

/// Where a feed cursor this account was given stands.
pub fn read_feed(key: &SigningKey, account_id: i64, cursor: &str) -> Option<FeedCursor> {
    let value = key.verify(&purpose(account_id), cursor)?;
    let (position, floor) = value.strip_prefix('f')?.split_once('_')?;
    let at = FeedCursor {
        position: position.parse().ok()?,
        floor: floor.parse().ok()?,
    };
    (at.position >= 0 && at.floor >= 0).then_some(at)
}

/// The cursor of a list page that follows the entry `(updated_at, id)`.
pub fn page(key: &SigningKey, account_id: i64, updated_at: DateTime<Utc>, id: i64) -> String {
    let at = updated_at.timestamp_micros();
    key.sign(&purpose(account_id), &format!("p{at}_{id}"))
}

/// The position a page cursor this account was given stands for.
pub fn read_page(key: &SigningKey, account_id: i64, cursor: &str) -> Option<(DateTime<Utc>, i64)> {
    let value = key.verify(&purpose(account_id), cursor)?;
    let (at, id) = value.strip_prefix('p')?.split_once('_')?;
    let at = DateTime::from_timestamp_micros(at.parse().ok()?)?;
    Some((at, id.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_only_for_its_account_and_kind() {
        let key = SigningKey::fixed(&[3; 32]);
        let at = FeedCursor {
            position: 42,
            floor: 5,
        };
        let cursor = feed(&key, 7, at);
        assert_eq!(read_feed(&key, 7, &cursor), Some(at));
        assert_eq!(read_feed(&key, 8, &cursor), None, "another account's");
        assert_eq!(
            read_page(&key, 7, &cursor),
            None,
            "a feed cursor is no page"
        );
        assert_eq!(read_feed(&key, 7, "f42"), None, "unsigned");
        assert_eq!(read_feed(&SigningKey::fixed(&[4; 32]), 7, &cursor), None);

        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let cursor = page(&key, 7, at, 99);
        assert_eq!(read_page(&key, 7, &cursor), Some((at, 99)));
        assert_eq!(read_feed(&key, 7, &cursor), None);
    }
}
