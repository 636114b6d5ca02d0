//! Wire types of the v1 contract.
//!
//! Response types never use `deny_unknown_fields`: it would flow into the
//! generated client and make old clients reject fields added later, which
//! breaks the additive-only promise of v1.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The schema of an `Option<T>` whose `T` is a referenced object: the
/// reference under `allOf`, with `type: object` beside `nullable` (OpenAPI
/// 3.0 gives `nullable` no meaning without a `type`; linters refuse it).
pub fn nullable_object<T: JsonSchema>(
    generator: &mut schemars::r#gen::SchemaGenerator,
) -> schemars::schema::Schema {
    use schemars::schema::{InstanceType, Schema, SchemaObject, SubschemaValidation};
    let reference = generator.subschema_for::<T>();
    let mut schema = SchemaObject {
        instance_type: Some(InstanceType::Object.into()),
        subschemas: Some(Box::new(SubschemaValidation {
            all_of: Some(vec![reference]),
            ..Default::default()
        })),
        ..Default::default()
    };
    schema
        .extensions
        .insert("nullable".to_string(), serde_json::Value::Bool(true));
    Schema::Object(schema)
}

/// An instant, always written as RFC 3339 in UTC with a `Z` suffix and whole
/// seconds (`2026-11-27T11:11:05Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> String {
        "Timestamp".to_string()
    }

    fn is_referenceable() -> bool {
        false
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        <DateTime<Utc>>::json_schema(generator)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Timestamp(value)
    }
}

/// Credentials exchanged for a bearer token.
///
/// Validation (all failing fields are reported at once, status 422):
/// `email` required, a string, at most 255 characters, an address of the
/// shape `local@domain` with no whitespace or control character, a local
/// part of at most 64 characters that neither starts nor ends with a dot
/// and holds no two dots in a row, and a domain of dot-separated labels of
/// letters, digits and hyphens (not starting or ending with a hyphen);
/// `password` required, a string of 1 to 4096 characters, kept exactly as
/// sent (never trimmed), without NUL; `device_name` required, a string of
/// at most 120 characters, one line (no control character). `email` and
/// `device_name` are trimmed first, and an empty or blank one is
/// `required`; so is an empty password. A field of the wrong JSON type is a
/// 422 on that field; a body that is JSON but not an object is a 422 on
/// `body` (`The body must be a JSON object.`).
#[derive(Clone, Deserialize, Serialize, JsonSchema)]
pub struct TokenIssueRequest {
    /// The account's email address.
    #[schemars(
        length(
            min = "crate::limits::REQUIRED_TEXT_MIN",
            max = "crate::limits::EMAIL_MAX"
        ),
        regex = "crate::patterns::EMAIL"
    )]
    pub email: String,
    /// The account's password.
    #[schemars(
        length(
            min = "crate::limits::REQUIRED_TEXT_MIN",
            max = "crate::limits::PASSWORD_MAX"
        ),
        regex = "crate::patterns::SECRET"
    )]
    pub password: String,
    /// Shown on your settings page so you can identify the client. Max 120
    /// chars, one line, not blank.
    #[schemars(
        length(
            min = "crate::limits::REQUIRED_TEXT_MIN",
            max = "crate::limits::DEVICE_NAME_MAX"
        ),
        regex = "crate::patterns::VISIBLE_LINE"
    )]
    pub device_name: String,
}

/// A freshly issued token. The plain-text `token` appears in this response
/// only; AniTrack stores just its SHA-256 hash. Store it securely.
#[derive(Clone, Deserialize, Serialize, JsonSchema)]
pub struct NewToken {
    /// Token id, as listed by `GET /auth/tokens` and revoked by
    /// `DELETE /auth/tokens/{id}`.
    pub id: i64,
    /// The `device_name` the token was issued for.
    pub name: String,
    /// The bearer token: `atk_` followed by 30 base62 characters of
    /// randomness (178 bits) and a 6-character base62 CRC32 checksum of
    /// them, so secret scanners can tell a real token from a look-alike.
    pub token: String,
    /// When the token was issued.
    pub created_at: Timestamp,
}

/// An active API token of the account. Never the token itself or its hash.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct TokenSummary {
    /// Token id.
    pub id: i64,
    /// The device name given when the token was issued.
    pub name: String,
    /// When the token was issued.
    pub created_at: Timestamp,
    /// When the token was last used, to the minute (AniTrack records use at
    /// most once a minute per token); null if never used.
    pub last_used_at: Option<Timestamp>,
    /// True for the token that authenticated this request.
    pub is_current: bool,
}

/// The account's active API tokens, newest first.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct TokenList {
    /// The tokens, newest first (ties by id, descending).
    pub data: Vec<TokenSummary>,
}

