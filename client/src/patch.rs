//! The body of `PATCH /list/{entryId}`, by hand: the contract gives an
//! explicit `null` a meaning of its own ("clear the field") for `score`,
//! `started_at`, `completed_at` and `notes`, while an absent field stays as
//! it is. typify's `Option` skipped when `None` can only leave a field out,
//! so the generator is told to use this type instead (`cargo xtask client
//! generate`); its clearable fields are a [`Patch`], three states.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::types::{ListStatus, NewListEntryNotes, Tag};

/// One clearable field of a partial update.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// Left out of the body: the field stays as it is.
    #[default]
    Unchanged,
    /// Sent as `null`: the field is cleared.
    Clear,
    /// Sent as the value.
    Set(T),
}

impl<T> Patch<T> {
    /// Whether the field is left out of the body.
    pub fn is_unchanged(&self) -> bool {
        matches!(self, Patch::Unchanged)
    }

    /// `Some(value)` sets the field, `None` clears it: for a field copied
    /// from a value that may be empty.
    pub fn set_or_clear(value: Option<T>) -> Patch<T> {
        value.map_or(Patch::Clear, Patch::Set)
    }
}

impl<T> From<T> for Patch<T> {
    fn from(value: T) -> Self {
        Patch::Set(value)
    }
}

/// `Set(v)` writes `v` and `Clear` writes `null`; `Unchanged` also writes
/// `null` on its own, which is why every field holding a `Patch` is
/// skipped when unchanged (`skip_serializing_if = "Patch::is_unchanged"`).
impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Set(value) => value.serialize(serializer),
            Patch::Unchanged | Patch::Clear => serializer.serialize_none(),
        }
    }
}

/// `null` reads as `Clear`, a value as `Set`; an absent field never gets
/// here and is `Unchanged` through `#[serde(default)]`.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(Patch::set_or_clear)
    }
}

