//! The big list: the power user's 5,000 live entries in one `GET /list`.

use anyhow::{Context as _, Result};

use crate::load::Line;
use crate::report::{self, Figure, Target};
use crate::runner::{Bench, Closed, Fixed};
use crate::server::Server;
use crate::sys;

impl Bench<'_> {
    /// The power user's whole list: latency at a fixed rate, throughput
    /// closed-loop, and how much the server's resident memory grows.
    pub(crate) fn big_list(&mut self, server: &Server) -> Result<Vec<Figure>> {
        println!(
            "bench: big list: GET /api/v1/list for the {}-entry user",
            self.data.sizes.power_entries
        );
        let pid = server.pid().context("the server is not running")?;
        let list5k = self.lines.list5k.clone();
        let lines = self.lines.list5k_lines.clone();
        let size = self.response_size(server, lines.first())?;
        // Before any list request: the growth includes the allocator
        // keeping what the first big responses needed.
        let rss_before = sys::status_kib(pid, "VmRSS").unwrap_or(0);
        let reset = sys::reset_peak_rss(pid);
        let connections = self.plan.list_connections;
        let warm = Closed {
            connections,
            ..Closed::get("warm", "list5k", &list5k, self.plan.warm)
        };
        self.closed(server, warm, true)?;
        let run = Closed {
            connections,
            ..Closed::get("list5k", "list 5k entries", &list5k, self.plan.run)
        };
        let closed = self.closed(server, run, false)?;
        let rate = (closed.rps * 0.5).clamp(1.0, 20.0).round();
        let fixed = self.fixed(
            server,
            Fixed::get("list5k", "list 5k entries", &lines, false, rate),
        )?;
        let peak = sys::status_kib(pid, "VmHWM").unwrap_or(0);
        let rss_after = sys::status_kib(pid, "VmRSS").unwrap_or(0);
        let growth_mb = peak.saturating_sub(rss_before) as f64 / 1024.0;
        println!(
            "bench:   response {:.2} MB; server RSS {:.1} MB before, peak {:.1} MB, {:.1} MB after (peak reset: {reset})",
            size as f64 / 1e6,
            rss_before as f64 / 1024.0,
            peak as f64 / 1024.0,
            rss_after as f64 / 1024.0
        );
        self.notes.insert(
            "list5k".into(),
            serde_json::json!({
                "response_bytes": size,
                "rss_before_mb": report::round(rss_before as f64 / 1024.0, 1),
                "peak_mb": report::round(peak as f64 / 1024.0, 1),
                "rss_after_mb": report::round(rss_after as f64 / 1024.0, 1),
                "peak_reset_before_run": reset,
                "closed_loop_connections": connections,
                "fixed_rate_per_s": rate,
                "closed_p50_ms": report::round(closed.p50_ms, 2),
                "closed_p99_ms": report::round(closed.p99_ms, 2),
            }),
        );
        Ok(vec![
            Figure {
                key: "list5k_p50_ms",
                value: fixed.stats.p50_ms,
                unit: "ms",
                target: Some(Target::AtMost(25.0)),
            },
            Figure::plain("list5k_p99_ms", fixed.stats.p99_ms, "ms"),
            Figure::plain("list5k_rss_growth_mb", growth_mb, "MB"),
        ])
    }

    /// Bytes of one response.
    pub(crate) fn response_size(&self, server: &Server, line: Option<&Line>) -> Result<usize> {
        let line = line.context("no request to size")?;
        let request = self
            .client
            .get(format!("{}{}", server.base_url(), line.path))
            .bearer_auth(&line.token);
        let body = self
            .runtime
            .block_on(async { request.send().await?.error_for_status()?.bytes().await })?;
        Ok(body.len())
    }
}
