//! The API trait. Method names are the operationIds, part of the contract:
//! renaming one breaks generated clients.

use dropshot::{
    Body, HttpResponseCreated, HttpResponseDeleted, HttpResponseOk, Path, RequestContext,
    UntypedBody,
};
use http::Response;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::extract::LiteralSegment;
use crate::extract::RequestHeaders;
use crate::reply::WithHeaders;
use crate::sync::{
    CreateConditions, EntryHeaders, ListChanges, ListChangesParams, ListHeaders, ReadConditions,
    ReplayHeaders, WriteConditions,
};
use crate::types::{
    Anime, AnimeList, AnimeSearchParams, Health, ListEntries, ListEntry, ListEntryPatch,
    ListParams, NewListEntry, NewToken, TokenIssueRequest, TokenList, User,
};
use crate::{ApiError, JsonBody, PathId, QueryParams, Reply, StreamedOk};

/// Path of `DELETE /auth/tokens/{id}`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct TokenPath {
    /// The token's id, as listed by `GET /auth/tokens`.
    pub id: PathId,
}

/// Path of `GET /anime/{slug}`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AnimeSlugPath {
    /// The anime's slug, e.g. `demon-slayer-kimetsu-no-yaiba`.
    pub slug: String,
}

/// Path of `GET /anime/anilist/{anilistId}`, served at
/// `/anime/{slug}/{anilistId}` (see [`crate::routes`]); `slug` holds the
/// literal `anilist` and is not part of the published document.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AnimeAnilistPath {
    /// The literal `anilist`.
    pub slug: LiteralSegment,
    /// The AniList media id, e.g. `101922`.
    #[serde(rename = "anilistId")]
    pub anilist_id: PathId,
}

/// Path of `PATCH|DELETE /list/{entryId}`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EntryPath {
    /// The list entry's id.
    #[serde(rename = "entryId")]
    pub entry_id: PathId,
}

/// Path of `GET /list/anime/{animeId}`, served at `/list/{entryId}/{animeId}`
/// (see [`crate::routes`]); `entryId` holds the literal `anime` and is not
/// part of the published document.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EntryForAnimePath {
    /// The literal `anime`.
    #[serde(rename = "entryId")]
    pub literal: LiteralSegment,
    /// AniTrack's anime id.
    #[serde(rename = "animeId")]
    pub anime_id: PathId,
}

/// Path of `GET /list/changes`, served at `/list/{entryId}` (see
/// [`crate::routes`]); `entryId` holds the literal `changes` and is not part
/// of the published document.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ChangesPath {
    /// The literal `changes`.
    #[serde(rename = "entryId")]
    pub literal: LiteralSegment,
}

/// Path of the settings page's per-token pages.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SettingsTokenPath {
    pub id: PathId,
}

/// Path of the static files (the settings page's, the API reference's).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AssetPath {
    pub file: String,
}

#[dropshot::api_description {
    tag_config = {
        // An endpoint's tag must be one of these (the settings page's and the
        // probes' endpoints, unpublished, have none).
        allow_other_tags = false,
        tags = {
            "auth" = {
                description = "Bearer tokens: exchange an account's email and password for a token, list the account's active tokens, revoke one or the current one."
            },
            "user" = {
                description = "The account that owns the bearer token."
            },
            "anime" = {
                description = "The catalog, imported from AniList: an anime by slug or by AniList id, and search by title or by id on another site."
            },
            "list" = {
                description = "The token owner's anime list: read it whole or by pages, follow its changes (the sync feed), and add, update or remove entries with conditional (`If-Match`) and retry-safe (`Idempotency-Key`) writes."
            },
        }
    }
}]
pub trait AniTrackApi {
    type Context;

