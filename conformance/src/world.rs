//! A list's world: a server on the demo catalog, one account with API
//! access and its token, the anime the list tests use, and requests on its
//! list. Any area can start one (the list tests, the properties, the fault
//! injections that need a long list).
//!
//! Requests go through the generated client. The few raw ones below send
//! what the client cannot, or read what its types cannot show; each says
//! which.

use anitrack_client::types::{self, ListStatus};
use serde_json::Value;

use crate::harness::{Catalog, TestEnv, demo_catalog};

/// AniList ids of demo anime with the episode counts the list rules need:
/// Demon Slayer (26 episodes), One Piece (airing, episodes unknown), FMA:B.
pub const DEMON_SLAYER: i64 = 101922;
pub const ONE_PIECE: i64 = 21;
pub const FMAB: i64 = 5114;

/// A new entry for `anime_id` with `status`; the builder adds the rest.
pub fn new_entry(anime_id: i64, status: ListStatus) -> types::builder::NewListEntry {
    types::NewListEntry::builder()
        .anime_id(anime_id)
        .status(status)
}

/// An empty PATCH body; its setters add the fields to change.
pub fn patch() -> types::ListEntryPatch {
    types::ListEntryPatch::default()
}

/// Notes for a new entry or a PATCH (at most 2,000 characters: the
/// client's type refuses more).
pub fn notes(text: &str) -> types::NewListEntryNotes {
    text.parse()
        .unwrap_or_else(|e| panic!("notes {text:?}: {e}"))
}

/// Tags for a body (each a line of 1 to 50 characters with a visible one:
/// the client's `Tag` refuses others).
pub fn tags(items: &[&str]) -> Vec<types::Tag> {
    items
        .iter()
        .map(|item| item.parse().unwrap_or_else(|e| panic!("tag {item:?}: {e}")))
        .collect()
}

/// A `YYYY-MM-DD` date.
pub fn date(text: &str) -> chrono::NaiveDate {
    text.parse()
        .unwrap_or_else(|e| panic!("date {text:?}: {e}"))
}

pub struct World {
    pub env: TestEnv,
    pub token: String,
}

impl World {
    pub async fn new() -> World {
        Self::with_env(&[]).await
    }

    /// A world whose server rate limits are set far above what a property
    /// test sends (the limits have their own tests).
    pub async fn unthrottled() -> World {
        Self::with_env(&[("ANITRACK_RATE_LIMIT_PER_MINUTE", "1000000")]).await
    }

    pub async fn with_env(server_env: &[(&str, &str)]) -> World {
        let env = TestEnv::start_configured(Catalog::Demo, server_env).await;
        let token = env.user_with_token("lister@example.test").await;
        World { env, token }
    }

    /// The generated client, as the world's account.
    pub fn client(&self) -> anitrack_client::Client {
        self.env.client(&self.token)
    }

    /// AniTrack's id of an anime, by AniList id.
    pub async fn anime(&self, anilist_id: i64) -> i64 {
        let list = self
            .client()
            .anime_list()
            .anilist_id(anilist_id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("search for AniList id {anilist_id}: {e}"));
        list.into_inner()
            .data
            .first()
            .unwrap_or_else(|| panic!("AniList id {anilist_id} is not in the demo catalog"))
            .id
    }

    /// Adds an entry; the client answers `Ok` only for the contract's 201.
    pub async fn add(&self, entry: types::builder::NewListEntry) -> types::ListEntry {
        self.client()
            .list_entry_create()
            .body(entry)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /list: {e:?}"))
            .into_inner()
    }

