//! A refused request's answer, typed: every error the API sends has the
//! contract's body, `{"message": ..., "errors"?: {field: [...]}}`
//! ([`types::Error`]), and the generated client hands it back inside
//! `Error::ErrorResponse`. [`ErrorExt`] reads it without a `match` on
//! progenitor's error variants.

use std::time::Duration;

use crate::{Error, types};

/// What every generated operation's `send()` fails with.
pub type ApiError = Error<types::Error>;

/// The contract's error body, and what else a refusal says, from the
/// client's error. `status()` (progenitor's own) gives the status.
pub trait ErrorExt {
    /// The error body, when the server answered with one.
    fn body(&self) -> Option<&types::Error>;

    /// The messages of a 422 for one request field (empty if none).
    fn field_errors(&self, field: &str) -> &[String] {
        self.body().map_or(&[], |body| body.field_errors(field))
    }

    /// The answer's `Retry-After` (on 429, 503 and a 409 of a key still in
    /// progress), in seconds.
    fn retry_after(&self) -> Option<Duration>;
}

impl ErrorExt for ApiError {
    fn body(&self) -> Option<&types::Error> {
        match self {
            Error::ErrorResponse(answer) => Some(answer.as_ref()),
            _ => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::ErrorResponse(answer) => crate::retry_after(answer.headers()),
            Error::UnexpectedResponse(response) => crate::retry_after(response.headers()),
            _ => None,
        }
    }
}

impl types::Error {
    /// The messages for one request field (a 422's `errors`), empty if
    /// it has none.
    pub fn field_errors(&self, field: &str) -> &[String] {
        self.errors
            .as_ref()
            .and_then(|errors| errors.get(field))
            .map_or(&[], Vec::as_slice)
    }
}

/// The message, then each field's messages, fields in name order:
/// `The given data was invalid. (progress: The progress field must be at
/// least 0.)`.
impl std::fmt::Display for types::Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        let mut fields: Vec<_> = self.errors.iter().flatten().collect();
        if fields.is_empty() {
            return Ok(());
        }
        fields.sort();
        f.write_str(" (")?;
        for (n, (field, messages)) in fields.into_iter().enumerate() {
            if n > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{field}: {}", messages.join(" "))?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_prints_its_message_and_its_fields_in_order() {
        let body: types::Error = serde_json::from_value(serde_json::json!({
            "message": "The given data was invalid.",
            "errors": {"status": ["The status field is required."], "progress": ["A.", "B."]},
        }))
        .unwrap();
        assert_eq!(
            body.to_string(),
            "The given data was invalid. (progress: A. B.; status: The status field is required.)"
        );
        assert_eq!(body.field_errors("progress"), ["A.", "B."]);
        assert!(body.field_errors("score").is_empty());
        let plain: types::Error =
            serde_json::from_value(serde_json::json!({"message": "Not Found"})).unwrap();
        assert_eq!(plain.to_string(), "Not Found");
    }
}
