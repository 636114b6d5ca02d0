//! Wire types of the v1 contract.
//!
//! Response types never use `deny_unknown_fields`: it would flow into the
//! generated client and make old clients reject fields added later, which
//! breaks the additive-only promise of v1.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
/// `email` required, a string, a valid address, at most 255 characters;
/// `password` required, a string; `device_name` required, a string, at most
/// 120 characters. A field of the wrong JSON type is a 422 on that field.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct TokenIssueRequest {
    /// The account's email address.
    pub email: String,
    /// The account's password.
    pub password: String,
    /// Shown on your settings page so you can identify the client. Max 120
    /// chars.
    pub device_name: String,
}

/// A freshly issued token. The plain-text `token` appears in this response
/// only; AniTrack stores just its SHA-256 hash. Store it securely.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
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
    /// Only the anime with this MyAnimeList id.
    pub mal_id: Option<i64>,
    /// Only the anime with this AniList id.
    pub anilist_id: Option<i64>,
    /// Case-insensitive substring of the romaji, English or native title or
    /// a synonym; 1 to 200 characters.
    pub q: Option<String>,
    /// Maximum number of results, 1 to 100 (default 20).
    pub limit: Option<u32>,
}
