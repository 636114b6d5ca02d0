//! Polling an unchanged list: what it costs to keep a copy of the power
//! user's 5,000-entry list in step while nothing changes, against reading
//! it whole (`docs/sync.md`).
//!
//! Four closed-loop runs side by side on server B, each at the big list's
//! connection count: `GET /list` whole, the change feed with the latest
//! cursor (`200`, an empty page), and `If-None-Match` with the current
//! `ETag` on `GET /list` and on the feed (`304`). On server B because the
//! power user's 300 tokens at the default 60 requests a minute could carry
//! only 300 polls a second, and a poll takes a fraction of a millisecond.

use std::fmt::Write as _;

use anyhow::{Context as _, Result, bail};
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_NONE_MATCH};

use crate::load::{self, Line};
use crate::plan::RAISED_LIMIT;
use crate::report::{self, Figure, Run, Target};
use crate::runner::{Bench, Closed, ratio};
use crate::server::Server;

/// Changes per page when the bench reads the feed from the beginning.
const FEED_PAGE: usize = 1000;
/// More pages than the power user's feed can have: a server that keeps
/// answering `has_more` stops the bench instead of looping.
const MAX_PAGES: usize = 100;
/// Above this many bytes per response (headers included), a poll run was
/// answered with bodies: the list changed under it, or the server ignored
/// `If-None-Match`.
const POLL_BYTES_MAX: f64 = 2048.0;

/// What a poll run cost per successful request.
struct Cost {
    server_us: f64,
    postgres_us: f64,
    rps: f64,
    requests: u64,
    errors: u64,
    bytes_per_response: f64,
}

impl Cost {
    fn of(run: &Run) -> Cost {
        let s = &run.stats;
        Cost {
            server_us: run.per_request_us(run.cpu.server),
            postgres_us: run.per_request_us(run.cpu.postgres),
            rps: s.rps,
            requests: s.requests,
            errors: s.errors,
            bytes_per_response: ratio(s.bytes as f64, s.requests as f64),
        }
    }

    fn total_us(&self) -> f64 {
        self.server_us + self.postgres_us
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "server_us": report::round(self.server_us, 1),
            "postgres_us": report::round(self.postgres_us, 1),
            "total_us": report::round(self.total_us(), 1),
            "rps": report::round(self.rps, 1),
            "requests": self.requests,
            "errors": self.errors,
            "bytes_per_response": report::round(self.bytes_per_response, 0),
        })
    }
}

/// The state of the power user's list the polls present.
struct Probe {
    /// The cursor the feed's last page handed over.
    cursor: String,
    list_etag: String,
    feed_etag: String,
    pages: usize,
    upserts: usize,
    deletes: usize,
    poll_bytes: usize,
}

