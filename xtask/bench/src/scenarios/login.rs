//! The login storm: does token issuance (Argon2id on every core the
//! server lets it have) hurt everyone else's reads?

use std::time::Duration;

use anyhow::Result;

use crate::load::{self, Wrk};
use crate::plan::RAISED_LIMIT;
use crate::report::{self, Figure, Run, Target};
use crate::runner::{Bench, Fixed, ratio};
use crate::server::Server;
use crate::{seed, sys};

impl Bench<'_> {
    /// `GET /user` at a fixed rate, quiet and while token issuance runs
    /// at twice its hashing concurrency (so the semaphore is always full).
    pub(crate) fn login_storm(&mut self, server: &Server) -> Result<Vec<Figure>> {
        // What server A was started with (see `Bench::server_a_flags`).
        let hashing = self.plan.hashing.concurrency;
        let connections = 2 * hashing;
        let rate = self.plan.user_rate;
        println!(
            "bench: login storm: GET /api/v1/user at {rate}/s, quiet vs with POST /api/v1/auth/token at {connections} connections (hash concurrency {hashing})"
        );
        let users = self.lines.user_lines.clone();
        let login = self.lines.login.clone();
        let body = format!(
            r#"{{"email":"@ARG@","password":"{}","device_name":"bench login @N@"}}"#,
            seed::PASSWORD
        );
        let (mut quiet, mut storm) = (Vec::new(), Vec::new());
        for round in 1..=self.plan.rounds.min(2) {
            let name = format!("GET /user quiet #{round}");
            quiet.push(self.fixed(server, Fixed::get("login", &name, &users, true, rate))?);
            self.check_interrupt()?;
            let base = server.base_url();
            let wrk = Wrk {
                base_url: &base,
                lines: &login,
                method: "POST",
                body_template: Some(&body),
                arg_header: None,
                connections,
                // Starts a second before and ends after the measured run.
                duration: self.plan.run + Duration::from_secs(2),
                start_offset: round * 5_000,
                timeout: Duration::from_secs(30),
            };
            let before = sys::snapshot(server.pid(), self.postmaster);
            let child = wrk.spawn(&self.script)?;
            std::thread::sleep(Duration::from_secs(1));
            let name = format!("GET /user storm #{round}");
            let during = self.fixed(server, Fixed::get("login", &name, &users, true, rate));
            let issued = child.finish()?;
            let after = sys::snapshot(server.pid(), self.postmaster);
            storm.push(during?);
            self.record(Run {
                scenario: "login",
                name: format!("POST /auth/token storm #{round}"),
                tool: "wrk",
                mode: format!("closed c={connections}"),
                stats: issued,
                cpu: before.until(&after),
            });
        }
        let quiet = load::merged_stats(&quiet.iter().collect::<Vec<_>>())?;
        let storm = load::merged_stats(&storm.iter().collect::<Vec<_>>())?;
        self.notes.insert(
            "login_storm".into(),
            serde_json::json!({
                "user_rate_per_s": rate,
                "quiet_p50_ms": report::round(quiet.p50_ms, 3),
                "quiet_p99_ms": report::round(quiet.p99_ms, 3),
                "storm_p50_ms": report::round(storm.p50_ms, 3),
                "storm_p99_ms": report::round(storm.p99_ms, 3),
                "issuance_connections": connections,
                "hash_concurrency": hashing,
                "hash_concurrency_source": self.plan.hashing.source,
                "token_issuance_limit_raised_to": RAISED_LIMIT,
            }),
        );
        self.note_hits("login")?;
        Ok(vec![Figure {
            key: "login_storm_p99_ratio",
            value: ratio(storm.p99_ms, quiet.p99_ms),
            unit: "",
            target: Some(Target::AtMost(2.0)),
        }])
    }
}
