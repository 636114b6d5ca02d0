//! Rate-limit state of a request and the headers that describe it.
//!
//! Every throttled response carries Laravel's `X-RateLimit-Limit` /
//! `X-RateLimit-Remaining` and the IETF draft's structured
//! `RateLimit-Policy` / `RateLimit` (draft-ietf-httpapi-ratelimit-headers);
//! a 429 adds `Retry-After` (seconds) and `X-RateLimit-Reset` (Unix seconds).

use http::{HeaderName, HeaderValue};

pub use crate::auth::throttle::Limit;

/// The limits a request was counted against.
#[derive(Clone, Debug, Default)]
pub struct Limits(pub Vec<Limit>);

impl Limits {
    pub fn exceeded(&self) -> bool {
        self.0.iter().any(Limit::exceeded)
    }

    /// The policy closest to its limit: its numbers go into the headers.
    fn tightest(&self) -> Option<&Limit> {
        self.0
            .iter()
            .min_by_key(|l| (l.remaining(), std::cmp::Reverse(l.reset_in)))
    }

    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let Some(tightest) = self.tightest() else {
            return Vec::new();
        };
        let mut headers = vec![
            (
                HeaderName::from_static("x-ratelimit-limit"),
                HeaderValue::from(tightest.quota),
            ),
            (
                HeaderName::from_static("x-ratelimit-remaining"),
                HeaderValue::from(tightest.remaining()),
            ),
        ];
        let policies: Vec<String> = self
            .0
            .iter()
            .map(|l| format!("\"{}\";q={};w={}", l.policy, l.quota, l.window_secs))
            .collect();
        let current = format!(
            "\"{}\";r={};t={}",
            tightest.policy,
            tightest.remaining(),
            tightest.reset_in
        );
        for (name, value) in [
            ("ratelimit-policy", policies.join(", ")),
            ("ratelimit", current),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.push((HeaderName::from_static(name), value));
            }
        }
        if self.exceeded() {
            // Retry when every exceeded window has ended.
            let exceeded = self.0.iter().filter(|l| l.exceeded());
            let retry_in = exceeded.clone().map(|l| l.reset_in).max().unwrap_or(1);
            let reset_at = exceeded.map(|l| l.reset_at).max().unwrap_or(0);
            headers.push((http::header::RETRY_AFTER, HeaderValue::from(retry_in)));
            headers.push((
                HeaderName::from_static("x-ratelimit-reset"),
                HeaderValue::from(reset_at),
            ));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(policy: &'static str, quota: u32, hits: i32, reset_in: i64) -> Limit {
        Limit {
            policy,
            quota,
            window_secs: 60,
            hits,
            reset_in,
            reset_at: 1_800_000_000 + reset_in,
        }
    }

    fn header<'a>(headers: &'a [(HeaderName, HeaderValue)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.to_str().ok())
    }

    #[test]
    fn within_the_limit() {
        let headers = Limits(vec![limit("token", 60, 1, 60)]).headers();
        assert_eq!(header(&headers, "x-ratelimit-limit"), Some("60"));
        assert_eq!(header(&headers, "x-ratelimit-remaining"), Some("59"));
        assert_eq!(
            header(&headers, "ratelimit-policy"),
            Some("\"token\";q=60;w=60")
        );
        assert_eq!(header(&headers, "ratelimit"), Some("\"token\";r=59;t=60"));
        assert_eq!(header(&headers, "retry-after"), None);
    }

    #[test]
    fn over_the_limit() {
        let limits = Limits(vec![limit("token", 60, 61, 42)]);
        assert!(limits.exceeded());
        let headers = limits.headers();
        assert_eq!(header(&headers, "x-ratelimit-remaining"), Some("0"));
        assert_eq!(header(&headers, "retry-after"), Some("42"));
        assert_eq!(header(&headers, "x-ratelimit-reset"), Some("1800000042"));
    }

    #[test]
    fn the_tightest_of_several_policies_is_reported() {
        let limits = Limits(vec![limit("ip", 5, 2, 50), limit("email", 5, 4, 30)]);
        let headers = limits.headers();
        assert_eq!(header(&headers, "x-ratelimit-remaining"), Some("1"));
        assert_eq!(
            header(&headers, "ratelimit-policy"),
            Some("\"ip\";q=5;w=60, \"email\";q=5;w=60")
        );
        assert_eq!(header(&headers, "ratelimit"), Some("\"email\";r=1;t=30"));
    }
}