/// The profile of the account that owns the bearer token.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct User {
    /// Account id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// When the account was created.
    pub created_at: Timestamp,
}

/// A studio that worked on an anime.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Studio {
    /// AniList's studio id.
    pub id: i64,
    /// Studio name.
    pub name: String,
    /// False for producers and licensors credited beside the animation studio.
    pub is_animation_studio: bool,
}

/// Identifiers of the same anime on other sites. More sites may be added
/// within v1 as keys of this object.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ExternalIds {
    /// AniList media id.
    pub anilist: i64,
    /// MyAnimeList anime id, when known.
    pub mal: Option<i64>,
}

/// Full anime detail.
///
/// `format`, `status` and `season` are AniList's values as strings (e.g.
/// `TV`, `MOVIE`; `FINISHED`, `RELEASING`; `WINTER`...`FALL`); they are
/// strings, not enumerations, so that values AniList adds later do not break
/// v1 clients. `start_date` and `end_date` are ISO 8601 calendar dates with
/// reduced precision where AniList knows only part of the date (`2019`,
/// `2019-04` or `2019-04-06`), or null.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Anime {
    /// AniTrack's anime id (the `anime_id` of list entries).
    pub id: i64,
    /// URL slug, as in `GET /anime/{slug}`: the slugified English title,
    /// else the romaji title, with a readable suffix on collisions. Slugs an
    /// anime had before a title change keep resolving to it.
    pub slug: String,
    /// AniList media id.
    pub anilist_id: i64,
    /// Romaji title.
    pub title: String,
    /// English title, when there is one.
    pub title_english: Option<String>,
    /// Native title, when known.
    pub title_native: Option<String>,
    /// AniList format: `TV`, `TV_SHORT`, `MOVIE`, `SPECIAL`, `OVA`, `ONA`, `MUSIC`.
    pub format: Option<String>,
    /// AniList status: `FINISHED`, `RELEASING`, `NOT_YET_RELEASED`, `CANCELLED`, `HIATUS`.
    pub status: Option<String>,
    /// Number of episodes; null while unknown (e.g. still airing).
    pub episodes: Option<i32>,
    /// Season of the first airing: `WINTER`, `SPRING`, `SUMMER`, `FALL`.
    pub season: Option<String>,
    /// Year of that season.
    pub season_year: Option<i32>,
    /// First airing date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`).
    pub start_date: Option<String>,
    /// Last airing date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`).
    pub end_date: Option<String>,
    /// Synopsis as plain text (AniList's HTML markup removed, line breaks kept).
    pub synopsis: Option<String>,
    /// Cover image URL.
    pub cover_image_url: Option<String>,
    /// Genre names.
    pub genres: Vec<String>,
    /// Studios, main animation studios first.
    pub studios: Vec<Studio>,
    /// Ids on other sites.
    pub external_ids: ExternalIds,
    /// When AniTrack last changed this record.
    pub updated_at: Timestamp,
}

/// Anime matching a catalog search, best match first.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct AnimeList {
    /// The matches (empty when nothing matches).
    pub data: Vec<Anime>,
}

/// Filters of `GET /anime`; all optional, combined with AND.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct AnimeSearchParams {
    /// Only the anime with this MyAnimeList id, a positive integer.
    pub mal_id: Option<i64>,
    /// Only the anime with this AniList id, a positive integer.
    pub anilist_id: Option<i64>,
    /// Case-insensitive substring of the romaji, English or native title or
    /// a synonym; 1 to 200 characters, one line (no control character). An
    /// empty `q` is no filter.
    #[schemars(
        length(max = "crate::limits::SEARCH_Q_MAX"),
        regex = "crate::patterns::LINE"
    )]
    pub q: Option<String>,
    /// Maximum number of results, 1 to 100 (default 20).
    #[schemars(range(
        min = "crate::limits::SEARCH_LIMIT_MIN",
        max = "crate::limits::SEARCH_LIMIT_MAX"
    ))]
    pub limit: Option<u32>,
}

/// Where an entry stands. v1 has exactly these five values and will not add
/// one (a new value would break generated clients' closed enums).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListStatus {
    Watching,
    Completed,
    OnHold,
    Dropped,
    PlanToWatch,
}

