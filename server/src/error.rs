//! The server's error type and its one mapping to HTTP ([`ApiError`]).

use anitrack_spec::ApiError;
use anitrack_spec::error::FieldErrors;

use crate::db::DbError;

/// Seconds a client should wait before retrying while the database is down:
/// about the pool's acquire timeout.
const RETRY_AFTER_UNAVAILABLE_SECS: u32 = 2;
/// Seconds to wait when a bounded queue (hashing slots, the unfamiliar-token
/// lane) was full: such a queue drains within about a second.
const RETRY_AFTER_BUSY_SECS: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("API access disabled for this account")]
    ApiAccessDisabled,
    #[error("not found")]
    NotFound,
    /// A method the published path does not have, reaching a handler
    /// through a served route shape (see `anitrack_spec::routes`).
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("rate limit exceeded")]
    TooManyAttempts,
    #[error("the request took longer than the request timeout")]
    Timeout,
    /// A bounded resource stayed full (a lane of the pool): 503, retry soon.
    #[error("busy: {0}")]
    Busy(&'static str),
    #[error("validation failed")]
    Invalid(FieldErrors),
    /// A request header that no rule accepts (400, with this message).
    #[error("bad header: {0}")]
    BadHeader(&'static str),
    /// `If-Match` holds no current `ETag` (412).
    #[error("precondition failed")]
    PreconditionFailed,
    /// A change-feed cursor older than the tombstones kept (410).
    #[error("cursor gone")]
    CursorGone,
    /// The first request with the same `Idempotency-Key` is running (409).
    #[error("idempotency key in flight")]
    InFlight,
    #[error(transparent)]
    Db(#[from] DbError),
    /// A failure of the server's own machinery (a hashing task that
    /// panicked): 500, the cause logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<FieldErrors> for Error {
    fn from(errors: FieldErrors) -> Self {
        Error::Invalid(errors)
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(error: tokio_postgres::Error) -> Self {
        Error::Db(error.into())
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Error::Db(error.into())
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::Unauthenticated => ApiError::unauthenticated(),
            Error::ApiAccessDisabled => ApiError::api_access_disabled(),
            Error::NotFound => ApiError::not_found(),
            Error::MethodNotAllowed => {
                ApiError::from(dropshot::ClientErrorStatusCode::METHOD_NOT_ALLOWED)
            }
            Error::TooManyAttempts => ApiError::too_many_attempts(),
            Error::Timeout => {
                ApiError::unavailable("request timeout", RETRY_AFTER_UNAVAILABLE_SECS)
            }
            Error::Invalid(errors) => ApiError::validation(errors),
            Error::BadHeader(message) => ApiError::bad_request(message),
            Error::PreconditionFailed => ApiError::precondition_failed(),
            Error::CursorGone => ApiError::cursor_gone(),
            Error::InFlight => ApiError::idempotency_in_flight(),
            Error::Db(db) if db.is_unavailable() => {
                ApiError::unavailable(db, RETRY_AFTER_UNAVAILABLE_SECS)
            }
            Error::Busy(what) => ApiError::unavailable(what, RETRY_AFTER_BUSY_SECS),
            Error::Db(db) => ApiError::internal(db),
            Error::Internal(cause) => ApiError::internal(cause),
        }
    }
}
