//! An entry's settable fields as the list's rules see them, and their
//! translation to and from the stored columns (`db::entries`).

use anitrack_spec::types::ListStatus;
use chrono::NaiveDate;

use crate::db::DbError;
use crate::db::entries::EntryValues;

/// The fields a client can set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryState {
    pub status: ListStatus,
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

impl EntryState {
    /// The state of stored columns. A status this version does not know
    /// (one a newer version wrote) is unexpected data, a 500.
    pub fn from_values(v: EntryValues) -> Result<Self, DbError> {
        let status = ListStatus::parse(&v.status)
            .ok_or_else(|| DbError::Unexpected(format!("status {:?}", v.status)))?;
        Ok(EntryState {
            status,
            score: v.score,
            progress: v.progress,
            started_at: v.started_at,
            completed_at: v.completed_at,
            notes: v.notes,
            is_private: v.is_private,
            is_rewatching: v.is_rewatching,
            rewatch_count: v.rewatch_count,
            tags: v.tags,
        })
    }

    /// The columns that store this state.
    pub fn to_values(&self) -> EntryValues {
        EntryValues {
            status: self.status.as_str().to_string(),
            score: self.score,
            progress: self.progress,
            started_at: self.started_at,
            completed_at: self.completed_at,
            notes: self.notes.clone(),
            is_private: self.is_private,
            is_rewatching: self.is_rewatching,
            rewatch_count: self.rewatch_count,
            tags: self.tags.clone(),
        }
    }
}
