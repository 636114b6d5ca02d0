//! The bench's state across scenarios and the runs every scenario is made
//! of: a closed-loop wrk run, a fixed-rate run of the open-loop client,
//! each recorded with the CPU it cost.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anitrack_pg::PgCluster;
use anyhow::{Context as _, Result, bail};

use crate::load::{Line, OpenLoop, OpenLoopResult, Stats, Wrk};
use crate::plan::{CONNECTIONS, DATABASE, POOL_SIZE, Plan, RAISED_LIMIT, TOKEN_LIMIT};
use crate::report::Run;
use crate::rotation::Lines;
use crate::seed::Dataset;
use crate::server::Server;
use crate::sys;

/// Everything the scenarios share: the plan, the seeded data and its
/// rotations, the cluster, the tools, and what has been recorded so far.
pub struct Bench<'a> {
    pub plan: Plan,
    pub dir: PathBuf,
    pub script: PathBuf,
    pub lines: Lines,
    pub cluster: &'a PgCluster,
    pub postmaster: u32,
    pub pgbench: PathBuf,
    pub server_bin: PathBuf,
    pub data: Dataset,
    pub runtime: tokio::runtime::Runtime,
    pub client: reqwest::Client,
    pub interrupted: Arc<AtomicBool>,
    pub runs: Vec<Run>,
    /// Step of the shared token rotation where the next run starts.
    pub cursor: usize,
    pub notes: serde_json::Map<String, serde_json::Value>,
}

/// A closed-loop wrk run's parameters.
pub struct Closed<'p> {
    pub scenario: &'static str,
    pub name: &'p str,
    pub lines: &'p Path,
    pub method: &'p str,
    pub body: Option<&'p str>,
    /// A header that carries each line's argument (e.g. `If-None-Match`).
    pub arg_header: Option<&'p str>,
    pub connections: usize,
    pub duration: Duration,
    pub timeout: Duration,
    /// Walks the shared token rotation from `Bench::cursor` (and moves it).
    pub shared: bool,
}

/// A fixed-rate run's parameters.
pub struct Fixed<'p> {
    pub scenario: &'static str,
    pub name: &'p str,
    pub lines: &'p [Line],
    /// Walks the shared token rotation from `Bench::cursor` (and moves it).
    pub shared: bool,
    pub rate: f64,
    pub method: reqwest::Method,
    pub body: Option<&'p str>,
}

impl<'p> Fixed<'p> {
    pub fn get(
        scenario: &'static str,
        name: &'p str,
        lines: &'p [Line],
        shared: bool,
        rate: f64,
    ) -> Self {
        Fixed {
            scenario,
            name,
            lines,
            shared,
            rate,
            method: reqwest::Method::GET,
            body: None,
        }
    }
}

/// `a / b`, or 0 when `b` is (a side that served nothing).
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

impl<'p> Closed<'p> {
    pub fn get(scenario: &'static str, name: &'p str, lines: &'p Path, duration: Duration) -> Self {
        Closed {
            scenario,
            name,
            lines,
            method: "GET",
            body: None,
            arg_header: None,
            connections: CONNECTIONS,
            duration,
            timeout: Duration::from_secs(10),
            shared: false,
        }
    }
}

