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
