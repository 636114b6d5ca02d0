//! The one error shape of the API: `{"message": string, "errors"?: {field:
//! [string]}}`, used for every 4xx and 5xx the handlers and extractors
//! produce.

use std::collections::BTreeMap;
use std::fmt;

use dropshot::{Body, ClientErrorStatusCode, ErrorStatusCode, HttpError, HttpResponseError};
use http::{HeaderName, HeaderValue, Response, header};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Messages fixed by the contract (the published v1 documentation and the
/// decisions this document states), in Laravel's wording.
pub mod messages {
    pub const UNAUTHENTICATED: &str = "Unauthenticated.";
    pub const API_ACCESS_DISABLED: &str = "API access is not enabled for this account.";
    pub const NOT_FOUND: &str = "Not Found";
    pub const VALIDATION: &str = "The given data was invalid.";
    pub const TOO_MANY_ATTEMPTS: &str = "Too Many Attempts.";
    pub const SERVER_ERROR: &str = "Server Error";
    pub const SERVICE_UNAVAILABLE: &str = "Service Unavailable";
    pub const BODY_NOT_JSON: &str = "The request body is not valid JSON.";
    /// A body that is JSON but not an object is a 422 keyed [`BODY_FIELD`]
    /// with this message (never read as an object without fields).
    pub const BODY_NOT_OBJECT: &str = "The body must be a JSON object.";
    /// The `errors` key of a failure of the body as a whole.
    pub const BODY_FIELD: &str = "body";
    pub const UNSUPPORTED_MEDIA_TYPE: &str =
        "Unsupported Media Type: send the body as JSON with Content-Type: application/json.";
    pub const PRECONDITION_FAILED: &str =
        "The entry has changed since the ETag in If-Match: fetch it again before writing.";
    pub const CURSOR_GONE: &str = "The cursor is older than the deletions still kept: drop the copy and start over without a cursor.";
    pub const IDEMPOTENCY_IN_FLIGHT: &str =
        "A request with this Idempotency-Key is still being processed: retry after it ends.";
    pub const IDEMPOTENCY_KEY_REUSED: &str =
        "The idempotency key has already been used for a different request.";
}

/// Error information. `message` is always present; `errors` only on 422
/// validation failures, keyed by request field name, each with one or more
/// English sentences. Other keys may be added within v1.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename = "Error")]
pub struct ErrorBody {
    /// A human-readable summary, e.g. `Unauthenticated.` or
    /// `The given data was invalid.`
    pub message: String,
    /// Validation failures (422 only): field name to messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
}

/// Per-field validation messages, collected so that every failing field is
/// reported at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// The first message of the first failing field, for a single-field
    /// form that shows one sentence.
    pub fn first_message(&self) -> Option<String> {
        self.0.values().flat_map(|m| m.first()).next().cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing failed, else the 422 error.
    pub fn into_result<T>(self, value: T) -> Result<T, ApiError> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::validation(self))
        }
    }
}

/// An error response: status, body, and the headers it must carry
/// (`WWW-Authenticate` on 401, `Retry-After` on 429 and 503).
///
/// dropshot serializes a handler's error type through `Serialize` alone and
/// cannot attach headers to it, so header-carrying errors travel inside
/// [`crate::Reply`], which builds the response with [`ApiError::into_response`];
/// `Err(ApiError)` from a handler is only used for errors raised by
/// extractors before the handler runs.
#[derive(Debug)]
pub struct ApiError {
    status: ErrorStatusCode,
    body: ErrorBody,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// What the log gets instead of the body (never sent to the client).
    internal: Option<String>,
}