    /// Puts every demo anime on the list with the longest notes allowed
    /// (2,000 characters): a `GET /list` body of about 420 KB, longer than
    /// the server's streaming chunk (256 KiB). Returns the entry count.
    pub async fn fill_the_list(&self) -> usize {
        let file = demo_catalog();
        let bytes =
            std::fs::read(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let catalog: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
        let media = catalog["data"]["Page"]["media"]
            .as_array()
            .unwrap_or_else(|| panic!("{} has no data.Page.media", file.display()));
        for (n, anime) in media.iter().enumerate() {
            let anilist_id = anime["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("media {n} has no AniList id"));
            let id = self.anime(anilist_id).await;
            let text = format!("{n:04} {}", "long notes ".repeat(200))[..2000].to_string();
            self.add(new_entry(id, ListStatus::PlanToWatch).notes(notes(&text)))
                .await;
        }
        media.len()
    }

    // Raw HTTP. The generated client sends only what its types hold and
    // hands back only what they read, so these send and read the bytes.

    /// `GET /list`, its head and body as sent: a streamed response's headers
    /// (`Transfer-Encoding`, no `Content-Length`) and a body that can break
    /// off mid-transfer, which the client would only report as an error.
    pub async fn get_list(&self) -> reqwest::Response {
        self.env
            .http
            .get(self.env.url("/api/v1/list"))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("the head of GET /list arrives: {e}"))
    }

    /// `POST /list` with a body the client's `NewListEntry` cannot hold: a
    /// wrong JSON type, a value outside an enumeration, a date that does not
    /// exist, a required field left out, or notes over 2,000 characters
    /// (which the client refuses before sending). Also for reading a new
    /// entry as sent: the client's `ListEntry` reads a `null` field and a
    /// missing one alike. Status and body text.
    pub async fn post_list_text(&self, body: &Value) -> (u16, String) {
        self.send_text(reqwest::Method::POST, "/api/v1/list", Some(body))
            .await
    }

    /// [`World::post_list_text`], the body parsed.
    pub async fn post_list_json(&self, body: &Value) -> (u16, Value) {
        let (status, text) = self.post_list_text(body).await;
        (status, parse(status, &text))
    }

    /// `PATCH /list/{entry_id}` with a body the client's `ListEntryPatch`
    /// cannot hold: a wrong JSON type, an explicit `null` for a field that
    /// cannot be cleared, or fields PATCH does not own. (A `null` that
    /// clears is `Patch::Clear`; the `client` area sends it that way.)
    pub async fn patch_json(&self, entry_id: i64, body: &Value) -> (u16, Value) {
        let path = format!("/api/v1/list/{entry_id}");
        let (status, text) = self
            .send_text(reqwest::Method::PATCH, &path, Some(body))
            .await;
        (status, parse(status, &text))
    }

    /// `GET /list?status=<status>` with a status outside `ListStatus`, the
    /// only statuses the client can send.
    pub async fn list_by_status_text(&self, status: &str) -> (u16, Value) {
        let path = format!("/api/v1/list?status={status}");
        let (code, text) = self.send_text(reqwest::Method::GET, &path, None).await;
        (code, parse(code, &text))
    }

    /// `GET /list/anime/{anime_id}`, the entry as sent, to compare with
    /// another response's JSON key for key: the client's `ListEntry` reads a
    /// `null` field and a missing one alike.
    pub async fn entry_for_anime_as_sent(&self, anime_id: i64) -> (u16, Value) {
        let path = format!("/api/v1/list/anime/{anime_id}");
        let (status, text) = self.send_text(reqwest::Method::GET, &path, None).await;
        (status, parse(status, &text))
    }

    /// `method path` with `{}` as the body, for paths and methods the client
    /// cannot form: ids that are not numbers, routes and methods the
    /// contract does not have. The body makes a PATCH fail on its path, not
    /// on a missing body.
    pub async fn request_outside_contract(&self, method: &str, path: &str) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .unwrap_or_else(|e| panic!("method {method:?}: {e}"));
        let (status, text) = self
            .send_text(method, path, Some(&Value::Object(Default::default())))
            .await;
        (status, parse(status, &text))
    }

    async fn send_text(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, String) {
        let mut request = self
            .env
            .http
            .request(method.clone(), self.env.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: reading the body: {e}"));
        (status, text)
    }
}

/// A raw response's JSON body; an empty one (a 204) is `null`.
fn parse(status: u16, text: &str) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("status {status}: not JSON ({e}): {text:?}"))
}