    /// Issue a token
    ///
    /// Exchange an AniTrack email and password for a bearer token. Returns the
    /// plain-text token once — store it securely. No bearer token is needed.
    ///
    /// Subject to the strict auth rate limit: 5 attempts per minute per client
    /// address (an IPv6 client by its /64) and 5 per minute per email, both
    /// checked before any password hashing; failed and successful attempts
    /// both count. The address is counted first: an attempt refused for its
    /// address does not count against the email. A new token also counts
    /// against the account's 20 token creations per hour (policy
    /// `token-creation`, shared with the settings page), and an account holds
    /// at most 100 active tokens.
    ///
    /// Responses: 201 with the token, sent with `Cache-Control: no-store`
    /// (as every answer of this operation); 422 `The given data was
    /// invalid.` with per-field `errors` for a missing, mistyped or too long
    /// field or one holding a control character, with `errors.email = ["The
    /// provided credentials are incorrect."]` for a wrong email or password
    /// (the response time does not reveal whether the email exists), and
    /// with `errors.device_name` when the account already holds 100 active
    /// tokens; 403 when the account's API access is not enabled; 429 `Too
    /// Many Attempts.` with `Retry-After` when rate-limited; 503 with
    /// `Retry-After` when every password-hashing slot stayed busy for about
    /// a second.
    #[endpoint { method = POST, path = "/api/v1/auth/token", tags = ["auth"] }]
    async fn token_issue(
        rqctx: RequestContext<Self::Context>,
        body: JsonBody<TokenIssueRequest>,
    ) -> Result<Reply<HttpResponseCreated<NewToken>>, ApiError>;

