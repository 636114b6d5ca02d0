//! The list's rules beyond field validation: progress against the episode
//! count, dates in order, and auto-completion.

use anitrack_spec::error::FieldErrors;
use anitrack_spec::types::ListStatus;
use chrono::NaiveDate;

use super::input::{EntryFields, Field};
use super::state::EntryState;

/// A new entry's defaults.
pub fn defaults() -> EntryState {
    EntryState {
        status: ListStatus::PlanToWatch,
        score: None,
        progress: 0,
        started_at: None,
        completed_at: None,
        notes: None,
        is_private: false,
        is_rewatching: false,
        rewatch_count: 0,
        tags: Vec::new(),
    }
}

/// The entry after applying `fields` to `current`, then the rules.
/// `previous_progress` is `None` when creating. Cross-field failures are
/// added to `errors`.
pub fn merge(
    current: &EntryState,
    fields: EntryFields,
    previous_progress: Option<i32>,
    episodes: Option<i32>,
    today: NaiveDate,
    errors: &mut FieldErrors,
) -> EntryState {
    let progress_sent = fields.progress.is_present();
    let started_sent = fields.started_at.is_present();
    let completed_given = fields.completed_at.set().copied();
    let completed_sent = fields.completed_at.is_present();
    let mut next = EntryState {
        status: fields.status.apply(current.status),
        score: fields.score.apply_nullable(current.score),
        progress: fields.progress.apply(current.progress),
        started_at: fields.started_at.apply_nullable(current.started_at),
        completed_at: fields.completed_at.apply_nullable(current.completed_at),
        notes: fields.notes.apply_nullable(current.notes.clone()),
        is_private: fields.is_private.apply(current.is_private),
        is_rewatching: fields.is_rewatching.apply(current.is_rewatching),
        rewatch_count: fields.rewatch_count.apply(current.rewatch_count),
        tags: match fields.tags {
            Field::Set(tags) => tags,
            _ => current.tags.clone(),
        },
    };

    if let Some(total) = episodes
        && progress_sent
        && next.progress > total
    {
        errors.add(
            "progress",
            format!("The progress field must not be greater than {total}."),
        );
    }
    if let (Some(started), Some(completed)) = (next.started_at, next.completed_at)
        && completed < started
    {
        if completed_sent || !started_sent {
            errors.add(
                "completed_at",
                "The completed at field must be a date after or equal to started at.",
            );
        } else {
            errors.add(
                "started_at",
                "The started at field must be a date before or equal to completed at.",
            );
        }
    }

    // Progress *reaching* a known episode count completes the entry: on
    // create, or on an update that moves progress onto it (a retried PATCH
    // with the same progress changes nothing).
    let reaches = episodes.is_some_and(|total| {
        total > 0 && progress_sent && next.progress == total && previous_progress != Some(total)
    });
    if reaches && errors.is_empty() {
        next.status = ListStatus::Completed;
        next.completed_at = Some(completed_given.unwrap_or(today));
        if next.is_rewatching {
            next.rewatch_count = next.rewatch_count.saturating_add(1);
            next.is_rewatching = false;
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Input;
    use serde_json::{Value, json};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    }

    fn apply(
        current: &EntryState,
        body: Value,
        previous: Option<i32>,
        episodes: Option<i32>,
    ) -> (EntryState, FieldErrors) {
        let mut reader = Input::new(body).unwrap();
        let fields = reader.entry_fields(previous.is_none());
        let mut errors = reader.errors;
        let next = merge(current, fields, previous, episodes, today(), &mut errors);
        (next, errors)
    }

    fn watching(progress: i32) -> EntryState {
        EntryState {
            status: ListStatus::Watching,
            progress,
            ..defaults()
        }
    }

    #[test]
    fn reaching_the_episode_count_on_create_completes_today() {
        let (next, errors) = apply(
            &defaults(),
            json!({"status": "watching", "progress": 12}),
            None,
            Some(12),
        );
        assert!(errors.is_empty());
        assert_eq!(next.status, ListStatus::Completed);
        assert_eq!(next.completed_at, Some(today()));
    }

    #[test]
    fn a_given_completion_date_is_kept() {
        let (next, _) = apply(
            &defaults(),
            json!({"status": "watching", "progress": 12, "completed_at": "2026-01-02"}),
            None,
            Some(12),
        );
        assert_eq!(next.completed_at, NaiveDate::from_ymd_opt(2026, 1, 2));
    }

    #[test]
    fn reaching_it_while_rewatching_counts_a_rewatch() {
        let current = EntryState {
            is_rewatching: true,
            rewatch_count: 2,
            ..watching(11)
        };
        let (next, errors) = apply(&current, json!({"progress": 12}), Some(11), Some(12));
        assert!(errors.is_empty());
        assert_eq!(
            (next.rewatch_count, next.is_rewatching, next.status),
            (3, false, ListStatus::Completed)
        );
    }

    #[test]
    fn a_retried_update_does_not_count_twice() {
        let current = EntryState {
            status: ListStatus::Completed,
            rewatch_count: 3,
            ..watching(12)
        };
        let (next, _) = apply(&current, json!({"progress": 12}), Some(12), Some(12));
        assert_eq!(next, current);
    }

    #[test]
    fn progress_above_a_known_count_is_refused_and_an_unknown_count_never_caps() {
        let (_, errors) = apply(&watching(0), json!({"progress": 13}), Some(0), Some(12));
        assert!(errors.has("progress"));
        let (next, errors) = apply(&watching(0), json!({"progress": 1300}), Some(0), None);
        assert!(errors.is_empty());
        assert_eq!((next.progress, next.status), (1300, ListStatus::Watching));
    }

    #[test]
    fn completion_may_not_precede_the_start() {
        let (_, errors) = apply(
            &defaults(),
            json!({"status": "completed", "started_at": "2026-02-01", "completed_at": "2026-01-31"}),
            None,
            None,
        );
        assert!(errors.has("completed_at"));
        let current = EntryState {
            completed_at: NaiveDate::from_ymd_opt(2026, 1, 31),
            ..watching(1)
        };
        let (_, errors) = apply(&current, json!({"started_at": "2026-02-01"}), Some(1), None);
        assert!(errors.has("started_at") && !errors.has("completed_at"));
        let (_, errors) = apply(
            &defaults(),
            json!({"status": "completed", "started_at": "2026-02-01", "completed_at": "2026-02-01"}),
            None,
            None,
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn null_clears_and_absent_keeps() {
        let current = EntryState {
            score: Some(80),
            notes: Some("n".into()),
            started_at: NaiveDate::from_ymd_opt(2026, 1, 1),
            tags: vec!["a".into()],
            ..watching(3)
        };
        let (next, errors) = apply(
            &current,
            json!({"score": null, "notes": null, "id": 5, "anime_id": 9}),
            Some(3),
            None,
        );
        assert!(errors.is_empty());
        assert_eq!(
            next,
            EntryState {
                score: None,
                notes: None,
                ..current.clone()
            }
        );
        let (unchanged, _) = apply(&current, json!({}), Some(3), None);
        assert_eq!(unchanged, current);
    }
}