impl ListStatus {
    pub const ALL: [ListStatus; 5] = [
        ListStatus::Watching,
        ListStatus::Completed,
        ListStatus::OnHold,
        ListStatus::Dropped,
        ListStatus::PlanToWatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ListStatus::Watching => "watching",
            ListStatus::Completed => "completed",
            ListStatus::OnHold => "on_hold",
            ListStatus::Dropped => "dropped",
            ListStatus::PlanToWatch => "plan_to_watch",
        }
    }

    pub fn parse(text: &str) -> Option<ListStatus> {
        ListStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The anime of a list entry, in short.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct AnimeSummary {
    /// AniTrack's anime id.
    pub id: i64,
    /// URL slug (`GET /anime/{slug}`).
    pub slug: String,
    /// Romaji title.
    pub title: String,
    /// Number of episodes; null while unknown.
    pub episodes: Option<i32>,
    /// Cover image URL.
    pub cover_image_url: Option<String>,
}

/// An anime on the token owner's list.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ListEntry {
    /// Entry id (`PATCH /list/{entryId}`, `DELETE /list/{entryId}`).
    pub id: i64,
    /// AniTrack's anime id.
    pub anime_id: i64,
    /// The anime, in short.
    pub anime: AnimeSummary,
    /// Where the entry stands.
    pub status: ListStatus,
    /// 0–100 (the UI divides by ten); null when unscored.
    pub score: Option<i32>,
    /// Episodes watched.
    pub progress: i32,
    /// When watching started (`YYYY-MM-DD`).
    pub started_at: Option<chrono::NaiveDate>,
    /// When watching was completed (`YYYY-MM-DD`).
    pub completed_at: Option<chrono::NaiveDate>,
    /// Free-form notes, at most 2000 characters.
    pub notes: Option<String>,
    /// Hidden from other people (the API only ever shows an account its own
    /// list).
    pub is_private: bool,
    /// Being watched again.
    pub is_rewatching: bool,
    /// Completed rewatches.
    pub rewatch_count: i32,
    /// Tags, in the order given, without duplicates.
    pub tags: Vec<String>,
    /// When the entry was added.
    pub created_at: Timestamp,
    /// When the entry last changed.
    pub updated_at: Timestamp,
    /// Revision: 1 when the entry is added, one more on every change (its
    /// deletion included, as seen in `GET /list/changes`). (Added to v1
    /// after its first publication.)
    pub rev: i64,
}

/// The token owner's list entries, most recently updated first (ties by id,
/// descending).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ListEntries {
    /// The entries.
    pub data: Vec<ListEntry>,
    /// Only when a page was asked for (`limit` or `cursor`): the `cursor`
    /// of the next page, or null on the last one. (Added to v1 after its
    /// first publication.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Filters of `GET /list`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ListParams {
    /// Only entries with this status: one of `watching`, `completed`,
    /// `on_hold`, `dropped`, `plan_to_watch` (anything else is 422).
    pub status: Option<ListStatus>,
    /// Entries per page, 1 to 1000 (default 500 when only `cursor` is
    /// given). With `limit` or `cursor` the answer is one page and carries
    /// `next_cursor`; without both, the whole list. (Added to v1 after its
    /// first publication.)
    #[schemars(range(
        min = "crate::limits::PAGE_LIMIT_MIN",
        max = "crate::limits::PAGE_LIMIT_MAX"
    ))]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page. A cursor that was not issued
    /// to this account is 422. (Added to v1 after its first publication.)
    pub cursor: Option<String>,
}

/// A tag of a list entry: one line (no control character) of 1 to 50
/// characters with at least one that is not whitespace. The server trims
/// it before counting and storing, so leading and trailing whitespace is
/// dropped.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct Tag(
    #[schemars(
        length(min = "crate::limits::TAG_MIN", max = "crate::limits::TAG_MAX"),
        regex = "crate::patterns::VISIBLE_LINE"
    )]
    pub String,
);

