//! HTTP to one instance, every request bounded in time, every answer kept
//! with what the check needs of it (status, `Retry-After`, JSON body, time
//! taken).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use reqwest::Method;
use serde_json::Value;

/// Longest any request may take: past it the request counts as a hang.
/// Above the server's pool acquire timeout (2 s) and connect timeout
/// (2 s), far below its request timeout (30 s).
pub const REQUEST_BOUND: Duration = Duration::from_secs(5);

/// What one request got.
#[derive(Debug, Clone)]
pub enum Answer {
    Status {
        status: u16,
        retry_after: Option<String>,
        /// `None` when the body is not JSON.
        json: Option<Value>,
        took: Duration,
    },
    /// No HTTP answer: a timeout (a hang), a refused or reset connection.
    Transport { error: String, took: Duration },
}

impl Answer {
    pub fn took(&self) -> Duration {
        match self {
            Answer::Status { took, .. } | Answer::Transport { took, .. } => *took,
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Answer::Status { status, .. } if (200..300).contains(status))
    }

    /// The refusal a client may retry: 503, `Retry-After`, a JSON body
    /// with a `message`.
    pub fn is_json_503(&self) -> bool {
        matches!(
            self,
            Answer::Status { status: 503, retry_after: Some(_), json: Some(body), .. }
                if body.get("message").is_some_and(Value::is_string)
        )
    }

    /// One line for a report: `503 (Retry-After: 2) {"message":...}`.
    pub fn describe(&self) -> String {
        match self {
            Answer::Status {
                status,
                retry_after,
                json,
                took,
            } => {
                let retry = retry_after
                    .as_ref()
                    .map(|r| format!(" (Retry-After: {r})"))
                    .unwrap_or_default();
                let body = json
                    .as_ref()
                    .map(|j| j.to_string().chars().take(200).collect::<String>())
                    .unwrap_or_else(|| "(no JSON body)".to_owned());
                format!("{status}{retry} {body} after {took:.1?}")
            }
            Answer::Transport { error, took } => format!("no answer: {error} after {took:.1?}"),
        }
    }

    /// The JSON body of a success, else an error naming the request.
    pub fn into_json(self, what: &str, expected: u16) -> Result<Value> {
        match self {
            Answer::Status {
                status,
                json: Some(json),
                ..
            } if status == expected => Ok(json),
            other => bail!("{what}: expected {expected}, got {}", other.describe()),
        }
    }
}

/// One instance's base URL and a client bounded by [`REQUEST_BOUND`].
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(base_url: &str) -> Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_BOUND)
            .connect_timeout(REQUEST_BOUND)
            .build()?;
        Ok(Api {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `method` on `path` (below the server's root, e.g.
    /// `/api/v1/user`), with a bearer token and a JSON body when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let started = Instant::now();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Answer::Transport {
                    error: format!("{:#}", anyhow::Error::new(error)),
                    took: started.elapsed(),
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match response.bytes().await {
            Ok(bytes) => Answer::Status {
                status,
                retry_after,
                json: serde_json::from_slice(&bytes).ok(),
                took: started.elapsed(),
            },
            Err(error) => Answer::Transport {
                error: format!(
                    "{status}, then the body failed: {:#}",
                    anyhow::Error::new(error)
                ),
                took: started.elapsed(),
            },
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(Method::GET, path, token, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, retry_after: Option<&str>, json: Option<Value>) -> Answer {
        Answer::Status {
            status,
            retry_after: retry_after.map(str::to_owned),
            json,
            took: Duration::from_millis(3),
        }
    }

    #[test]
    fn only_a_json_503_with_retry_after_is_a_clean_refusal() {
        let message = Some(serde_json::json!({"message": "Service Unavailable"}));
        assert!(status(503, Some("2"), message.clone()).is_json_503());
        assert!(!status(503, None, message.clone()).is_json_503());
        assert!(!status(503, Some("2"), None).is_json_503());
        assert!(!status(500, Some("2"), message).is_json_503());
        assert!(status(201, None, None).is_success());
        let hang = Answer::Transport {
            error: "timed out".into(),
            took: REQUEST_BOUND,
        };
        assert!(!hang.is_success() && !hang.is_json_503());
        assert!(hang.describe().contains("timed out"));
    }
}
