//! Opt-in retries of `429 Too Many Requests` and `503 Service Unavailable`,
//! honouring `Retry-After`, inside the generated client: progenitor calls
//! [`ClientHooks::exec`] for every request, and this crate implements it
//! (the generator is told not to emit the empty default), so every
//! operation's `send()` retries without a wrapper around each call.
//!
//! Which requests may be sent again:
//! - after a 429, any: the rate limiter refuses a request before it is
//!   looked at (`docs/rate-limits.md`), so nothing was done;
//! - after a 503, only a read (`GET`, `HEAD`, `OPTIONS`) or a write that
//!   carries an `Idempotency-Key`. The contract does not say a 503 wrote
//!   nothing: one comes when the database is lost, and a write may have
//!   committed just before (`docs/reliability.md`). The server keeps the
//!   answer of a committed keyed write and replays it, and keeps nothing
//!   of a failed one (`docs/sync.md`), so a keyed write is safe to send
//!   again; an unkeyed `POST`, `PATCH` or `DELETE` is left to the caller.

use std::time::Duration;

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, Request, Response, StatusCode};

use crate::Client;

/// What the client does beside sending a request: the state progenitor
/// keeps in [`Client`] for its hooks (`Client::inner()`). The default
/// sends every request once.
#[derive(Clone, Debug, Default)]
pub struct Hooks {
    retry: Option<RetryPolicy>,
}

impl Hooks {
    /// Requests are sent again after a 429 or 503 as `policy` says.
    pub fn retrying(policy: RetryPolicy) -> Hooks {
        Hooks {
            retry: Some(policy),
        }
    }

    /// The retry policy, if retries are on.
    pub fn retry_policy(&self) -> Option<&RetryPolicy> {
        self.retry.as_ref()
    }
}

/// How often and how long to wait out a 429 or a 503 before handing it to
/// the caller. Each wait is the answer's `Retry-After` (seconds); without
/// one, or with one that is not a number of seconds, an exponential
/// backoff. A wait that would take the total past [`max_total_wait`]
/// is not waited: the answer is returned at once.
///
/// [`max_total_wait`]: RetryPolicy::max_total_wait
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    max_total_wait: Duration,
    first_backoff: Duration,
    max_backoff: Duration,
}

/// 3 attempts, at most 60 s of waiting in all (a token's rate-limit window
/// is a minute, so its `Retry-After` fits), a backoff of 1 s doubling up
/// to 8 s.
impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            max_total_wait: Duration::from_secs(60),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// Attempts in all, the first one included (at least 1: 1 never
    /// retries).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The longest total time spent waiting between attempts.
    pub fn max_total_wait(mut self, wait: Duration) -> Self {
        self.max_total_wait = wait;
        self
    }

    /// The wait when an answer has no usable `Retry-After`: `first`, then
    /// doubling, never more than `max`.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// The backoff before attempt `attempt + 1` (`attempt` ≥ 1).
    fn backoff_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(16);
        self.first_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }

    /// Sends `request`, and again while the answer is one to retry and the
    /// bounds allow; the last answer is returned whatever it is.
    async fn execute(
        &self,
        http: &reqwest::Client,
        mut request: Request,
    ) -> reqwest::Result<Response> {
        let repeatable_after_503 = repeatable_after_503(&request);
        let mut waited = Duration::ZERO;
        let mut attempt = 1;
        loop {
            // A body that is a stream cannot be copied: sent once, as is.
            let next = (attempt < self.max_attempts)
                .then(|| request.try_clone())
                .flatten();
            let response = http.execute(request).await?;
            let Some(next) = next else {
                return Ok(response);
            };
            let status = response.status();
            let retry = status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::SERVICE_UNAVAILABLE && repeatable_after_503);
            if !retry {
                return Ok(response);
            }
            let wait =
                retry_after(response.headers()).unwrap_or_else(|| self.backoff_after(attempt));
            if waited.saturating_add(wait) > self.max_total_wait {
                return Ok(response);
            }
            // Read the short error body so the connection can be reused.
            let _ = response.bytes().await;
            tokio::time::sleep(wait).await;
            waited += wait;
            attempt += 1;
            request = next;
        }
    }
}

/// A read, or a write the server deduplicates by its `Idempotency-Key`.
fn repeatable_after_503(request: &Request) -> bool {
    matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || request.headers().contains_key("idempotency-key")
}

/// The answer's `Retry-After`, when it is a number of seconds (the API
/// never sends the HTTP-date form).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

impl ClientHooks<Hooks> for Client {
    async fn exec(&self, request: Request, _info: &OperationInfo) -> reqwest::Result<Response> {
        match self.inner().retry_policy() {
            Some(policy) => policy.execute(self.client(), request).await,
            None => self.client().execute(request).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_nothing_else() {
        assert_eq!(retry_after(&headers("2")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&headers(" 41 ")), Some(Duration::from_secs(41)));
        for garbage in ["", "soon", "-1", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT"] {
            assert_eq!(retry_after(&headers(garbage)), None, "{garbage:?}");
        }
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn the_backoff_doubles_up_to_its_bound() {
        let policy =
            RetryPolicy::default().backoff(Duration::from_millis(250), Duration::from_secs(1));
        let waits: Vec<Duration> = (1..=5).map(|n| policy.backoff_after(n)).collect();
        assert_eq!(
            waits,
            [250, 500, 1000, 1000, 1000].map(Duration::from_millis)
        );
        // No overflow however many attempts are allowed.
        assert_eq!(policy.backoff_after(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn only_reads_and_keyed_writes_are_sent_again_after_a_503() {
        let http = reqwest::Client::new();
        let url = "http://127.0.0.1:9/api/v1/list";
        let request = |method: Method, key: bool| {
            let builder = http.request(method, url);
            let builder = if key {
                builder.header("Idempotency-Key", "k1")
            } else {
                builder
            };
            builder.build().unwrap()
        };
        assert!(repeatable_after_503(&request(Method::GET, false)));
        assert!(repeatable_after_503(&request(Method::POST, true)));
        assert!(repeatable_after_503(&request(Method::DELETE, true)));
        assert!(!repeatable_after_503(&request(Method::POST, false)));
        assert!(!repeatable_after_503(&request(Method::PATCH, false)));
        assert!(!repeatable_after_503(&request(Method::DELETE, false)));
    }

    #[test]
    fn at_least_one_attempt() {
        assert_eq!(RetryPolicy::default().max_attempts(0).max_attempts, 1);
    }
}
