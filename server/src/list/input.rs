//! Reading a list-entry body field by field, Laravel style: every failing
//! field is reported at once, wrong JSON types are a 422 on that field.

use anitrack_spec::types::ListStatus;
use chrono::NaiveDate;
use serde_json::Value;

pub use crate::validate::Field;
use crate::validate::{Input, TextKind, control_character_message, forbidden_character};

use anitrack_spec::limits::{
    ID_MIN, NOTES_MAX, PROGRESS_MIN, REWATCH_COUNT_MIN, SCORE_MAX, SCORE_MIN, TAG_MAX, TAGS_MAX,
};

/// Every settable field of an entry, as sent.
#[derive(Clone, Debug)]
pub struct EntryFields {
    pub status: Field<ListStatus>,
    pub score: Field<i32>,
    pub progress: Field<i32>,
    pub started_at: Field<NaiveDate>,
    pub completed_at: Field<NaiveDate>,
    pub notes: Field<String>,
    pub is_private: Field<bool>,
    pub is_rewatching: Field<bool>,
    pub rewatch_count: Field<i32>,
    pub tags: Field<Vec<String>>,
}

impl Input {
    /// One of the five statuses. `required` makes absence (or null) a failure.
    pub fn status(&mut self, required: bool) -> Field<ListStatus> {
        match self.raw("status") {
            Field::Absent | Field::Null if required => {
                self.errors.add("status", "The status field is required.");
                Field::Absent
            }
            Field::Absent => Field::Absent,
            other => match other
                .set()
                .and_then(|v| v.as_str())
                .and_then(ListStatus::parse)
            {
                Some(status) => Field::Set(status),
                None => {
                    self.errors.add("status", "The selected status is invalid.");
                    Field::Absent
                }
            },
        }
    }

    /// At most 25 tags of 1–50 characters after trimming; duplicates merged,
    /// first occurrence kept. Item failures are keyed `tags.N`.
    pub fn tags(&mut self) -> Field<Vec<String>> {
        let items = match self.raw("tags") {
            Field::Absent => return Field::Absent,
            Field::Set(Value::Array(items)) => items.clone(),
            _ => {
                self.errors.add("tags", "The tags field must be an array.");
                return Field::Absent;
            }
        };
        if items.len() > TAGS_MAX {
            self.errors.add(
                "tags",
                format!("The tags field must not have more than {TAGS_MAX} items."),
            );
            return Field::Absent;
        }
        let mut tags: Vec<String> = Vec::new();
        let mut failed = false;
        for (index, item) in items.iter().enumerate() {
            let key = format!("tags.{index}");
            let Some(text) = item.as_str() else {
                self.errors
                    .add(&key, format!("The {key} field must be a string."));
                failed = true;
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                self.errors
                    .add(&key, format!("The {key} field is required."));
                failed = true;
            } else if forbidden_character(text, TextKind::Line).is_some() {
                self.errors.add(&key, control_character_message(&key));
                failed = true;
            } else if text.chars().count() > TAG_MAX {
                self.errors.add(
                    &key,
                    format!("The {key} field must not be greater than {TAG_MAX} characters."),
                );
                failed = true;
            } else if !tags.iter().any(|t| t == text) {
                tags.push(text.to_string());
            }
        }
        if failed {
            Field::Absent
        } else {
            Field::Set(tags)
        }
    }

    /// Every settable field; `creating` makes `status` required.
    pub fn entry_fields(&mut self, creating: bool) -> EntryFields {
        EntryFields {
            status: self.status(creating),
            score: self.integer("score", SCORE_MIN, Some(SCORE_MAX), true),
            progress: self.integer("progress", PROGRESS_MIN, None, false),
            started_at: self.date("started_at"),
            completed_at: self.date("completed_at"),
            notes: self.text("notes", NOTES_MAX),
            is_private: self.boolean("is_private"),
            is_rewatching: self.boolean("is_rewatching"),
            rewatch_count: self.integer("rewatch_count", REWATCH_COUNT_MIN, None, false),
            tags: self.tags(),
        }
    }

