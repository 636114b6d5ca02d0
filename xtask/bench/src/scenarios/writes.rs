//! Writes: `PATCH /list/{id}` over the shared token rotation.

use anyhow::Result;

use crate::report::Figure;
use crate::runner::{Bench, Closed, Fixed};
use crate::server::Server;

impl Bench<'_> {
    /// PATCH throughput closed-loop, latency at half of it.
    pub(crate) fn writes(&mut self, server: &Server) -> Result<Vec<Figure>> {
        println!("bench: writes: PATCH /api/v1/list/{{id}}");
        let patch = self.lines.patch.clone();
        let body = r#"{"notes":"bench edit @N@"}"#;
        let closed = self.closed(
            server,
            Closed {
                method: "PATCH",
                body: Some(body),
                shared: true,
                ..Closed::get("patch", "PATCH list/{id}", &patch, self.plan.run)
            },
            false,
        )?;
        let lines = self.lines.patch_lines.clone();
        let fixed = self.fixed(
            server,
            Fixed {
                method: reqwest::Method::PATCH,
                body: Some(body),
                ..Fixed::get(
                    "patch",
                    "PATCH list/{id}",
                    &lines,
                    true,
                    (closed.rps * 0.5).max(10.0).round(),
                )
            },
        )?;
        self.note_hits("patch")?;
        Ok(vec![
            Figure::plain("patch_rps", closed.rps, "req/s"),
            Figure::plain("patch_p99_ms", fixed.stats.p99_ms, "ms"),
            Figure::plain("patch_closed_p99_ms", closed.p99_ms, "ms"),
        ])
    }
}