/// A new list entry.
///
/// Validation (422, every failing field at once, Laravel-style messages):
/// `anime_id` required, an AniTrack anime id (a positive integer) that
/// exists in the catalog and is not already on the list; `status` required,
/// one of the five values; `score` an integer 0–100 or null; `progress` an
/// integer ≥ 0 and not above a known episode count (default 0);
/// `started_at` / `completed_at` dates as `YYYY-MM-DD` or null,
/// `completed_at` not before `started_at`; `notes` at most 2000 characters
/// (after trimming; tab and line breaks allowed, no other control
/// character) or null, blank notes being null; `is_private`,
/// `is_rewatching` booleans (default false); `rewatch_count` an integer ≥ 0
/// (default 0); `tags` at most 25 tags (see `Tag`; errors name the item,
/// e.g. `tags.3`), duplicates merged, order kept. Integers are JSON numbers
/// without a fraction and booleans are JSON `true`/`false`: any other JSON
/// type is a 422 on that field. Only the fields marked nullable accept
/// `null`: leave the others out for their default (`null` is a 422 on
/// that field). A body that is JSON but not an object (`[]`, `"x"`, `0`,
/// `null`) is a 422 on `body` (`The body must be a JSON object.`); an empty
/// body is `{}`.
///
/// When `progress` reaches a known episode count, the entry becomes
/// `completed` and `completed_at` is set to today (UTC) unless given; if it
/// was rewatching, `rewatch_count` goes up by one and `is_rewatching` turns
/// false. An unknown episode count (airing shows) never caps progress.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct NewListEntry {
    /// AniTrack's anime id (see `GET /anime`): a positive integer.
    pub anime_id: i64,
    /// Where the entry stands.
    pub status: ListStatus,
    /// 0–100.
    #[schemars(range(min = "crate::limits::SCORE_MIN", max = "crate::limits::SCORE_MAX"))]
    pub score: Option<i32>,
    /// Episodes watched. Default 0; not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i32", range(min = "crate::limits::PROGRESS_MIN"))]
    pub progress: Option<i32>,
    /// `YYYY-MM-DD`.
    pub started_at: Option<chrono::NaiveDate>,
    /// `YYYY-MM-DD`, not before `started_at`.
    pub completed_at: Option<chrono::NaiveDate>,
    /// Max 2000 chars.
    #[schemars(
        length(max = "crate::limits::NOTES_MAX"),
        regex = "crate::patterns::MULTILINE"
    )]
    pub notes: Option<String>,
    /// Default false; not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub is_private: Option<bool>,
    /// Default false; not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub is_rewatching: Option<bool>,
    /// Default 0; not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i32", range(min = "crate::limits::REWATCH_COUNT_MIN"))]
    pub rewatch_count: Option<i32>,
    /// At most 25 tags. Default none; not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<Tag>", length(max = "crate::limits::TAGS_MAX"))]
    pub tags: Option<Vec<String>>,
}

/// A partial update: send only the fields to change. An absent field is
/// unchanged; an explicit `null` clears `score`, `started_at`,
/// `completed_at` and `notes`, the only nullable fields (`null` for any
/// other is a 422 on that field). Fields the entry does not let you set
/// (`id`, `anime_id`, `user_id`, timestamps) are ignored. Validation and
/// the progress rules are those of `POST /list`; `completed_at` is checked
/// against the resulting `started_at`. `updated_at` moves only when
/// something actually changed. A body that is JSON but not an object (`[]`,
/// `"x"`, `0`, `null`) is a 422 on `body` (`The body must be a JSON
/// object.`), never an empty update; an empty body is `{}`, which changes
/// nothing.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ListEntryPatch {
    /// Where the entry stands. Not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ListStatus")]
    pub status: Option<ListStatus>,
    /// 0–100, or null to clear.
    #[schemars(range(min = "crate::limits::SCORE_MIN", max = "crate::limits::SCORE_MAX"))]
    pub score: Option<i32>,
    /// Episodes watched. Not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i32", range(min = "crate::limits::PROGRESS_MIN"))]
    pub progress: Option<i32>,
    /// `YYYY-MM-DD`, or null to clear.
    pub started_at: Option<chrono::NaiveDate>,
    /// `YYYY-MM-DD`, or null to clear.
    pub completed_at: Option<chrono::NaiveDate>,
    /// Max 2000 chars, or null to clear.
    #[schemars(
        length(max = "crate::limits::NOTES_MAX"),
        regex = "crate::patterns::MULTILINE"
    )]
    pub notes: Option<String>,
    /// Hidden from other people. Not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub is_private: Option<bool>,
    /// Being watched again. Not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub is_rewatching: Option<bool>,
    /// Completed rewatches. Not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i32", range(min = "crate::limits::REWATCH_COUNT_MIN"))]
    pub rewatch_count: Option<i32>,
    /// Replaces the tags: at most 25 tags. Not null (`[]` removes them all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<Tag>", length(max = "crate::limits::TAGS_MAX"))]
    pub tags: Option<Vec<String>>,
}

/// `GET /health` and `GET /ready` (operational, not part of the published
/// v1 document).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Health {
    /// `ok` (process up) or `ready` (database reachable, migrations current).
    pub status: String,
}

/// What `Debug` prints in place of a password or a token, so that neither
/// reaches a log line or a panic message.
pub const REDACTED: &str = "[redacted]";

impl std::fmt::Debug for TokenIssueRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssueRequest")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("device_name", &self.device_name)
            .finish()
    }
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("token", &REDACTED)
            .field("created_at", &self.created_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_a_password_or_a_token() {
        let request = TokenIssueRequest {
            email: "a@b.c".into(),
            password: "hunter2-secret".into(),
            device_name: "cli".into(),
        };
        let printed = format!("{request:?}");
        assert!(!printed.contains("hunter2-secret"), "{printed}");
        assert!(printed.contains("a@b.c") && printed.contains(REDACTED));
        let token = NewToken {
            id: 1,
            name: "cli".into(),
            token: "atk_plaintextplaintext".into(),
            created_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH.into(),
        };
        let printed = format!("{token:?}");
        assert!(!printed.contains("atk_plaintext"), "{printed}");
    }
}
