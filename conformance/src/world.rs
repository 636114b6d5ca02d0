//! A list's world: a server on the demo catalog, one account with API
//! access and its token, the anime the list tests use, and requests on its
//! list. Any area can start one (the list tests, the properties, the fault
//! injections that need a long list).

use serde_json::{Value, json};

use crate::harness::{Catalog, TestEnv, demo_catalog};

/// AniList ids of demo anime with the episode counts the list rules need:
/// Demon Slayer (26 episodes), One Piece (airing, episodes unknown), FMA:B.
pub const DEMON_SLAYER: i64 = 101922;
pub const ONE_PIECE: i64 = 21;
pub const FMAB: i64 = 5114;

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

    /// AniTrack's id of an anime, by AniList id.
    pub async fn anime(&self, anilist_id: i64) -> i64 {
        let list = self
            .env
            .client(&self.token)
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

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(&self.token, method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .unwrap_or_else(|e| panic!("method {method:?}: {e}"));
        let mut request = self
            .env
            .http
            .request(method, self.env.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("send: {e}"));
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("body: {e}"));
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body: {e}: {text:?}"))
        };
        (status, json)
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
            let notes = format!("{n:04} {}", "long notes ".repeat(200))[..2000].to_string();
            self.add(json!({"anime_id": id, "status": "plan_to_watch", "notes": notes}))
                .await;
        }
        media.len()
    }

    /// `GET /list` over raw HTTP, for its headers and body as sent.
    pub async fn get_list(&self) -> reqwest::Response {
        self.env
            .http
            .get(self.env.url("/api/v1/list"))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("the head of GET /list arrives: {e}"))
    }

    pub async fn add(&self, body: Value) -> Value {
        let (status, entry) = self.call("POST", "/api/v1/list", Some(body.clone())).await;
        assert_eq!(status, 201, "{body} -> {entry}");
        entry
    }
}
