//! The contract's numbers: one home for each. The schema attributes in
//! [`crate::types`] name these constants (so the document states them), the
//! server's validation uses them, and a test of the emitted document checks
//! every bound it publishes against the constant it comes from.

/// `score`: an integer from 0 to 100.
pub const SCORE_MIN: i64 = 0;
pub const SCORE_MAX: i64 = 100;
/// `progress` and `rewatch_count` are never negative.
pub const PROGRESS_MIN: i64 = 0;
pub const REWATCH_COUNT_MIN: i64 = 0;
/// `notes`: at most this many characters.
pub const NOTES_MAX: usize = 2000;
/// `tags`: at most this many tags, each of [`TAG_MIN`] to [`TAG_MAX`]
/// characters.
pub const TAGS_MAX: usize = 25;
pub const TAG_MIN: usize = 1;
pub const TAG_MAX: usize = 50;
/// `anime_id` of `POST /list` and `mal_id`, `anilist_id` of `GET /anime`
/// are positive. The document says so in words only: as a `minimum`, it
/// would make generated clients type these ids as unsigned non-zero
/// integers, which the signed ids in every response could not be passed as.
pub const ID_MIN: i64 = 1;

/// A required string of `POST /auth/token` (`email`, `password`,
/// `device_name`) holds at least this many characters: an empty one is
/// "required" (and so is a blank one, but for the password: see
/// [`crate::patterns`]).
pub const REQUIRED_TEXT_MIN: usize = 1;

/// `device_name` of `POST /auth/token` (the token's name).
pub const DEVICE_NAME_MAX: usize = 120;
/// Any email address (RFC 5321's path limit is 256 octets with brackets).
pub const EMAIL_MAX: usize = 255;
/// Passwords longer than this are refused before hashing (Argon2's cost
/// does not grow with length, but parsing and transport do).
pub const PASSWORD_MAX: usize = 4096;

/// `GET /anime`: `q` of at most this many characters (an empty one is no
/// filter)...
pub const SEARCH_Q_MAX: usize = 200;
/// ...and `limit` from [`SEARCH_LIMIT_MIN`] to [`SEARCH_LIMIT_MAX`], by
/// default this.
pub const SEARCH_LIMIT_DEFAULT: i64 = 20;
pub const SEARCH_LIMIT_MIN: i64 = 1;
pub const SEARCH_LIMIT_MAX: i64 = 100;

/// `Retry-After` is at least this many seconds.
pub const RETRY_AFTER_MIN: i64 = 1;

/// `GET /list` bodies one account may be sent at once by one server (a
/// streamed list holds a database connection while the client reads).
pub const LIST_STREAMS_PER_ACCOUNT: usize = 4;

/// Active (unrevoked) tokens an account may hold at once. Creating one more
/// (`POST /auth/token`, the settings page, the operator CLI) is refused
/// until one is revoked.
pub const TOKENS_ACTIVE_MAX: u32 = 100;

/// Tokens an account may create per hour (`POST /auth/token` and the
/// settings page together); past it, 429 with the rate-limit headers.
pub const TOKEN_CREATIONS_PER_HOUR: u32 = 20;

/// `limit` of `GET /list/changes` and of a paged `GET /list`: from
/// [`PAGE_LIMIT_MIN`] to [`PAGE_LIMIT_MAX`], by default [`PAGE_LIMIT_DEFAULT`].
pub const PAGE_LIMIT_MIN: i64 = 1;
pub const PAGE_LIMIT_MAX: i64 = 1000;
pub const PAGE_LIMIT_DEFAULT: i64 = 500;

/// `Idempotency-Key`: 1 to this many visible ASCII characters.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;
/// How long the answer to a request with an `Idempotency-Key` is kept and
/// replayed.
pub const IDEMPOTENCY_KEY_HOURS: u32 = 24;

/// How long a deleted entry's tombstone stays in the change feed by default
/// (operators set `--tombstone-retention-days`); a cursor older than the
/// oldest tombstone purged is 410.
pub const TOMBSTONE_RETENTION_DAYS_DEFAULT: u32 = 90;
