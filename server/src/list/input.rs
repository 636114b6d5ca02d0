//! Reading a list-entry body field by field, Laravel style: every failing
//! field is reported at once, wrong JSON types are a 422 on that field.

use anitrack_spec::error::FieldErrors;
use anitrack_spec::types::ListStatus;
use chrono::NaiveDate;
use serde_json::{Map, Value};

pub const NOTES_MAX: usize = 2000;
pub const TAGS_MAX: usize = 25;
pub const TAG_MAX: usize = 50;

/// One field of a body: not sent, sent as `null`, or sent with a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field<T> {
    Absent,
    Null,
    Set(T),
}

impl<T> Field<T> {
    pub fn is_present(&self) -> bool {
        !matches!(self, Field::Absent)
    }

    /// The new value of a nullable field: unchanged, cleared or set.
    pub fn apply_nullable(self, current: Option<T>) -> Option<T> {
        match self {
            Field::Absent => current,
            Field::Null => None,
            Field::Set(value) => Some(value),
        }
    }

    /// The new value of a non-nullable field (`Null` was already refused).
    pub fn apply(self, current: T) -> T {
        match self {
            Field::Set(value) => value,
            _ => current,
        }
    }

    pub fn set(&self) -> Option<&T> {
        match self {
            Field::Set(value) => Some(value),
            _ => None,
        }
    }
}

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

fn label(field: &str) -> String {
    field.replace('_', " ")
}

/// A JSON body's fields with the failures found so far.
pub struct Reader {
    fields: Map<String, Value>,
    pub errors: FieldErrors,
}

impl Reader {
    pub fn new(body: Value) -> Self {
        let fields = match body {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Reader {
            fields,
            errors: FieldErrors::new(),
        }
    }

    fn raw(&self, field: &str) -> Field<&Value> {
        match self.fields.get(field) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(value) => Field::Set(value),
        }
    }

    /// An integer (a JSON number without a fraction) of at least `min`, at
    /// most `max`. `nullable` fields accept `null`.
    pub fn integer(
        &mut self,
        field: &str,
        min: i64,
        max: Option<i64>,
        nullable: bool,
    ) -> Field<i32> {
        let name = label(field);
        match self.raw(field) {
            Field::Absent => Field::Absent,
            Field::Null if nullable => Field::Null,
            Field::Null => {
                self.errors
                    .add(field, format!("The {name} field must be an integer."));
                Field::Absent
            }
            Field::Set(value) => {
                let Some(number) = value.as_i64() else {
                    self.errors
                        .add(field, format!("The {name} field must be an integer."));
                    return Field::Absent;
                };
                let max = max.unwrap_or(i32::MAX as i64);
                if number < min || number > max {
                    let message = if max == i32::MAX as i64 {
                        format!("The {name} field must be at least {min}.")
                    } else {
                        format!("The {name} field must be between {min} and {max}.")
                    };
                    self.errors.add(field, message);
                    return Field::Absent;
                }
                Field::Set(number as i32)
            }
        }
    }

    pub fn boolean(&mut self, field: &str) -> Field<bool> {
        match self.raw(field) {
            Field::Absent => Field::Absent,
            Field::Set(Value::Bool(b)) => Field::Set(*b),
            _ => {
                self.errors.add(
                    field,
                    format!("The {} field must be true or false.", label(field)),
                );
                Field::Absent
            }
        }
    }

    /// A calendar date `YYYY-MM-DD`, or `null`.
    pub fn date(&mut self, field: &str) -> Field<NaiveDate> {
        match self.raw(field) {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Set(value) => {
                let parsed = value
                    .as_str()
                    .filter(|s| s.len() == 10)
                    .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
                match parsed {
                    Some(date) => Field::Set(date),
                    None => {
                        self.errors.add(
                            field,
                            format!("The {} field must match the format Y-m-d.", label(field)),
                        );
                        Field::Absent
                    }
                }
            }
        }
    }

    /// Trimmed text of at most `max` characters; an empty string is `null`.
    pub fn text(&mut self, field: &str, max: usize) -> Field<String> {
        let name = label(field);
        match self.raw(field) {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Set(Value::String(text)) => {
                let text = text.trim();
                if text.is_empty() {
                    Field::Null
                } else if text.chars().count() > max {
                    self.errors.add(
                        field,
                        format!("The {name} field must not be greater than {max} characters."),
                    );
                    Field::Absent
                } else {
                    Field::Set(text.to_string())
                }
            }
            Field::Set(_) => {
                self.errors
                    .add(field, format!("The {name} field must be a string."));
                Field::Absent
            }
        }
    }

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
            score: self.integer("score", 0, Some(100), true),
            progress: self.integer("progress", 0, None, false),
            started_at: self.date("started_at"),
            completed_at: self.date("completed_at"),
            notes: self.text("notes", NOTES_MAX),
            is_private: self.boolean("is_private"),
            is_rewatching: self.boolean("is_rewatching"),
            rewatch_count: self.integer("rewatch_count", 0, None, false),
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
                Some(id) if id > 0 => Some(id),
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

    fn errors(reader: Reader) -> Value {
        let api = anitrack_spec::ApiError::validation(reader.errors);
        serde_json::to_value(&api.body().errors).unwrap()
    }

    #[test]
    fn the_seed_example_missing_status() {
        let mut reader = Reader::new(json!({"anime_id": 1}));
        reader.anime_id();
        reader.entry_fields(true);
        assert_eq!(
            errors(reader),
            json!({"status": ["The status field is required."]})
        );
    }

    #[test]
    fn wrong_types_and_ranges_are_reported_per_field() {
        let mut reader = Reader::new(json!({
            "anime_id": "1", "status": "paused", "score": 101, "progress": -1,
            "started_at": "2024-13-01", "completed_at": "24-01-01", "notes": 5,
            "is_private": "yes", "is_rewatching": 1, "rewatch_count": 1.5,
            "tags": ["ok", " ", 3, "x".repeat(51)],
        }));
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
        let mut reader = Reader::new(json!({
            "score": null, "started_at": null, "completed_at": null, "notes": null,
            "progress": null, "is_private": null, "rewatch_count": null, "tags": null, "status": null,
        }));
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
        let mut reader = Reader::new(json!({"tags": [" b ", "a", "b", "a", "c"]}));
        assert_eq!(
            reader.tags(),
            Field::Set(vec!["b".into(), "a".into(), "c".into()])
        );
        let mut reader = Reader::new(json!({"tags": vec!["t"; 26]}));
        assert_eq!(reader.tags(), Field::Absent);
        assert_eq!(
            errors(reader),
            json!({"tags": ["The tags field must not have more than 25 items."]})
        );
        let mut reader = Reader::new(json!({"tags": vec!["t"; 25]}));
        assert_eq!(reader.tags(), Field::Set(vec!["t".into()]));
    }

    #[test]
    fn notes_are_counted_in_characters_and_blank_notes_are_null() {
        let mut reader = Reader::new(json!({"notes": "é".repeat(2000)}));
        assert!(matches!(reader.text("notes", NOTES_MAX), Field::Set(_)));
        let mut reader = Reader::new(json!({"notes": "é".repeat(2001)}));
        assert_eq!(reader.text("notes", NOTES_MAX), Field::Absent);
        assert_eq!(
            errors(reader),
            json!({"notes": ["The notes field must not be greater than 2000 characters."]})
        );
        let mut reader = Reader::new(json!({"notes": "   "}));
        assert_eq!(reader.text("notes", NOTES_MAX), Field::Null);
    }
}