    /// List tokens
    ///
    /// List your active API tokens (the same data shown on the settings page),
    /// newest first. Never includes the token itself or its hash.
    #[endpoint { method = GET, path = "/api/v1/auth/tokens", tags = ["auth"] }]
    async fn token_list(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<Reply<HttpResponseOk<TokenList>>, ApiError>;

    /// Revoke the current token
    ///
    /// Revoke the token used on this request; 204. Useful for client "sign
    /// out" flows. The token is rejected at once on every server instance.
    #[endpoint { method = DELETE, path = "/api/v1/auth/token", tags = ["auth"] }]
    async fn token_revoke_current(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<Reply<HttpResponseDeleted>, ApiError>;

    /// Revoke a specific token
    ///
    /// Revoke another token belonging to your account; 204. A token id that
    /// does not exist, is already revoked or belongs to another account is a
    /// 404 (never 403: its existence is not revealed).
    #[endpoint { method = DELETE, path = "/api/v1/auth/tokens/{id}", tags = ["auth"] }]
    async fn token_revoke(
        rqctx: RequestContext<Self::Context>,
        path: Path<TokenPath>,
    ) -> Result<Reply<HttpResponseDeleted>, ApiError>;

    /// Fetch the authenticated user
    ///
    /// Returns the profile of the user who owns the bearer token. Never a
    /// password hash or token.
    #[endpoint { method = GET, path = "/api/v1/user", tags = ["user"] }]
    async fn user_view(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<Reply<HttpResponseOk<User>>, ApiError>;

    /// Search the catalog
    ///
    /// Anime matching every given filter, best match first, at most `limit`
    /// (default 20, at most 100). `q` matches a case-insensitive substring of
    /// the romaji, English or native title or a synonym; `mal_id` and
    /// `anilist_id` map ids from other sites to AniTrack's. Nothing matching
    /// is an empty `data`; a bad filter (not an integer, out of range, `q`
    /// empty or over 200 characters) is 422 naming the parameter.
    /// (Added to v1 after its first publication.)
    #[endpoint { method = GET, path = "/api/v1/anime", tags = ["anime"] }]
    async fn anime_list(
        rqctx: RequestContext<Self::Context>,
        query: QueryParams<AnimeSearchParams>,
    ) -> Result<Reply<HttpResponseOk<AnimeList>>, ApiError>;

    /// Get anime by AniList ID
    ///
    /// Primary lookup path when you only have an AniList ID (for example,
    /// from an anilist.co page). Returns 404 if AniTrack has not yet synced
    /// that anime, and for an id that is not a positive integer.
    #[endpoint { method = GET, path = "/api/v1/anime/{slug}/{anilistId}", tags = ["anime"] }]
    async fn anime_view_by_anilist_id(
        rqctx: RequestContext<Self::Context>,
        path: Path<AnimeAnilistPath>,
    ) -> Result<Reply<HttpResponseOk<Anime>>, ApiError>;

    /// Get anime by slug
    ///
    /// Full anime detail with genres, studios and external IDs. A slug the
    /// anime had before a title change still resolves to it (the body
    /// carries the current `slug`).
    #[endpoint { method = GET, path = "/api/v1/anime/{slug}", tags = ["anime"] }]
    async fn anime_view(
        rqctx: RequestContext<Self::Context>,
        path: Path<AnimeSlugPath>,
    ) -> Result<Reply<HttpResponseOk<Anime>>, ApiError>;

    /// Get your list
    ///
    /// Returns all list entries belonging to the token owner,
    /// most-recently-updated first (ties by id, descending), each with a short
    /// summary of its anime. `status` filters by one of `watching`,
    /// `completed`, `on_hold`, `dropped`, `plan_to_watch`; any other value is
    /// 422. Deleted entries never appear.
    ///
    /// The body is sent while it is read from the database (chunked transfer
    /// encoding, no `Content-Length`), so large lists start arriving early.
    /// Errors found up to the first entry are ordinary error responses. If
    /// the server fails after that, it cuts the connection before the end
    /// of the body (no final chunk, and the JSON document is incomplete)
    /// rather than ending the body early: treat a broken transfer, or a body
    /// that does not parse, like a 503 and retry. A client that takes no
    /// data for 30 seconds has its transfer cut the same way; the server
    /// buffers about 1 MiB for a client that reads slowly, never the whole
    /// list. An account is sent at most 4 lists at once per server (a fifth
    /// is a 503 with `Retry-After`).
    ///
    /// Pages: with `limit` or `cursor` the answer is one page of the same
    /// order, `{"data": [...], "next_cursor": ...}`, `next_cursor` null on
    /// the last page (an entry updated while a client pages may move to an
    /// earlier page: to keep a copy in step, use `GET /list/changes`).
    /// A malformed or foreign `cursor`, or a `limit` outside 1–1000, is 422.
    ///
    /// Every answer carries an `ETag`; with `If-None-Match` holding it, the
    /// answer is `304 Not Modified` (no body) while the list is unchanged.
    #[endpoint { method = GET, path = "/api/v1/list", tags = ["list"] }]
    async fn list_entries(
        rqctx: RequestContext<Self::Context>,
        query: QueryParams<ListParams>,
        headers: RequestHeaders<ReadConditions>,
    ) -> Result<Reply<WithHeaders<StreamedOk<ListEntries>, ListHeaders>>, ApiError>;

    /// Follow the changes to your list
    ///
    /// The changes to the token owner's list after `cursor`, in the order
    /// they became visible, each entry at most once with its latest state:
    /// `upsert` with the entry, or `delete` (a tombstone) for a deleted one.
    /// Keep a copy in step by applying `data` in order and storing
    /// `next_cursor`; ask again at once while `has_more`, and later to poll.
    ///
    /// The cursor is a position in the account's changes, never a time: a
    /// change is never skipped, however writes interleave or clocks drift.
    /// Without `cursor` the feed starts from the beginning: every entry on
    /// the list as an `upsert`, interleaved with the deletions still kept,
    /// and its last page hands over the cursor to poll from, so the copy and
    /// the cursor agree without a race.
    ///
    /// Deleted entries are kept for 90 days by default (the operator's
    /// `--tombstone-retention-days`). A cursor older than the deletions
    /// still kept is `410 Gone`: drop the copy and start again without a
    /// cursor. A malformed cursor, one issued to another account, or a
    /// `limit` outside 1–1000 is 422. Every answer carries an `ETag`; with
    /// `If-None-Match` holding it, the answer is `304 Not Modified` while
    /// nothing changed. (Added to v1 after its first publication.)
    #[endpoint { method = GET, path = "/api/v1/list/{entryId}", tags = ["list"] }]
    async fn list_changes(
        rqctx: RequestContext<Self::Context>,
        path: Path<ChangesPath>,
        query: QueryParams<ListChangesParams>,
        headers: RequestHeaders<ReadConditions>,
    ) -> Result<Reply<WithHeaders<HttpResponseOk<ListChanges>, ListHeaders>>, ApiError>;

    /// Check if an anime is on your list
    ///
    /// Returns the list entry for the given anime (AniTrack's anime id), or
    /// 404 if the user has not added it (or deleted it). With
    /// `If-None-Match` holding the entry's `ETag`, `304 Not Modified` while
    /// it is unchanged.
    #[endpoint { method = GET, path = "/api/v1/list/{entryId}/{animeId}", tags = ["list"] }]
    async fn list_entry_for_anime(
        rqctx: RequestContext<Self::Context>,
        path: Path<EntryForAnimePath>,
        headers: RequestHeaders<ReadConditions>,
    ) -> Result<Reply<WithHeaders<HttpResponseOk<ListEntry>, EntryHeaders>>, ApiError>;

    /// Add an anime to your list
    ///
    /// 201 with the new entry. Scores are stored on a 0–100 scale. Progress
    /// is auto-completed when it reaches the anime's episode count. Adding an
    /// anime that is already on the list is 422 (`The anime id has already
    /// been taken.`); after a `DELETE` the same anime can be added again.
    ///
    /// With an `Idempotency-Key`, a retry gets the first answer again
    /// (`Idempotent-Replayed: true`) instead of a second entry or a 422.
    #[endpoint { method = POST, path = "/api/v1/list", tags = ["list"] }]
    async fn list_entry_create(
        rqctx: RequestContext<Self::Context>,
        headers: RequestHeaders<CreateConditions>,
        body: JsonBody<NewListEntry>,
    ) -> Result<Reply<WithHeaders<HttpResponseCreated<ListEntry>, EntryHeaders>>, ApiError>;

    /// Update a list entry
    ///
    /// Partial update — send only the fields you want to change; 200 with
    /// the entry. Another account's entry, or a deleted one, is 404.
    ///
    /// With `If-Match` holding the `ETag` the client last saw, the update
    /// is refused with `412 Precondition Failed` if the entry changed since
    /// (so an edit made elsewhere is never overwritten unseen). With an
    /// `Idempotency-Key`, a retry gets the first answer again.
    #[endpoint { method = PATCH, path = "/api/v1/list/{entryId}", tags = ["list"] }]
    async fn list_entry_update(
        rqctx: RequestContext<Self::Context>,
        path: Path<EntryPath>,
        headers: RequestHeaders<WriteConditions>,
        body: JsonBody<ListEntryPatch>,
    ) -> Result<Reply<WithHeaders<HttpResponseOk<ListEntry>, EntryHeaders>>, ApiError>;

    /// Remove a list entry
    ///
    /// Soft-deletes the entry; 204. It disappears from every read and write
    /// (404), and the same anime can be added again. Deleting twice is 404.
    /// The deletion appears in `GET /list/changes` as a `delete`.
    ///
    /// With `If-Match`, the deletion is refused with `412 Precondition
    /// Failed` if the entry changed since the client saw it. With an
    /// `Idempotency-Key`, a retry gets the first answer (204) again instead
    /// of a 404.
    #[endpoint { method = DELETE, path = "/api/v1/list/{entryId}", tags = ["list"] }]
    async fn list_entry_delete(
        rqctx: RequestContext<Self::Context>,
        path: Path<EntryPath>,
        headers: RequestHeaders<WriteConditions>,
    ) -> Result<Reply<WithHeaders<HttpResponseDeleted, ReplayHeaders>>, ApiError>;

    /// Liveness for load balancers: 200 while the process serves HTTP.
    /// Not part of the published v1 document.
    #[endpoint { method = GET, path = "/health", unpublished = true }]
    async fn health(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<Reply<HttpResponseOk<Health>>, ApiError>;

    /// Readiness for load balancers: 200 when the database answers and its
    /// migrations are current, else 503 with `Retry-After`. Not part of the
    /// published v1 document.
    #[endpoint { method = GET, path = "/ready", unpublished = true }]
    async fn ready(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<Reply<HttpResponseOk<Health>>, ApiError>;

    // The API reference, for people and tools: the committed document and a
    // page that renders it. Neither is an operation of the published
    // document (see server/src/web/reference.rs for why); the document's
    // description names both URLs.

    /// The published OpenAPI document: byte for byte the committed
    /// `spec/openapi.json`, with a strong `ETag` (`If-None-Match` → 304).
    /// No token needed. Not part of the published v1 document.
    #[endpoint { method = GET, path = "/api/v1/openapi.json", unpublished = true }]
    async fn openapi_document(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<Reply<Response<Body>>, ApiError>;

    /// The API reference: the vendored renderer (Redoc) showing
    /// `/api/v1/openapi.json`. Also at `/docs/`.
    #[endpoint { method = GET, path = "/docs", unpublished = true }]
    async fn web_docs(rqctx: RequestContext<Self::Context>) -> Result<Response<Body>, ApiError>;

    // The settings page: server-rendered HTML for people, not part of the
    // published v1 document (see server/src/web).

    /// Sign-in form.
    #[endpoint { method = GET, path = "/login", unpublished = true }]
    async fn web_login_form(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<Response<Body>, ApiError>;

    /// Sign in (urlencoded form: email, password, csrf_token).
    #[endpoint { method = POST, path = "/login", unpublished = true }]
    async fn web_login(
        rqctx: RequestContext<Self::Context>,
        body: UntypedBody,
    ) -> Result<Response<Body>, ApiError>;

    /// Sign-out confirmation.
    #[endpoint { method = GET, path = "/logout", unpublished = true }]
    async fn web_logout_form(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<Response<Body>, ApiError>;

    /// Sign out (urlencoded form: csrf_token).
    #[endpoint { method = POST, path = "/logout", unpublished = true }]
    async fn web_logout(
        rqctx: RequestContext<Self::Context>,
        body: UntypedBody,
    ) -> Result<Response<Body>, ApiError>;

    /// The API tokens page.
    #[endpoint { method = GET, path = "/settings/tokens", unpublished = true }]
    async fn web_tokens(rqctx: RequestContext<Self::Context>) -> Result<Response<Body>, ApiError>;

    /// Create a token (urlencoded form: name, csrf_token).
    #[endpoint { method = POST, path = "/settings/tokens", unpublished = true }]
    async fn web_token_create(
        rqctx: RequestContext<Self::Context>,
        body: UntypedBody,
    ) -> Result<Response<Body>, ApiError>;

    /// Revocation confirmation.
    #[endpoint { method = GET, path = "/settings/tokens/{id}/revoke", unpublished = true }]
    async fn web_token_revoke_form(
        rqctx: RequestContext<Self::Context>,
        path: Path<SettingsTokenPath>,
    ) -> Result<Response<Body>, ApiError>;

    /// Revoke a token (urlencoded form: csrf_token).
    #[endpoint { method = POST, path = "/settings/tokens/{id}/revoke", unpublished = true }]
    async fn web_token_revoke(
        rqctx: RequestContext<Self::Context>,
        path: Path<SettingsTokenPath>,
        body: UntypedBody,
    ) -> Result<Response<Body>, ApiError>;

    /// The settings page's stylesheet and script, and the API reference's
    /// renderer with its licences.
    #[endpoint { method = GET, path = "/assets/{file}", unpublished = true }]
    async fn web_asset(
        rqctx: RequestContext<Self::Context>,
        path: Path<AssetPath>,
    ) -> Result<Response<Body>, ApiError>;
}
