//! `catalog sync`: fetch Media from AniList's GraphQL API and upsert them
//! like `catalog import`.
//!
//! AniList allows about 30 requests a minute today and says so in its
//! `X-RateLimit-Limit` / `X-RateLimit-Remaining` / `X-RateLimit-Reset`
//! headers; a 429 carries `Retry-After`. The client waits when the budget
//! is spent or AniList asks it to, and retries server errors and network
//! failures with exponential backoff.

use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::import::{Importer, Summary};
use super::media::{Media, Record};

/// AniList's public GraphQL endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://graphql.anilist.co";
/// AniList's page size limit.
const PER_PAGE: usize = 50;

const MEDIA_FIELDS: &str = "id idMal title { romaji english native } format status episodes duration \
    season seasonYear startDate { year month day } endDate { year month day } description \
    coverImage { extraLarge large medium } genres synonyms \
    studios { edges { isMain node { id name isAnimationStudio } } } siteUrl updatedAt";

/// Which Media to fetch.
#[derive(Clone, Debug)]
pub enum Selection {
    Ids(Vec<i64>),
    UpdatedSince(DateTime<Utc>),
}

/// How hard to try.
#[derive(Clone, Debug)]
pub struct Retry {
    /// Attempts per request for server errors and network failures.
    pub attempts: u32,
    /// First backoff; doubles with each retry.
    pub base_delay: Duration,
    /// Upper bound of any one wait (backoff, `Retry-After`, rate-limit reset).
    pub max_wait: Duration,
    /// 429 answers tolerated per request before giving up.
    pub max_throttled: u32,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            base_delay: Duration::from_secs(1),
            max_wait: Duration::from_secs(120),
            max_throttled: 10,
        }
    }
}

#[derive(Deserialize)]
struct Response {
    data: Option<Data>,
    #[serde(default)]
    errors: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Data {
    page: Page,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    page_info: PageInfo,
    media: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
}

pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    retry: Retry,
}

impl Client {
    pub fn new(endpoint: &str, retry: Retry) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("anitrack-server/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        Ok(Client {
            http,
            endpoint: endpoint.to_string(),
            retry,
        })
    }

    /// One GraphQL request, with waiting and retries.
    async fn post(&self, body: &Value) -> anyhow::Result<Response> {
        let mut failures = 0;
        let mut throttled = 0;
        loop {
            let sent = self.http.post(&self.endpoint).json(body).send().await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    failures += 1;
                    if failures >= self.retry.attempts {
                        return Err(error)
                            .context(format!("AniList unreachable after {failures} attempts"));
                    }
                    let wait = self.backoff(failures);
                    eprintln!("AniList request failed ({error}); retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                throttled += 1;
                if throttled > self.retry.max_throttled {
                    bail!("AniList kept answering 429 Too Many Requests");
                }
                let wait = header_secs(&headers, "retry-after")
                    .map(Duration::from_secs)
                    .unwrap_or(Duration::from_secs(60));
                let wait = wait.min(self.retry.max_wait);
                eprintln!("AniList rate limit reached; waiting {wait:?} as Retry-After asks");
                tokio::time::sleep(wait).await;
                continue;
            }
            if status.is_server_error() {
                failures += 1;
                if failures >= self.retry.attempts {
                    bail!("AniList answered {status} {failures} times in a row");
                }
                let wait = self.backoff(failures);
                eprintln!("AniList answered {status}; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                continue;
            }
            let text = response.text().await.context("reading AniList's answer")?;
            if !status.is_success() {
                bail!(
                    "AniList answered {status}: {}",
                    text.chars().take(500).collect::<String>()
                );
            }
            self.respect_budget(&headers).await;
            return serde_json::from_str(&text)
                .context("AniList's answer is not the expected JSON");
        }
    }

    fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1));
        self.retry
            .base_delay
            .saturating_mul(factor)
            .min(self.retry.max_wait)
    }

    /// When the minute's budget is spent, wait for its reset.
    async fn respect_budget(&self, headers: &reqwest::header::HeaderMap) {
        if header_secs(headers, "x-ratelimit-remaining") != Some(0) {
            return;
        }
        let now = Utc::now().timestamp().max(0) as u64;
        let wait = match header_secs(headers, "x-ratelimit-reset") {
            Some(reset) if reset > now => Duration::from_secs(reset - now),
            _ => Duration::from_secs(60),
        }
        .min(self.retry.max_wait);
        eprintln!("AniList request budget spent; waiting {wait:?} for it to reset");
        tokio::time::sleep(wait).await;
    }

    async fn page(&self, page: usize, filter: &str, variables: Value) -> anyhow::Result<Page> {
        let query = format!(
            "query ($page: Int, $perPage: Int, $ids: [Int]) {{ Page(page: $page, perPage: $perPage) \
             {{ pageInfo {{ currentPage hasNextPage }} media({filter}) {{ {MEDIA_FIELDS} }} }} }}"
        );
        let mut variables = variables;
        variables["page"] = json!(page);
        variables["perPage"] = json!(PER_PAGE);
        let response = self
            .post(&json!({"query": query, "variables": variables}))
            .await?;
        if !response.errors.is_empty() {
            bail!("AniList reported errors: {}", Value::Array(response.errors));
        }
        response
            .data
            .map(|d| d.page)
            .context("AniList's answer has no data.Page")
    }
}

fn header_secs(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Fetches the selection and upserts it; returns what changed.
pub async fn sync(
    importer: &mut Importer,
    client: &Client,
    selection: Selection,
) -> anyhow::Result<Summary> {
    match selection {
        Selection::Ids(ids) => {
            for chunk in ids.chunks(PER_PAGE) {
                let page = client
                    .page(
                        1,
                        "id_in: $ids, type: ANIME, sort: ID",
                        json!({"ids": chunk}),
                    )
                    .await?;
                let found = page.media.len();
                store(importer, page.media, None).await?;
                if found < chunk.len() {
                    eprintln!(
                        "AniList knows {found} of {} requested ids in this batch",
                        chunk.len()
                    );
                }
            }
        }
        Selection::UpdatedSince(since) => {
            let since = since.timestamp();
            for number in 1.. {
                let page = client
                    .page(number, "type: ANIME, sort: UPDATED_AT_DESC", json!({}))
                    .await?;
                let more = page.has_more();
                let reached_older = store(importer, page.media, Some(since)).await?;
                eprintln!("page {number}: {}", importer.summary);
                if reached_older || !more {
                    break;
                }
            }
        }
    }
    importer.flush().await?;
    Ok(importer.summary)
}

impl Page {
    fn has_more(&self) -> bool {
        self.page_info.has_next_page
    }
}

/// Upserts one page; with `since`, stops at (and reports) the first Media
/// last updated before it, since pages come newest first.
async fn store(
    importer: &mut Importer,
    media: Vec<Value>,
    since: Option<i64>,
) -> anyhow::Result<bool> {
    for value in media {
        if let Some(since) = since {
            let updated = value
                .get("updatedAt")
                .and_then(Value::as_i64)
                .unwrap_or(i64::MAX);
            if updated < since {
                return Ok(true);
            }
        }
        let id = value
            .get("id")
            .map(Value::to_string)
            .unwrap_or_else(|| "?".into());
        let parsed = serde_json::from_value::<Media>(value)
            .map_err(|e| e.to_string())
            .and_then(Record::try_from);
        match parsed {
            Ok(record) => importer.add(format!("AniList: media {id}"), record).await?,
            Err(reason) => importer.skip("AniList", &format!("media {id}"), &reason),
        }
    }
    Ok(false)
}
