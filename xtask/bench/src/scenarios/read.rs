//! Read ceiling: `GET /list/anime/{id}` against pgbench running the very
//! statements that request issues (captured from PostgreSQL's log), and
//! against `GET /health` (the framework's ceiling), round by round; and
//! the same reads with the database made non-durable, beside them.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::load::Stats;
use crate::plan::{DATABASE, POOL_SIZE};
use crate::report::{Figure, Run, Target, median};
use crate::runner::{Bench, Closed, Fixed, ratio};
use crate::server::Server;
use crate::{pgbench, sys, tokens};

impl Bench<'_> {
    /// Read ceiling and framework ceiling, interleaved round by round.
    pub(crate) fn read_ceiling(&mut self, server: &Server) -> Result<Vec<Figure>> {
        println!("bench: read ceiling: GET /api/v1/list/anime/{{id}} vs pgbench vs GET /health");
        let script = self.capture_pgbench_script(server)?;
        let script_path = self.dir.join("read.pgbench.sql");
        std::fs::write(&script_path, &script)?;
        let read_all = self.lines.read_all.clone();
        let health = self.lines.health.clone();
        let run = self.plan.run;
        let (mut read, mut pg, mut noop) = (Vec::new(), Vec::new(), Vec::new());
        let mut fast = Vec::new();
        for round in 1..=self.plan.rounds {
            let name = format!("read list/anime/{{id}} #{round}");
            let c = Closed {
                shared: true,
                ..Closed::get("read", &name, &read_all, run)
            };
            read.push(self.closed(server, c, false)?.rps);
            pg.push(self.pgbench_run(&script_path, round)?.rps);
            // The same reads on the database made non-durable, beside the
            // durable run (what the bench measured before it was durable).
            self.set_durable(false)?;
            let name = format!("read non-durable #{round}");
            let c = Closed {
                shared: true,
                ..Closed::get("read", &name, &read_all, run)
            };
            let measured = self.closed(server, c, false);
            self.set_durable(true)?;
            fast.push(measured?.rps);
            let name = format!("noop /health #{round}");
            noop.push(
                self.closed(server, Closed::get("read", &name, &health, run), false)?
                    .rps,
            );
        }
        let (read_rps, pgbench_rps, noop_rps) =
            (median(&mut read), median(&mut pg), median(&mut noop));
        let fast_rps = median(&mut fast);
        let lines = self.lines.read_all_lines.clone();
        self.fixed(
            server,
            Fixed::get(
                "read",
                "read list/anime/{id}",
                &lines,
                true,
                (read_rps * 0.5).max(10.0).round(),
            ),
        )?;
        self.note_hits("read")?;
        Ok(vec![
            Figure::plain("read_rps", read_rps, "req/s"),
            Figure::plain("pgbench_rps", pgbench_rps, "tx/s"),
            Figure {
                key: "read_vs_pgbench_ratio",
                value: ratio(read_rps, pgbench_rps),
                unit: "",
                target: Some(Target::AtLeast(0.8)),
            },
            Figure::plain("read_non_durable_rps", fast_rps, "req/s"),
            Figure::plain("noop_rps", noop_rps, "req/s"),
        ])
    }

    /// Captures the statements one read request issues and turns them
    /// into the pgbench script (see `pgbench.rs`).
    pub(crate) fn capture_pgbench_script(&mut self, server: &Server) -> Result<String> {
        // A user whose account id, anime id and the window (60) differ, so
        // that every logged parameter maps to one variable.
        let user = self
            .data
            .users
            .iter()
            .find(|u| {
                u.account_id > 100
                    && u.account_id != u.read_anime
                    && u.read_anime != 60
                    && u.account_id != 60
            })
            .context("no user to capture statements with")?;
        let token = user.tokens.first().context("user without tokens")?.clone();
        let (account_id, anime_id) = (user.account_id, user.read_anime);
        let hash = format!("\\x{}", tokens::hex(&tokens::sha256(&token)));
        let log = self.cluster.log_file().to_path_buf();
        self.cluster
            .sql("postgres")?
            .run("ALTER SYSTEM SET log_min_duration_statement = 0;\nSELECT pg_reload_conf();")?;
        std::thread::sleep(Duration::from_millis(300));
        let offset = std::fs::metadata(&log)?.len();
        let url = format!("{}/api/v1/list/anime/{anime_id}", server.base_url());
        for _ in 0..3 {
            let request = self.client.get(&url).bearer_auth(&token);
            let response = self.runtime.block_on(async { request.send().await })?;
            if !response.status().is_success() {
                bail!("GET {url} answered {}", response.status());
            }
        }
        std::thread::sleep(Duration::from_millis(300));
        self.cluster
            .sql("postgres")?
            .run("ALTER SYSTEM RESET log_min_duration_statement;\nSELECT pg_reload_conf();")?;
        let bytes = std::fs::read(&log)?;
        let text = String::from_utf8_lossy(bytes.get(offset as usize..).unwrap_or_default());
        let account = account_id.to_string();
        let statements: Vec<pgbench::Logged> = pgbench::parse_log(&text)
            .into_iter()
            .filter(|s| s.params.iter().any(|p| *p == hash || *p == account))
            .collect();
        if statements.len() != 2 {
            bail!(
                "expected the read request to issue 2 statements, the log shows {}: {statements:#?}",
                statements.len()
            );
        }
        let script = pgbench::script(
            &statements,
            &pgbench::Known {
                hash: &hash,
                account_id,
                anime_id,
                window_secs: "60",
            },
        )?;
        println!(
            "bench:   captured {} statements from PostgreSQL's log for the pgbench script",
            statements.len()
        );
        self.notes
            .insert("pgbench_script".into(), serde_json::json!(script.clone()));
        Ok(script)
    }

    /// pgbench over the same token rotation, from the shared cursor.
    pub(crate) fn pgbench_run(&mut self, script: &Path, round: usize) -> Result<Stats> {
        self.check_interrupt()?;
        let per = self.data.sizes.tokens_per_account;
        let vars: Vec<(String, String)> = [
            ("n", "0".to_string()),
            ("start", self.cursor.to_string()),
            ("nclients", POOL_SIZE.to_string()),
            ("mult", self.lines.rotation_multiplier.to_string()),
            ("ntok", (self.data.users.len() * per).to_string()),
            ("per_account", per.to_string()),
            ("lo", self.data.anime_lo.to_string()),
            ("cnt", self.data.anime_cnt.to_string()),
            ("window", "60".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let bench = pgbench::Pgbench {
            bin: &self.pgbench,
            port: self.cluster.port(),
            database: DATABASE,
            script,
            clients: POOL_SIZE,
            duration: self.plan.run,
            vars: &vars,
            log_dir: &self.dir.join("pgbench-log"),
        };
        let before = sys::snapshot(None, self.postmaster);
        let stats = bench.run()?;
        let after = sys::snapshot(None, self.postmaster);
        self.cursor += stats.requests as usize;
        Ok(self.record(Run {
            scenario: "read",
            name: format!("pgbench same SQL #{round}"),
            tool: "pgbench",
            mode: format!("closed c={POOL_SIZE}"),
            stats,
            cpu: before.until(&after),
        }))
    }
}
