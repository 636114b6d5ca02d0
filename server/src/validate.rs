//! Laravel-style validation of JSON request bodies.
//!
//! Every field is checked and every failure is collected, so a 422 names all
//! invalid fields at once. Messages follow Laravel's English wording, with
//! the field name's underscores read as spaces (`device_name` → "device
//! name"). As with Laravel's `TrimStrings` and `ConvertEmptyStringsToNull`
//! middleware, strings are trimmed (passwords excepted) and an empty string
//! counts as absent.

use anitrack_spec::error::FieldErrors;
use chrono::NaiveDate;
use serde_json::{Map, Value};

/// What kind of text a field holds, for [`forbidden_character`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// One line: names, tags, emails, search terms, slugs.
    Line,
    /// Free text that may span lines (notes): tab, LF and CR are allowed.
    Multiline,
    /// A password: kept exactly as sent, only NUL is refused.
    Secret,
}

/// The first character a field of this kind must not contain, if any.
///
/// PostgreSQL cannot store NUL in `text` at all (it would be a 500), and no
/// other C0/C1 control character or DEL has a meaning in a name, tag or
/// email; in such values they only serve to forge what a page or a log line
/// shows. Passwords are never stored as text, so only NUL (which some
/// clients truncate at) is refused there. This is the one home of the rule:
/// bodies, query strings, paths and forms all ask it.
pub fn forbidden_character(text: &str, kind: TextKind) -> Option<char> {
    text.chars().find(|&c| match kind {
        TextKind::Secret => c == '\0',
        TextKind::Multiline => c.is_control() && !matches!(c, '\t' | '\n' | '\r'),
        TextKind::Line => c.is_control(),
    })
}

/// The message for a field holding a character [`forbidden_character`] refuses.
pub fn control_character_message(field: &str) -> String {
    format!(
        "The {} field must not contain control characters.",
        label(field)
    )
}

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

/// A JSON body under validation, with the failures found so far.
pub struct Input {
    fields: Map<String, Value>,
    pub errors: FieldErrors,
}

/// A field name as Laravel reads it in messages (`device_name` → "device name").
pub fn label(field: &str) -> String {
    field.replace('_', " ")
}