impl ApiError {
    fn new(status: ErrorStatusCode, message: &str) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                message: message.to_string(),
                errors: None,
            },
            headers: Vec::new(),
            internal: None,
        }
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorStatusCode::UNAUTHORIZED, messages::UNAUTHENTICATED)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    pub fn api_access_disabled() -> Self {
        Self::new(ErrorStatusCode::FORBIDDEN, messages::API_ACCESS_DISABLED)
    }

    pub fn not_found() -> Self {
        Self::new(ErrorStatusCode::NOT_FOUND, messages::NOT_FOUND)
    }

    pub fn validation(errors: FieldErrors) -> Self {
        let mut error = Self::new(ErrorStatusCode::UNPROCESSABLE_ENTITY, messages::VALIDATION);
        error.body.errors = Some(errors.0);
        error
    }

    /// A 422 for a single field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        Self::validation(errors)
    }

    pub fn too_many_attempts() -> Self {
        Self::new(
            ErrorStatusCode::TOO_MANY_REQUESTS,
            messages::TOO_MANY_ATTEMPTS,
        )
    }

    pub fn bad_request(message: &str) -> Self {
        Self::new(ErrorStatusCode::BAD_REQUEST, message)
    }

    /// 412: `If-Match` holds no current `ETag`.
    pub fn precondition_failed() -> Self {
        Self::new(
            ErrorStatusCode::PRECONDITION_FAILED,
            messages::PRECONDITION_FAILED,
        )
    }

    /// 410: a change-feed cursor older than the tombstones still kept.
    pub fn cursor_gone() -> Self {
        Self::new(ErrorStatusCode::GONE, messages::CURSOR_GONE)
    }

    /// 409: the first request with this `Idempotency-Key` is still running.
    pub fn idempotency_in_flight() -> Self {
        Self::new(ErrorStatusCode::CONFLICT, messages::IDEMPOTENCY_IN_FLIGHT)
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
    }

    pub fn payload_too_large(limit_bytes: usize) -> Self {
        let message = format!("The request body must not be larger than {limit_bytes} bytes.");
        Self::new(ErrorStatusCode::PAYLOAD_TOO_LARGE, &message)
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            ErrorStatusCode::UNSUPPORTED_MEDIA_TYPE,
            messages::UNSUPPORTED_MEDIA_TYPE,
        )
    }

    /// A 500 whose cause goes to the log only.
    pub fn internal(cause: impl fmt::Display) -> Self {
        let mut error = Self::new(
            ErrorStatusCode::INTERNAL_SERVER_ERROR,
            messages::SERVER_ERROR,
        );
        error.internal = Some(cause.to_string());
        error
    }

    /// A 503 (e.g. the database is unreachable) telling the client when to
    /// retry; the cause goes to the log only.
    pub fn unavailable(cause: impl fmt::Display, retry_after_secs: u32) -> Self {
        let mut error = Self::new(
            ErrorStatusCode::SERVICE_UNAVAILABLE,
            messages::SERVICE_UNAVAILABLE,
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        error.internal = Some(cause.to_string());
        error
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn status(&self) -> ErrorStatusCode {
        self.status
    }

    pub fn body(&self) -> &ErrorBody {
        &self.body
    }

    /// The full response: JSON body plus every header this error carries.
    pub fn into_response(self) -> Response<Body> {
        // Serializing a struct of strings cannot fail; fall back to a fixed
        // body rather than panic if it ever did.
        let json = serde_json::to_string(&self.body)
            .unwrap_or_else(|_| format!("{{\"message\":\"{}\"}}", messages::SERVER_ERROR));
        let mut response = Response::new(Body::from(json));
        *response.status_mut() = self.status.as_status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(dropshot::CONTENT_TYPE_JSON),
        );
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.internal {
            Some(internal) => write!(f, "{}: {internal}", self.body.message),
            None => f.write_str(&self.body.message),
        }
    }
}

impl std::error::Error for ApiError {}

impl Serialize for ApiError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.body.serialize(serializer)
    }
}

impl JsonSchema for ApiError {
    fn schema_name() -> String {
        ErrorBody::schema_name()
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        ErrorBody::json_schema(generator)
    }
}

impl HttpResponseError for ApiError {
    fn status_code(&self) -> ErrorStatusCode {
        self.status
    }
}

/// Errors dropshot raises itself (extractors, response serialization) keep
/// their status; a server error's text is replaced so internals never leak.
impl From<HttpError> for ApiError {
    fn from(error: HttpError) -> Self {
        if error.status_code.is_server_error() {
            let mut api = Self::new(error.status_code, messages::SERVER_ERROR);
            api.internal = Some(error.internal_message);
            return api;
        }
        let mut api = Self::new(error.status_code, &error.external_message);
        if let Some(headers) = error.headers {
            api.headers
                .extend(headers.iter().map(|(n, v)| (n.clone(), v.clone())));
        }
        api
    }
}

impl From<ClientErrorStatusCode> for ApiError {
    fn from(status: ClientErrorStatusCode) -> Self {
        let status: ErrorStatusCode = status.into();
        Self::new(status, status.canonical_reason().unwrap_or("Error"))
    }
}