    /// `anime_id` of `POST /list`: required, a positive integer.
    pub fn anime_id(&mut self) -> Option<i64> {
        match self.raw("anime_id") {
            Field::Absent | Field::Null => {
                self.errors
                    .add("anime_id", "The anime id field is required.");
                None
            }
            Field::Set(value) => match value.as_i64() {
                Some(id) if id >= ID_MIN => Some(id),
                Some(_) => {
                    self.errors
                        .add("anime_id", "The selected anime id is invalid.");
                    None
                }
                None => {
                    self.errors
                        .add("anime_id", "The anime id field must be an integer.");
                    None
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(reader: Input) -> Value {
        let api = anitrack_spec::ApiError::validation(reader.errors);
        serde_json::to_value(&api.body().errors).unwrap()
    }

    #[test]
    fn the_seed_example_missing_status() {
        let mut reader = Input::new(json!({"anime_id": 1})).unwrap();
        reader.anime_id();
        reader.entry_fields(true);
        assert_eq!(
            errors(reader),
            json!({"status": ["The status field is required."]})
        );
    }

    #[test]
    fn wrong_types_and_ranges_are_reported_per_field() {
        let mut reader = Input::new(json!({
            "anime_id": "1", "status": "paused", "score": 101, "progress": -1,
            "started_at": "2024-13-01", "completed_at": "24-01-01", "notes": 5,
            "is_private": "yes", "is_rewatching": 1, "rewatch_count": 1.5,
            "tags": ["ok", " ", 3, "x".repeat(51)],
        }))
        .unwrap();
        reader.anime_id();
        reader.entry_fields(true);
        assert_eq!(
            errors(reader),
            json!({
                "anime_id": ["The anime id field must be an integer."],
                "status": ["The selected status is invalid."],
                "score": ["The score field must be between 0 and 100."],
                "progress": ["The progress field must be at least 0."],
                "started_at": ["The started at field must match the format Y-m-d."],
                "completed_at": ["The completed at field must match the format Y-m-d."],
                "notes": ["The notes field must be a string."],
                "is_private": ["The is private field must be true or false."],
                "is_rewatching": ["The is rewatching field must be true or false."],
                "rewatch_count": ["The rewatch count field must be an integer."],
                "tags.1": ["The tags.1 field is required."],
                "tags.2": ["The tags.2 field must be a string."],
                "tags.3": ["The tags.3 field must not be greater than 50 characters."],
            })
        );
    }

    #[test]
    fn null_clears_nullable_fields_only() {
        let mut reader = Input::new(json!({
            "score": null, "started_at": null, "completed_at": null, "notes": null,
            "progress": null, "is_private": null, "rewatch_count": null, "tags": null, "status": null,
        })).unwrap();
        let fields = reader.entry_fields(false);
        assert_eq!(fields.score, Field::Null);
        assert_eq!(fields.notes, Field::Null);
        assert_eq!(
            errors(reader),
            json!({
                "status": ["The selected status is invalid."],
                "progress": ["The progress field must be an integer."],
                "is_private": ["The is private field must be true or false."],
                "rewatch_count": ["The rewatch count field must be an integer."],
                "tags": ["The tags field must be an array."],
            })
        );
    }

    #[test]
    fn tags_are_trimmed_deduplicated_and_keep_their_order() {
        let mut reader = Input::new(json!({"tags": [" b ", "a", "b", "a", "c"]})).unwrap();
        assert_eq!(
            reader.tags(),
            Field::Set(vec!["b".into(), "a".into(), "c".into()])
        );
        let mut reader = Input::new(json!({"tags": vec!["t"; 26]})).unwrap();
        assert_eq!(reader.tags(), Field::Absent);
        assert_eq!(
            errors(reader),
            json!({"tags": ["The tags field must not have more than 25 items."]})
        );
        let mut reader = Input::new(json!({"tags": vec!["t"; 25]})).unwrap();
        assert_eq!(reader.tags(), Field::Set(vec!["t".into()]));
    }

    #[test]
    fn notes_are_counted_in_characters_and_blank_notes_are_null() {
        let mut reader = Input::new(json!({"notes": "é".repeat(2000)})).unwrap();
        assert!(matches!(reader.text("notes", NOTES_MAX), Field::Set(_)));
        let mut reader = Input::new(json!({"notes": "é".repeat(2001)})).unwrap();
        assert_eq!(reader.text("notes", NOTES_MAX), Field::Absent);
        assert_eq!(
            errors(reader),
            json!({"notes": ["The notes field must not be greater than 2000 characters."]})
        );
        let mut reader = Input::new(json!({"notes": "   "})).unwrap();
        assert_eq!(reader.text("notes", NOTES_MAX), Field::Null);
    }
}