impl Input {
    /// A body that is JSON but not an object carries no fields: every
    /// required field then fails as missing.
    pub fn new(body: Value) -> Self {
        let fields = match body {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Input {
            fields,
            errors: FieldErrors::new(),
        }
    }

    /// The field's value unless it is absent, null, or a string that is
    /// empty (after trimming, when `trim` is set).
    fn present(&self, field: &str, trim: bool) -> Option<&Value> {
        match self.raw(field) {
            Field::Set(Value::String(s)) if s.is_empty() || (trim && s.trim().is_empty()) => None,
            Field::Set(value) => Some(value),
            Field::Absent | Field::Null => None,
        }
    }

    pub(crate) fn raw(&self, field: &str) -> Field<&Value> {
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
                } else if forbidden_character(text, TextKind::Multiline).is_some() {
                    self.errors.add(field, control_character_message(field));
                    Field::Absent
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

    /// A required string, trimmed, at most `max` characters.
    pub fn required_string(&mut self, field: &str, max: usize) -> Option<String> {
        self.string(field, max, TextKind::Line)
    }

    /// A required string kept exactly as sent (passwords).
    pub fn required_secret(&mut self, field: &str, max: usize) -> Option<String> {
        self.string(field, max, TextKind::Secret)
    }

    /// A required string of `kind`; all but secrets are trimmed.
    fn string(&mut self, field: &str, max: usize, kind: TextKind) -> Option<String> {
        let name = label(field);
        let trim = kind != TextKind::Secret;
        let Some(value) = self.present(field, trim) else {
            self.errors
                .add(field, format!("The {name} field is required."));
            return None;
        };
        let Value::String(text) = value else {
            self.errors
                .add(field, format!("The {name} field must be a string."));
            return None;
        };
        let text = if trim {
            text.trim().to_string()
        } else {
            text.clone()
        };
        if forbidden_character(&text, kind).is_some() {
            self.errors.add(field, control_character_message(field));
            return None;
        }
        if text.chars().count() > max {
            self.errors.add(
                field,
                format!("The {name} field must not be greater than {max} characters."),
            );
            return None;
        }
        Some(text)
    }

    /// A required email address: one line, at most [`EMAIL_MAX`]
    /// characters, of a plausible shape.
    pub fn required_email(&mut self, field: &str) -> Option<String> {
        let email = self.required_string(field, EMAIL_MAX)?;
        if is_plausible_email(&email) {
            Some(email)
        } else {
            self.errors.add(field, email_shape_message(field));
            None
        }
    }
}

pub use anitrack_spec::limits::EMAIL_MAX;

fn email_shape_message(field: &str) -> String {
    format!("The {} field must be a valid email address.", label(field))
}

/// An email from anywhere (a JSON body or a form): trimmed, one line, at
/// most [`EMAIL_MAX`] characters, plausible. Every sign-in checks this
/// before the address becomes a throttle key or reaches the database.
pub fn email(raw: &str) -> Result<String, String> {
    let mut input = Input::new(serde_json::json!({ "email": raw }));
    input
        .required_email("email")
        .ok_or_else(|| input.errors.first_message().unwrap_or_default())
}

/// `local@domain` with no whitespace or control characters, a non-empty
/// local part of at most 64 characters and a dotted-or-not domain of sane
/// labels. Deliverability is the mail server's business, not ours.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let clean = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    clean(local)
        && clean(domain)
        && local.chars().count() <= 64
        && !local.contains('@')
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(input: Input) -> serde_json::Value {
        if input.errors.is_empty() {
            return json!({});
        }
        let api = anitrack_spec::ApiError::validation(input.errors);
        serde_json::to_value(&api.body().errors).unwrap()
    }

    #[test]
    fn reports_every_failing_field_at_once() {
        let mut input = Input::new(json!({"email": 5, "device_name": "x".repeat(121)}));
        input.required_email("email");
        input.required_secret("password", 4096);
        input.required_string("device_name", 120);
        assert_eq!(
            errors_of(input),
            json!({
                "email": ["The email field must be a string."],
                "password": ["The password field is required."],
                "device_name": ["The device name field must not be greater than 120 characters."],
            })
        );
    }

    #[test]
    fn blank_strings_and_nulls_are_missing() {
        let mut input = Input::new(json!({"email": "   ", "password": null}));
        input.required_email("email");
        input.required_secret("password", 4096);
        assert_eq!(
            errors_of(input),
            json!({
                "email": ["The email field is required."],
                "password": ["The password field is required."],
            })
        );
    }

    #[test]
    fn a_blank_secret_is_present_but_an_empty_one_is_not() {
        let mut input = Input::new(json!({"password": "   "}));
        assert_eq!(
            input.required_secret("password", 4096).as_deref(),
            Some("   ")
        );
        let mut input = Input::new(json!({"password": ""}));
        assert_eq!(input.required_secret("password", 4096), None);
    }

    #[test]
    fn strings_are_trimmed_but_secrets_are_not() {
        let mut input = Input::new(json!({"device_name": "  cli  ", "password": " pw "}));
        assert_eq!(
            input.required_string("device_name", 120).as_deref(),
            Some("cli")
        );
        assert_eq!(
            input.required_secret("password", 4096).as_deref(),
            Some(" pw ")
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let mut input = Input::new(json!({"device_name": "é".repeat(120)}));
        assert!(input.required_string("device_name", 120).is_some());
    }

    #[test]
    fn a_non_object_body_has_no_fields() {
        let mut input = Input::new(json!(["email"]));
        input.required_email("email");
        assert_eq!(
            errors_of(input),
            json!({"email": ["The email field is required."]})
        );
    }

    #[test]
    fn email_shapes() {
        for good in [
            "a@b.c",
            "user.name+tag@example.com",
            "x@localhost",
            "ü@exämple.de",
        ] {
            assert!(is_plausible_email(good), "{good}");
        }
        for bad in [
            "", "a", "a@", "@b", "a b@c.d", "a@b..c", "a@-b.c", ".a@b.c", "a@b@c",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }
}

/// Query-string parameters under validation: every value is text, an empty
/// value counts as absent (as Laravel's `ConvertEmptyStringsToNull` does).
pub struct QueryInput<'a> {
    get: &'a (dyn Fn(&str) -> Option<String> + Sync),
    errors: FieldErrors,
}

impl<'a> QueryInput<'a> {
    pub fn new(get: &'a (dyn Fn(&str) -> Option<String> + Sync)) -> Self {
        QueryInput {
            get,
            errors: FieldErrors::new(),
        }
    }

    fn value(&self, field: &str) -> Option<String> {
        (self.get)(field)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// An optional integer within `min..=max`.
    pub fn integer(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        let raw = self.value(field)?;
        let name = label(field);
        let Ok(number) = raw.parse::<i64>() else {
            self.errors
                .add(field, format!("The {name} field must be an integer."));
            return None;
        };
        if number < min || number > max {
            if max == i64::MAX {
                self.errors
                    .add(field, format!("The {name} field must be at least {min}."));
            } else {
                self.errors.add(
                    field,
                    format!("The {name} field must be between {min} and {max}."),
                );
            }
            return None;
        }
        Some(number)
    }

    /// An optional string of at most `max` characters.
    pub fn string(&mut self, field: &str, max: usize) -> Option<String> {
        let raw = self.value(field)?;
        if forbidden_character(&raw, TextKind::Line).is_some() {
            self.errors.add(field, control_character_message(field));
            return None;
        }
        if raw.chars().count() > max {
            self.errors.add(
                field,
                format!(
                    "The {} field must not be greater than {max} characters.",
                    label(field)
                ),
            );
            return None;
        }
        Some(raw)
    }

    /// An optional value of a fixed set (an enumeration), read by `parse`.
    pub fn choice<T>(&mut self, field: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let raw = self.value(field)?;
        let parsed = parse(&raw);
        if parsed.is_none() {
            self.errors
                .add(field, format!("The selected {} is invalid.", label(field)));
        }
        parsed
    }

    pub fn finish<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.errors)
        }
    }
}

#[cfg(test)]
mod query_tests {
    use super::*;

    #[test]
    fn query_values_are_checked_like_laravel() {
        let get = |name: &str| match name {
            "mal_id" => Some("abc".to_string()),
            "anilist_id" => Some("0".to_string()),
            "limit" => Some("101".to_string()),
            "q" => Some("".to_string()),
            _ => None,
        };
        let mut input = QueryInput::new(&get);
        assert_eq!(input.integer("mal_id", 1, i64::MAX), None);
        assert_eq!(input.integer("anilist_id", 1, i64::MAX), None);
        assert_eq!(input.integer("limit", 1, 100), None);
        assert_eq!(input.string("q", 200), None);
        let errors = input.finish(()).unwrap_err();
        let api = anitrack_spec::ApiError::validation(errors);
        assert_eq!(
            serde_json::to_value(&api.body().errors).unwrap(),
            serde_json::json!({
                "mal_id": ["The mal id field must be an integer."],
                "anilist_id": ["The anilist id field must be at least 1."],
                "limit": ["The limit field must be between 1 and 100."],
            })
        );
    }
}
