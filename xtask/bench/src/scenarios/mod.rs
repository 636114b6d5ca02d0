//! The scenarios, in the order they run, each a module of its own:
//! `read` (the read ceiling against pgbench and `/health`), `list` (the
//! 5,000-entry list), `writes` (PATCH), `login` (the login storm) on server
//! A, then `poll` (the unchanged 5,000-entry list polled, against reading it
//! whole), `throttle` and `scaling` (durable against non-durable, round
//! trips over a link with latency, PgBouncer) on server B.

mod list;
mod login;
mod poll;
mod read;
mod scaling;
mod throttle;
mod writes;

use anyhow::Result;

use crate::plan::RAISED_LIMIT;
use crate::report::Figure;
use crate::runner::{Bench, Closed};
use crate::server::Server;

impl Bench<'_> {
    pub(crate) fn scenarios(&mut self) -> Result<Vec<Figure>> {
        let flags = self.server_a_flags();
        let server = self.start_server(flags.clone())?;
        self.notes
            .insert("server_a_flags".into(), serde_json::json!(flags.join(" ")));
        self.check_minted_tokens(&server)?;

        println!("bench: warming up");
        self.sweep_tokens(&server)?;
        let health = self.lines.health.clone();
        self.closed(
            &server,
            Closed::get("warm", "health", &health, self.plan.warm),
            true,
        )?;

        let mut figures = self.read_ceiling(&server)?;
        figures.extend(self.big_list(&server)?);
        figures.extend(self.writes(&server)?);
        figures.extend(self.login_storm(&server)?);
        drop(server);

        // Server B: the per-token limit raised, for the scenarios that
        // carry thousands of requests a second on few tokens.
        let flags = self.server_flags(RAISED_LIMIT, RAISED_LIMIT);
        let server = self.start_server(flags.clone())?;
        self.notes
            .insert("server_b_flags".into(), serde_json::json!(flags.join(" ")));
        figures.extend(self.poll(&server)?);
        figures.extend(self.throttle(&server)?);
        figures.extend(self.durability(&server)?);
        figures.extend(self.round_trips(&server)?);
        figures.extend(self.pgbouncer(&server)?);
        Ok(figures)
    }

    /// Warm-up reads until the rotation has visited every token at least
    /// once more, so that measured runs (the server's and pgbench's alike)
    /// meet the steady state: every token has a live rate-limit window and
    /// a recent `last_used_at`, and each is renewed once a minute as the
    /// rotation comes by, instead of the first run paying for every
    /// token's first request.
    pub(crate) fn sweep_tokens(&mut self, server: &Server) -> Result<()> {
        let read_all = self.lines.read_all.clone();
        let target = self.cursor + self.lines.read_all_lines.len();
        while self.cursor < target {
            let warm = Closed {
                shared: true,
                ..Closed::get("warm", "read (token sweep)", &read_all, self.plan.warm)
            };
            self.closed(server, warm, true)?;
        }
        Ok(())
    }
}