/// A partial update: only the fields set are sent. An absent field is
/// unchanged; [`Patch::Clear`] sends `null`, which clears `score`,
/// `started_at`, `completed_at` and `notes`, the only fields that can be
/// cleared (the others are `Option`s, left out when `None`). Validation and
/// the progress rules are those of `POST /list`.
///
/// ```ignore
/// let body = ListEntryPatch::default().progress(5).score(Patch::Clear);
/// // {"progress":5,"score":null}
/// ```
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct ListEntryPatch {
    /// `YYYY-MM-DD`, or [`Patch::Clear`].
    #[serde(default, skip_serializing_if = "Patch::is_unchanged")]
    pub completed_at: Patch<chrono::NaiveDate>,
    /// Hidden from other people. Not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_private: Option<bool>,
    /// Being watched again. Not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_rewatching: Option<bool>,
    /// At most 2,000 characters (the same rule as `POST /list`'s, hence
    /// its type), or [`Patch::Clear`].
    #[serde(default, skip_serializing_if = "Patch::is_unchanged")]
    pub notes: Patch<NewListEntryNotes>,
    /// Episodes watched. Not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<i32>,
    /// Completed rewatches. Not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewatch_count: Option<i32>,
    /// 0–100, or [`Patch::Clear`].
    #[serde(default, skip_serializing_if = "Patch::is_unchanged")]
    pub score: Patch<i32>,
    /// `YYYY-MM-DD`, or [`Patch::Clear`].
    #[serde(default, skip_serializing_if = "Patch::is_unchanged")]
    pub started_at: Patch<chrono::NaiveDate>,
    /// Where the entry stands. Not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ListStatus>,
    /// Replaces the tags: at most 25. Not null; an empty `Vec` is sent as
    /// `[]` and removes them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

/// Chained setters, one per field, in the style of the generated builders
/// (`ListEntryPatch::default().progress(5).score(Patch::Clear)`). They
/// cannot fail: the values are already of the checked types.
impl ListEntryPatch {
    pub fn completed_at(mut self, value: impl Into<Patch<chrono::NaiveDate>>) -> Self {
        self.completed_at = value.into();
        self
    }

    pub fn is_private(mut self, value: bool) -> Self {
        self.is_private = Some(value);
        self
    }

    pub fn is_rewatching(mut self, value: bool) -> Self {
        self.is_rewatching = Some(value);
        self
    }

    pub fn notes(mut self, value: impl Into<Patch<NewListEntryNotes>>) -> Self {
        self.notes = value.into();
        self
    }

    pub fn progress(mut self, value: i32) -> Self {
        self.progress = Some(value);
        self
    }

    pub fn rewatch_count(mut self, value: i32) -> Self {
        self.rewatch_count = Some(value);
        self
    }

    pub fn score(mut self, value: impl Into<Patch<i32>>) -> Self {
        self.score = value.into();
        self
    }

    pub fn started_at(mut self, value: impl Into<Patch<chrono::NaiveDate>>) -> Self {
        self.started_at = value.into();
        self
    }

    pub fn status(mut self, value: ListStatus) -> Self {
        self.status = Some(value);
        self
    }

    pub fn tags(mut self, value: Vec<Tag>) -> Self {
        self.tags = Some(value);
        self
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn document() -> Value {
        serde_json::from_str(include_str!("../../spec/openapi.json")).unwrap()
    }

    #[test]
    fn absent_null_and_a_value_serialise_as_the_server_reads_them() {
        assert_eq!(
            serde_json::to_value(ListEntryPatch::default()).unwrap(),
            json!({})
        );
        let notes: NewListEntryNotes = "kept".parse().unwrap();
        let body = ListEntryPatch::default()
            .score(Patch::Clear)
            .started_at(Patch::Clear)
            .notes(notes)
            .progress(3)
            .tags(Vec::new());
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"score": null, "started_at": null, "notes": "kept", "progress": 3, "tags": []})
        );
        // What it reads back is what it wrote: the mirror stores a pending
        // body as JSON and sends it again.
        let again: ListEntryPatch =
            serde_json::from_value(serde_json::to_value(&body).unwrap()).unwrap();
        assert_eq!(again, body);
        assert_eq!(again.completed_at, Patch::Unchanged);
    }

    /// Every property of the document's schema is a field, and the fields
    /// that can send `null` are exactly its nullable ones.
    #[test]
    fn the_type_matches_the_documents_schema() {
        let document = document();
        let schema = &document["components"]["schemas"]["ListEntryPatch"]["properties"];
        let properties = schema.as_object().unwrap();
        let cleared = ListEntryPatch {
            completed_at: Patch::Clear,
            notes: Patch::Clear,
            score: Patch::Clear,
            started_at: Patch::Clear,
            ..Default::default()
        };
        let mut nullable: Vec<&String> = properties
            .iter()
            .filter(|(_, p)| p["nullable"] == json!(true))
            .map(|(name, _)| name)
            .collect();
        nullable.sort();
        let cleared = serde_json::to_value(cleared).unwrap();
        let mut sent: Vec<&String> = cleared.as_object().unwrap().keys().collect();
        sent.sort();
        assert_eq!(sent, nullable);

        let everything = ListEntryPatch {
            completed_at: Patch::Clear,
            notes: Patch::Clear,
            score: Patch::Clear,
            started_at: Patch::Clear,
            is_private: Some(false),
            is_rewatching: Some(false),
            progress: Some(0),
            rewatch_count: Some(0),
            status: Some(ListStatus::Watching),
            tags: Some(Vec::new()),
        };
        let everything = serde_json::to_value(everything).unwrap();
        let mut fields: Vec<&String> = everything.as_object().unwrap().keys().collect();
        fields.sort();
        let mut names: Vec<&String> = properties.keys().collect();
        names.sort();
        assert_eq!(fields, names);
    }

    /// `notes` borrows `POST /list`'s type: both schemas must hold the
    /// same rule, or this type would check the wrong one.
    #[test]
    fn patch_notes_follow_the_same_rule_as_new_notes() {
        let document = document();
        let rule = |schema: &str| {
            let notes = &document["components"]["schemas"][schema]["properties"]["notes"];
            (notes["maxLength"].clone(), notes["pattern"].clone())
        };
        assert_eq!(rule("ListEntryPatch"), rule("NewListEntry"));
        assert_ne!(rule("ListEntryPatch").0, Value::Null);
    }
}
