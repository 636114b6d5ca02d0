//! Laravel-style validation of JSON request bodies.
//!
//! Every field is checked and every failure is collected, so a 422 names all
//! invalid fields at once. Messages follow Laravel's English wording, with
//! the field name's underscores read as spaces (`device_name` → "device
//! name"). As with Laravel's `TrimStrings` and `ConvertEmptyStringsToNull`
//! middleware, strings are trimmed (passwords excepted) and an empty string
//! counts as absent.

use anitrack_spec::error::{FieldErrors, messages};
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
    /// A JSON body under validation. A body that is JSON but not an object
    /// (`[]`, `"x"`, `0`, `null`) is refused as a whole, with one error on
    /// `body`: it is not an object without fields (which would make every
    /// required field "missing" and a PATCH an empty update), it is the
    /// wrong thing. An empty body reaches here as `{}` (see `JsonBody`).
    pub fn new(body: Value) -> Result<Self, FieldErrors> {
        match body {
            Value::Object(fields) => Ok(Self::of(fields)),
            _ => {
                let mut errors = FieldErrors::new();
                errors.add(messages::BODY_FIELD, messages::BODY_NOT_OBJECT);
                Err(errors)
            }
        }
    }

    fn of(fields: Map<String, Value>) -> Self {
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
    let mut fields = Map::new();
    fields.insert("email".to_string(), Value::String(raw.to_string()));
    let mut input = Input::of(fields);
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
        let mut input = Input::new(json!({"email": 5, "device_name": "x".repeat(121)})).unwrap();
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
        let mut input = Input::new(json!({"email": "   ", "password": null})).unwrap();
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
        let mut input = Input::new(json!({"password": "   "})).unwrap();
        assert_eq!(
            input.required_secret("password", 4096).as_deref(),
            Some("   ")
        );
        let mut input = Input::new(json!({"password": ""})).unwrap();
        assert_eq!(input.required_secret("password", 4096), None);
    }

    #[test]
    fn strings_are_trimmed_but_secrets_are_not() {
        let mut input = Input::new(json!({"device_name": "  cli  ", "password": " pw "})).unwrap();
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
        let mut input = Input::new(json!({"device_name": "é".repeat(120)})).unwrap();
        assert!(input.required_string("device_name", 120).is_some());
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_as_a_whole() {
        for body in [
            json!(["email"]),
            json!("x"),
            json!(0.0),
            json!(null),
            json!(true),
        ] {
            let errors = Input::new(body.clone()).err().expect("refused");
            let api = anitrack_spec::ApiError::validation(errors);
            assert_eq!(
                serde_json::to_value(&api.body().errors).unwrap(),
                json!({"body": ["The body must be a JSON object."]}),
                "{body}"
            );
        }
        assert!(Input::new(json!({})).is_ok());
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

/// The document's `pattern`s (spec/src/patterns.rs) against the rules
/// above. A pattern describes the value as the server keeps it: whatever
/// it matches, the server accepts, and for a text without surrounding
/// whitespace it matches exactly what the server accepts (the server also
/// trims surrounding whitespace, tabs and line breaks included, which the
/// patterns leave to the client).
#[cfg(test)]
mod pattern_tests {
    use super::*;
    use anitrack_spec::limits::{DEVICE_NAME_MAX, NOTES_MAX, PASSWORD_MAX, SEARCH_Q_MAX};
    use anitrack_spec::patterns;
    use serde_json::json;

    fn regex(pattern: &str) -> regress::Regex {
        regress::Regex::new(pattern).unwrap()
    }

    /// Every character of the Basic Multilingual Plane, and the first,
    /// a middle and the last of every other plane: no character beyond the
    /// BMP is a control character or whitespace (checked here), so each
    /// stands for the rest of its plane.
    fn characters() -> Vec<char> {
        let beyond = (0x10000..=0x10FFFF_u32).filter_map(char::from_u32);
        assert!(
            beyond
                .clone()
                .all(|c| !c.is_control() && !c.is_whitespace()),
            "a character beyond the BMP is a control character or whitespace"
        );
        let planes = (1..=16_u32)
            .flat_map(|plane| [0x0000, 0x8000, 0xFFFD].map(|offset| (plane << 16) + offset));
        (0..=0xFFFF_u32)
            .chain(planes)
            .filter_map(char::from_u32)
            .collect()
    }

    /// Every text the test tries with `c` in it.
    fn texts(c: char) -> [String; 4] {
        [
            c.to_string(),
            format!("a{c}"),
            format!("{c}a"),
            format!("a{c}a"),
        ]
    }

    fn input(field: &str, text: &str) -> Input {
        Input::new(json!({ field: text })).unwrap()
    }

    /// Asserts that whatever `pattern` matches `accepted` accepts, and
    /// that without surrounding whitespace they agree.
    fn agree(name: &str, pattern: &str, accepted: impl Fn(&str) -> bool) {
        let regex = regex(pattern);
        let mut disagreements = Vec::new();
        for c in characters() {
            for text in texts(c) {
                let matched = regex.find(&text).is_some();
                let accepted = accepted(&text);
                let trimmed = text.trim() == text;
                if (matched && !accepted) || (trimmed && matched != accepted) {
                    disagreements.push((text, matched));
                }
            }
        }
        assert!(
            disagreements.is_empty(),
            "{name}: the pattern and the server disagree on {} texts (pattern matched?), e.g. {:?}",
            disagreements.len(),
            &disagreements[..disagreements.len().min(5)]
        );
    }

    #[test]
    fn one_line_with_a_visible_character_is_what_device_names_and_tags_accept() {
        agree("device_name", patterns::VISIBLE_LINE, |text| {
            input("device_name", text)
                .required_string("device_name", DEVICE_NAME_MAX)
                .is_some()
        });
        agree("tag", patterns::VISIBLE_LINE, |text| {
            let mut input = Input::new(json!({ "tags": [text] })).unwrap();
            matches!(input.tags(), Field::Set(_))
        });
    }

    #[test]
    fn notes_accept_every_text_but_control_characters_other_than_line_breaks_and_tabs() {
        agree("notes", patterns::MULTILINE, |text| {
            // Blank notes are accepted as null.
            !matches!(input("notes", text).text("notes", NOTES_MAX), Field::Absent)
        });
    }

    #[test]
    fn a_password_is_anything_but_empty_or_holding_nul() {
        // Never trimmed: the pattern and the server agree on every text.
        let regex = regex(patterns::SECRET);
        for c in characters() {
            for text in texts(c) {
                let accepted = input("password", &text)
                    .required_secret("password", PASSWORD_MAX)
                    .is_some();
                assert_eq!(regex.find(&text).is_some(), accepted, "{text:?}");
            }
        }
        assert!(regex.find("").is_none());
    }

    #[test]
    fn a_search_term_is_one_line() {
        agree("q", patterns::LINE, |text| {
            let get = |_: &str| Some(text.to_string());
            let mut query = QueryInput::new(&get);
            query.string("q", SEARCH_Q_MAX);
            query.finish(()).is_ok()
        });
    }

    #[test]
    fn the_email_pattern_never_refuses_an_address_the_server_accepts() {
        // A necessary condition only (a regular expression without
        // look-ahead cannot count the local part's 64 characters): whatever
        // the server accepts, it matches; the description says the rest.
        let regex = regex(patterns::EMAIL);
        for c in characters() {
            for text in [
                format!("a{c}b@example.test"),
                format!("ab@ex{c}ample.test"),
                format!("{c}@x"),
                format!("x@{c}"),
            ] {
                if email(&text).is_ok_and(|kept| kept == text) {
                    assert!(regex.find(&text).is_some(), "{text:?}");
                }
            }
        }
        for refused in [
            "",
            "@",
            "a@",
            "@b",
            "a b@c",
            "a@b@c",
            "a\u{0}@b",
            "a@b\u{2028}",
        ] {
            assert!(regex.find(refused).is_none(), "{refused:?}");
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