impl Bench<'_> {
    pub(crate) fn check_interrupt(&self) -> Result<()> {
        if self.interrupted.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        Ok(())
    }

    pub(crate) fn server_flags(&self, token_limit: u32, issuance_limit: u32) -> Vec<String> {
        vec![
            "--db-pool-size".into(),
            POOL_SIZE.to_string(),
            "--rate-limit-per-minute".into(),
            token_limit.to_string(),
            "--token-rate-limit-per-minute".into(),
            issuance_limit.to_string(),
        ]
    }

    pub(crate) fn start_server(&self, flags: Vec<String>) -> Result<Server> {
        self.start_server_on(&self.cluster.url(DATABASE), flags)
    }

    /// A server whose database is at `database_url` (a proxy or PgBouncer
    /// in front of the bench's cluster).
    pub(crate) fn start_server_on(&self, database_url: &str, flags: Vec<String>) -> Result<Server> {
        println!(
            "bench: starting anitrack-server {} (database {database_url})",
            flags.join(" ")
        );
        Server::start(
            &self.server_bin,
            database_url,
            &flags,
            &self.dir.join("server.log"),
        )
    }

    pub(crate) fn record(&mut self, run: Run) -> Stats {
        let s = &run.stats;
        println!(
            "bench:   {:<28} {:<8} {:<14} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}{}",
            run.name,
            run.tool,
            run.mode,
            s.rps,
            s.p50_ms,
            s.p99_ms,
            s.errors,
            if s.error_detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.error_detail)
            }
        );
        let stats = run.stats.clone();
        self.runs.push(run);
        stats
    }

    /// A closed-loop wrk run, recorded unless `warm`.
    pub(crate) fn closed(&mut self, server: &Server, c: Closed, warm: bool) -> Result<Stats> {
        self.check_interrupt()?;
        let base = server.base_url();
        let wrk = Wrk {
            base_url: &base,
            lines: c.lines,
            method: c.method,
            body_template: c.body,
            arg_header: c.arg_header,
            connections: c.connections,
            duration: c.duration,
            start_offset: if c.shared { self.cursor } else { 0 },
            timeout: c.timeout,
        };
        let before = sys::snapshot(server.pid(), self.postmaster);
        let stats = wrk.run(&self.script)?;
        let after = sys::snapshot(server.pid(), self.postmaster);
        if c.shared {
            self.cursor += stats.requests as usize;
        }
        if warm {
            println!(
                "bench:   warm-up {:<20} {:>8.0} req/s, errors {}",
                c.name, stats.rps, stats.errors
            );
            return Ok(stats);
        }
        Ok(self.record(Run {
            scenario: c.scenario,
            name: c.name.to_string(),
            tool: "wrk",
            mode: format!("closed c={}", c.connections),
            stats,
            cpu: before.until(&after),
        }))
    }

    /// A fixed-rate run of the in-process open-loop client.
    pub(crate) fn fixed(&mut self, server: &Server, f: Fixed) -> Result<OpenLoopResult> {
        self.check_interrupt()?;
        let base = server.base_url();
        let open = OpenLoop {
            base_url: &base,
            lines: f.lines,
            method: f.method,
            body_template: f.body,
            rate: f.rate,
            duration: self.plan.run,
            start_offset: if f.shared { self.cursor } else { 0 },
            max_in_flight: 512,
        };
        let before = sys::snapshot(server.pid(), self.postmaster);
        let result = self.runtime.block_on(open.run(&self.client))?;
        let after = sys::snapshot(server.pid(), self.postmaster);
        if f.shared {
            self.cursor += result.stats.requests as usize;
        }
        self.record(Run {
            scenario: f.scenario,
            name: f.name.to_string(),
            tool: "openloop",
            mode: format!("fixed {:.0}/s", f.rate),
            stats: result.stats.clone(),
            cpu: before.until(&after),
        });
        Ok(result)
    }

    /// The largest hit count of any live per-token window: at most the
    /// limit means the throttle counted every request and tripped none.
    pub(crate) fn note_hits(&mut self, scenario: &str) -> Result<()> {
        let out = self
            .cluster
            .sql(DATABASE)?
            .run("SELECT coalesce(max(hits), 0) FROM rate_limits WHERE key LIKE 't:%'")?;
        let hits: i64 = out
            .trim()
            .parse()
            .with_context(|| format!("unexpected max hits {out:?}"))?;
        println!("bench:   most hits in one token's window: {hits} (limit {TOKEN_LIMIT})");
        self.notes.insert(
            format!("max_token_window_hits_after_{scenario}"),
            serde_json::json!(hits),
        );
        Ok(())
    }

    /// The server accepts a token the bench minted (`tokens.rs`): one
    /// request, so that a format drift stops the bench here instead of
    /// showing up as a run of 401s counted as errors.
    pub(crate) fn check_minted_tokens(&self, server: &Server) -> Result<()> {
        let token = self
            .data
            .power_tokens
            .first()
            .context("no power user token")?;
        let url = format!("{}/api/v1/user", server.base_url());
        let request = self.client.get(&url).bearer_auth(token);
        let status = self
            .runtime
            .block_on(async { request.send().await })
            .with_context(|| format!("GET {url}"))?
            .status();
        if status != reqwest::StatusCode::OK {
            bail!(
                "the server answered {status} to a token the bench minted; \
                 xtask/bench/src/tokens.rs no longer mints what the server accepts"
            );
        }
        Ok(())
    }

    /// `--hold`: the seeded database and server A, until Ctrl-C.
    pub(crate) fn hold(&self) -> Result<()> {
        let server = self.start_server(self.server_a_flags())?;
        self.check_minted_tokens(&server)?;
        println!("bench: holding; Ctrl-C tears everything down");
        println!(
            "  server          {}  (pid {:?})",
            server.base_url(),
            server.pid()
        );
        println!("  database        {}", self.cluster.url(DATABASE));
        println!("  postmaster pid  {}", self.postmaster);
        println!("  rotations       {}", self.dir.join("lines").display());
        println!(
            "  wrk             wrk -t1 -c32 -d15s -s {} {} -- {} GET 0",
            self.script.display(),
            server.base_url(),
            self.lines.read_all.display()
        );
        if let Some(line) = self.lines.list5k_lines.first() {
            println!(
                "  power user      curl -s {}{} -H 'Authorization: Bearer {}'",
                server.base_url(),
                line.path,
                line.token
            );
        }
        while !self.interrupted.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
        }
        println!("bench: tearing down");
        Ok(())
    }

    /// Server A: the default per-token limit; token issuance raised (only
    /// the login storm calls it, from one address).
    ///
    /// Its hash concurrency is always passed, so that the login storm
    /// records the very number the server ran with (see `Plan::hashing`).
    pub(crate) fn server_a_flags(&self) -> Vec<String> {
        let mut flags = self.server_flags(TOKEN_LIMIT, RAISED_LIMIT);
        flags.extend([
            "--hash-concurrency".to_string(),
            self.plan.hashing.concurrency.to_string(),
        ]);
        flags
    }
}