impl Bench<'_> {
    /// The poll of the unchanged big list against the whole read, on a
    /// server whose per-token limit is raised (server B).
    pub(crate) fn poll(&mut self, server: &Server) -> Result<Vec<Figure>> {
        println!(
            "bench: polling the unchanged {}-entry list: GET /list/changes at the latest cursor, \
             If-None-Match on GET /list and on the feed, against GET /list",
            self.data.sizes.power_entries
        );
        let probe = self.poll_probe(server)?;
        println!(
            "bench:   feed from the beginning: {} pages, {} upserts, {} deletes; empty poll {} bytes",
            probe.pages, probe.upserts, probe.deletes, probe.poll_bytes
        );
        let dir = self.dir.join("lines");
        let feed_path = format!("/api/v1/list/changes?cursor={}", query_value(&probe.cursor));
        let rotation = |path: &str, arg: &str| -> Vec<Line> {
            self.data
                .power_tokens
                .iter()
                .map(|t| Line {
                    arg: arg.to_string(),
                    ..Line::new(path, t.as_str())
                })
                .collect()
        };
        let feed = dir.join("poll_feed.tsv");
        let list_304 = dir.join("poll_list_304.tsv");
        let feed_304 = dir.join("poll_feed_304.tsv");
        load::write_lines(&feed, &rotation(&feed_path, ""))?;
        load::write_lines(&list_304, &rotation("/api/v1/list", &probe.list_etag))?;
        load::write_lines(&feed_304, &rotation(&feed_path, &probe.feed_etag))?;
        let full = self.lines.list5k.clone();

        let connections = self.plan.list_connections;
        let (warm, run) = (self.plan.poll_warm, self.plan.poll_run);
        for (name, lines) in [("list5k (server B)", &full), ("poll feed", &feed)] {
            let c = Closed {
                connections,
                ..Closed::get("warm", name, lines, warm)
            };
            self.closed(server, c, true)?;
        }
        // The whole read last: the transfers wrk abandons when a run ends
        // are still drained from PostgreSQL for a few milliseconds, CPU
        // that would land in the next run. The poll warm-up after the
        // whole read's warm-up takes it.
        let mut costs = Vec::new();
        for (name, lines, header) in [
            ("poll: feed, latest cursor", &feed, None),
            ("poll: GET /list 304", &list_304, Some("If-None-Match")),
            ("poll: feed 304", &feed_304, Some("If-None-Match")),
            ("poll: GET /list (whole)", &full, None),
        ] {
            let c = Closed {
                connections,
                arg_header: header,
                ..Closed::get("poll", name, lines, run)
            };
            self.closed(server, c, false)?;
            let last = self.runs.last().context("the run was not recorded")?;
            costs.push(Cost::of(last));
        }
        let [feed, list_304, feed_304, full] = &costs[..] else {
            bail!("expected four poll runs");
        };
        let still = self.poll_probe(server)?;
        let mut anomalies = Vec::new();
        if still.cursor != probe.cursor
            || still.list_etag != probe.list_etag
            || still.feed_etag != probe.feed_etag
        {
            anomalies.push("the list's cursor or ETags changed during the runs".to_string());
        }
        for (name, cost) in [
            ("feed", feed),
            ("list 304", list_304),
            ("feed 304", feed_304),
        ] {
            if cost.bytes_per_response > POLL_BYTES_MAX {
                anomalies.push(format!(
                    "{name}: {:.0} bytes per response, more than an empty answer",
                    cost.bytes_per_response
                ));
            }
        }
        for (name, cost) in [
            ("full", full),
            ("feed", feed),
            ("list 304", list_304),
            ("feed 304", feed_304),
        ] {
            if cost.errors > 0 {
                anomalies.push(format!("{name}: {} errors", cost.errors));
            }
        }
        for anomaly in &anomalies {
            println!("bench:   WARNING: {anomaly}");
        }
        let vs_feed = ratio(full.total_us(), feed.total_us());
        let vs_list_304 = ratio(full.total_us(), list_304.total_us());
        let vs_feed_304 = ratio(full.total_us(), feed_304.total_us());
        println!(
            "bench:   server + PostgreSQL CPU per request: full {:.0} µs, feed poll {:.0} µs \
             (x{vs_feed:.0}), 304 on GET /list {:.0} µs (x{vs_list_304:.0}), 304 on the feed \
             {:.0} µs (x{vs_feed_304:.0})",
            full.total_us(),
            feed.total_us(),
            list_304.total_us(),
            feed_304.total_us()
        );
        // The same full read on server A (the big-list scenario's
        // closed-loop run, longer), as a cross-check of this one.
        let on_a = self
            .runs
            .iter()
            .find(|r| r.scenario == "list5k" && r.tool == "wrk")
            .map(|r| report::round(Cost::of(r).total_us(), 1));
        self.notes.insert(
            "list5k_poll".into(),
            serde_json::json!({
                "server": "B",
                "per_token_limit_raised_to": RAISED_LIMIT,
                "closed_loop_connections": connections,
                "run_seconds": run.as_secs_f64(),
                "ratio_uses": "the feed poll: GET /list/changes?cursor=<latest>, 200 with an empty page",
                "cpu_us_per_request": {
                    "full": full.to_json(),
                    "feed_poll": feed.to_json(),
                    "list_304": list_304.to_json(),
                    "feed_304": feed_304.to_json(),
                },
                "full_on_server_a_total_us": on_a,
                "feed_from_beginning": {
                    "page_limit": FEED_PAGE,
                    "pages": probe.pages,
                    "upserts": probe.upserts,
                    "deletes": probe.deletes,
                },
                "empty_poll_body_bytes": probe.poll_bytes,
                "list_etag": probe.list_etag,
                "feed_etag": probe.feed_etag,
                "cursor_chars": probe.cursor.len(),
                "anomalies": anomalies,
            }),
        );
        let us = |key, value| Figure::plain(key, value, "µs");
        Ok(vec![
            Figure {
                key: "list5k_poll_vs_full_cpu_ratio",
                value: vs_feed,
                unit: "",
                target: Some(Target::AtLeast(50.0)),
            },
            Figure::plain("list5k_304_list_vs_full_cpu_ratio", vs_list_304, ""),
            Figure::plain("list5k_304_feed_vs_full_cpu_ratio", vs_feed_304, ""),
            us("list5k_full_cpu_us", full.total_us()),
            us("list5k_poll_feed_cpu_us", feed.total_us()),
            us("list5k_poll_list_304_cpu_us", list_304.total_us()),
            us("list5k_poll_feed_304_cpu_us", feed_304.total_us()),
        ])
    }

    /// Reads the power user's feed from the beginning to its latest cursor,
    /// polls it once (an empty page, the same cursor), takes the `ETag`s of
    /// that poll and of `GET /list`, and checks that both answer `304` to
    /// them.
    fn poll_probe(&self, server: &Server) -> Result<Probe> {
        let token = self
            .data
            .power_tokens
            .first()
            .context("no power user token")?;
        let base = server.base_url();
        let get = |path: &str, if_none_match: Option<&str>| {
            let mut request = self.client.get(format!("{base}{path}")).bearer_auth(token);
            if let Some(tag) = if_none_match {
                request = request.header(IF_NONE_MATCH, tag);
            }
            self.runtime.block_on(async {
                let response = request.send().await?;
                let status = response.status();
                let etag = response
                    .headers()
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, etag, body))
            })
        };
        let (mut cursor, mut pages, mut upserts, mut deletes) = (None::<String>, 0, 0, 0);
        loop {
            if pages == MAX_PAGES {
                bail!("the power user's feed still had more after {MAX_PAGES} pages");
            }
            let path = match &cursor {
                None => format!("/api/v1/list/changes?limit={FEED_PAGE}"),
                Some(c) => format!(
                    "/api/v1/list/changes?limit={FEED_PAGE}&cursor={}",
                    query_value(c)
                ),
            };
            let (status, _, body) = get(&path, None)?;
            if status != StatusCode::OK {
                bail!("GET {path} answered {status}");
            }
            let page: serde_json::Value =
                serde_json::from_slice(&body).with_context(|| format!("GET {path}"))?;
            pages += 1;
            for change in page["data"]
                .as_array()
                .context("a feed page without data")?
            {
                match change["op"].as_str() {
                    Some("upsert") => upserts += 1,
                    Some("delete") => deletes += 1,
                    other => bail!("a change with op {other:?}"),
                }
            }
            cursor = Some(
                page["next_cursor"]
                    .as_str()
                    .context("a feed page without next_cursor")?
                    .to_owned(),
            );
            if page["has_more"] != serde_json::Value::Bool(true) {
                break;
            }
        }
        let cursor = cursor.context("no cursor")?;
        if upserts != self.data.sizes.power_entries {
            bail!(
                "the feed from the beginning had {upserts} upserts, not the power user's {} entries",
                self.data.sizes.power_entries
            );
        }
        let path = format!("/api/v1/list/changes?cursor={}", query_value(&cursor));
        let (status, feed_etag, body) = get(&path, None)?;
        let poll: serde_json::Value = serde_json::from_slice(&body).context("the empty poll")?;
        let empty = poll["data"].as_array().is_some_and(Vec::is_empty)
            && poll["has_more"] == serde_json::Value::Bool(false);
        if status != StatusCode::OK || !empty {
            bail!("a poll of the unchanged list with its latest cursor answered {status}: {poll}");
        }
        if poll["next_cursor"].as_str() != Some(&cursor) {
            println!(
                "bench:   note: the empty poll handed over another cursor than the one it was given"
            );
        }
        let feed_etag = feed_etag.context("the feed answered without an ETag")?;
        let (status, list_etag, _) = get("/api/v1/list", None)?;
        if status != StatusCode::OK {
            bail!("GET /api/v1/list answered {status}");
        }
        let list_etag = list_etag.context("GET /api/v1/list answered without an ETag")?;
        for (path, tag) in [(path.as_str(), &feed_etag), ("/api/v1/list", &list_etag)] {
            let (status, _, _) = get(path, Some(tag))?;
            if status != StatusCode::NOT_MODIFIED {
                bail!("GET {path} with If-None-Match: {tag} answered {status}, not 304");
            }
        }
        Ok(Probe {
            cursor,
            list_etag,
            feed_etag,
            pages,
            upserts,
            deletes,
            poll_bytes: body.len(),
        })
    }
}

/// `value` percent-encoded for a query string (everything but RFC 3986's
/// unreserved characters).
fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::query_value;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("aZ09-._~"), "aZ09-._~");
        assert_eq!(query_value("a+b/c=="), "a%2Bb%2Fc%3D%3D");
    }
}
