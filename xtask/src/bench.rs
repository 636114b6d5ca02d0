//! `cargo xtask bench [--quick]`: how fast AniTrack is on this machine,
//! measured as ratios taken side by side in one run (absolute numbers on a
//! shared 2-core box drift; ratios much less).
//!
//! Self-contained: builds the release server, starts a private non-durable
//! PostgreSQL, seeds it (see `bench/seed.rs`), starts the server on a free
//! loopback port, warms up, runs every scenario and tears everything down,
//! also on error or Ctrl-C. Nothing leaves 127.0.0.1.
//!
//! Tools: `wrk` (closed loop, with a Lua script rotating bearer tokens),
//! `pgbench` (the database's ceiling for the same statements) and an
//! open-loop client in this process (fixed-rate runs, latency recorded in
//! an HDR histogram from each request's *scheduled* start).
//!
//! Output: a table, `target/bench/results.json`, and the progress lines
//! as it goes. `docs/benchmarks.md` explains every figure.

mod load;
mod pgbench;
mod report;
mod seed;
mod server;
mod sys;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anitrack_pg::{PgBinaries, PgCluster};
use anyhow::{Context as _, Result, bail};

use crate::workspace;
use load::{Line, OpenLoop, OpenLoopResult, Stats, Wrk};
use report::{Figure, Run, Target, median};
use seed::{Dataset, Sizes};
use server::Server;

const DATABASE: &str = "anitrack_bench";
/// The server's database pool, passed explicitly; pgbench uses as many
/// connections.
const POOL_SIZE: usize = 16;
/// HTTP connections of the closed-loop runs (enough to keep the pool busy).
const CONNECTIONS: usize = 32;
/// The default per-token limit, kept for every scenario but the throttle
/// one: the load is spread over enough tokens never to trip it.
const TOKEN_LIMIT: u32 = 60;
/// Limits raised where a scenario needs it (and said so in the results).
const RAISED_LIMIT: u32 = 1_000_000_000;

#[derive(clap::Args)]
pub struct Args {
    /// Smoke run: shorter runs, one round, 2,000 accounts (20,000 tokens)
    /// instead of 10,000 (100,000); under 2 minutes once the release build
    /// is up to date.
    #[arg(long)]
    pub quick: bool,
    /// Seed, start the server, print its URL, the database URL and tokens,
    /// then wait for Ctrl-C instead of running the scenarios (for
    /// profiling by hand: perf, EXPLAIN ANALYZE).
    #[arg(long)]
    pub hold: bool,
    /// Set by the debug build when it hands over to the release build it
    /// just built (the open-loop client must not be the bottleneck).
    #[arg(long, hide = true)]
    pub prebuilt: bool,
    /// Pass `--hash-concurrency N` to the server (an experiment knob for
    /// the login storm; default: the server's own default).
    #[arg(long, value_name = "N")]
    pub hash_concurrency: Option<usize>,
}

struct Plan {
    quick: bool,
    /// Length of one measured run.
    run: Duration,
    warm: Duration,
    /// Rounds of the side-by-side comparisons (read/pgbench/noop, throttle,
    /// login storm), interleaved so that drift hits both sides alike.
    rounds: usize,
    sizes: Sizes,
    /// Fixed rate of `GET /user` in the login storm.
    user_rate: f64,
    /// Connections for the big list (each response is megabytes).
    list_connections: usize,
    /// `serve --hash-concurrency` for server A (None: the server's default).
    hash_concurrency: Option<usize>,
}

impl Plan {
    fn new(quick: bool, hash_concurrency: Option<usize>) -> Plan {
        let sizes = Sizes {
            accounts: if quick { 2_000 } else { 10_000 },
            tokens_per_account: 10,
            entries_per_account: 20,
            catalog: 5_000,
            power_entries: 5_000,
            power_deleted: 500,
            power_tokens: 300,
        };
        Plan {
            quick,
            run: Duration::from_secs(if quick { 4 } else { 15 }),
            warm: Duration::from_secs(if quick { 2 } else { 5 }),
            rounds: if quick { 1 } else { 3 },
            sizes,
            user_rate: if quick { 100.0 } else { 200.0 },
            list_connections: 4,
            hash_concurrency,
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let plan = Plan::new(args.quick, args.hash_concurrency);
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
            .context("installing the Ctrl-C handler")?;
    }
    let root = workspace::root();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let release = target_dir.join("release");

    if !args.prebuilt {
        // One invocation, so the server binary and this tool share one
        // release build of the server library.
        println!("bench: building release: cargo build --release -p anitrack-server -p xtask");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "-p", "anitrack-server", "-p", "xtask"])
            .current_dir(&root)
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build --release -p anitrack-server -p xtask failed");
        }
        if cfg!(debug_assertions) {
            // Hand over to the optimised build: the in-process open-loop
            // client is part of the load generator and must be cheap.
            let mut cmd = Command::new(release.join("xtask"));
            cmd.arg("bench").arg("--prebuilt").current_dir(&root);
            if args.quick {
                cmd.arg("--quick");
            }
            if args.hold {
                cmd.arg("--hold");
            }
            if let Some(n) = args.hash_concurrency {
                cmd.arg("--hash-concurrency").arg(n.to_string());
            }
            let status = cmd.status().context("running the release build of xtask")?;
            if !status.success() {
                bail!("the benchmark failed ({status})");
            }
            return Ok(());
        }
    }
    let server_bin = release.join("anitrack-server");
    let dir = target_dir.join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if args.hold {
        println!("bench: --hold: seed, start the server, wait for Ctrl-C");
    } else {
        println!(
            "bench: {} run; results go to {}",
            if plan.quick { "quick" } else { "full" },
            dir.join("results.json").display()
        );
    }
    ensure_wrk()?;
    let pgbench = find_pgbench()?;
    // A fresh server log per run (standard error only; see bench/server.rs).
    std::fs::write(dir.join("server.log"), "")?;

    println!("bench: starting a private PostgreSQL (non-durable, loopback only)");
    let cluster = PgCluster::start_temporary()?;
    let postmaster = sys::postmaster_pid(cluster.data_dir())?;
    println!("bench: seeding {DATABASE}");
    let data = seed::seed(
        &cluster,
        DATABASE,
        &server_bin,
        &root
            .join("server")
            .join("catalog")
            .join("demo-anilist.json"),
        plan.sizes,
    )?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let mut bench = Bench {
        plan,
        dir: dir.clone(),
        script: load::install_script(&dir)?,
        lines: Lines::write(&dir, &data)?,
        cluster: &cluster,
        postmaster,
        pgbench,
        server_bin,
        data,
        runtime,
        client,
        interrupted,
        runs: Vec::new(),
        cursor: 0,
        notes: serde_json::Map::new(),
    };
    if args.hold {
        return bench.hold();
    }
    let figures = bench.scenarios()?;
    bench.finish(&root, &figures, started)
}

/// Installs wrk with apt-get when it is missing and we are root; otherwise
/// says how.
fn ensure_wrk() -> Result<()> {
    crate::install::ensure_debian_packages("bench", "wrk", &["wrk"], || {
        Command::new("wrk")
            .arg("-v")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("wrk"))
    })
}

fn find_pgbench() -> Result<PathBuf> {
    if let Ok(bins) = PgBinaries::find() {
        let candidate = bins.bin_dir.join("pgbench");
        if candidate.exists() {
            return Ok(candidate);
        }
    }
    let fallback = PathBuf::from("/usr/bin/pgbench");
    if fallback.exists() {
        return Ok(fallback);
    }
    bail!("pgbench was not found; it comes with PostgreSQL: `apt-get install -y postgresql`")
}

/// A multiplier coprime with `n` near `0.618 n` (Fibonacci hashing):
/// consecutive steps land far apart, on different pages of every table.
fn rotation_multiplier(n: usize) -> usize {
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let mut m = (n as f64 * 0.618) as usize | 1;
    while m > 1 && gcd(m, n) != 1 {
        m += 2;
    }
    m.max(1)
}

/// The rotation files wrk reads, and the same lines for the open-loop client.
struct Lines {
    /// Token index of rotation step k: `(k * rotation_multiplier) % n`.
    rotation_multiplier: usize,
    read_all: PathBuf,
    read_all_lines: Vec<Line>,
    read_100: PathBuf,
    health: PathBuf,
    list5k: PathBuf,
    list5k_lines: Vec<Line>,
    patch: PathBuf,
    patch_lines: Vec<Line>,
    login: PathBuf,
    user_lines: Vec<Line>,
}

impl Lines {
    fn write(dir: &Path, data: &Dataset) -> Result<Lines> {
        let dir = dir.join("lines");
        std::fs::create_dir_all(&dir)?;
        // Every rotation over the bench users' tokens walks them in the
        // same order, token index (k * mult) % n for k = 0, 1, ...: a
        // permutation that pgbench can compute too. Runs continue where the
        // previous one stopped (`Bench::cursor`), so every token is visited
        // once per n requests, whichever tool sends them: the steady state
        // of n active tokens at the measured throughput.
        let per = data.sizes.tokens_per_account;
        let n = data.users.len() * per;
        let mult = rotation_multiplier(n);
        let (mut read_all, mut patch, mut user) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for k in 0..n {
            let idx = ((k as u128 * mult as u128) % n as u128) as usize;
            let (u, j) = (&data.users[idx / per], idx % per);
            let token = u.tokens[j].as_str();
            read_all.push(Line::new(
                format!("/api/v1/list/anime/{}", u.read_anime),
                token,
            ));
            user.push(Line::new("/api/v1/user", token));
            let entry = u
                .entry_ids
                .get(j)
                .context("fewer entries than tokens per account")?;
            patch.push(Line::new(format!("/api/v1/list/{entry}"), token));
        }
        // 100 tokens of 100 different accounts.
        let step = (data.users.len() / 100).max(1);
        let read_100: Vec<Line> = data
            .users
            .iter()
            .step_by(step)
            .take(100)
            .filter_map(|u| {
                Some(Line::new(
                    format!("/api/v1/list/anime/{}", u.read_anime),
                    u.tokens.first()?.as_str(),
                ))
            })
            .collect();
        let list5k: Vec<Line> = data
            .power_tokens
            .iter()
            .map(|t| Line::new("/api/v1/list", t.as_str()))
            .collect();
        let mut login: Vec<Line> = data
            .users
            .iter()
            .map(|u| Line {
                path: "/api/v1/auth/token".into(),
                token: String::new(),
                arg: u.email.clone(),
            })
            .collect();
        seed::shuffle(&mut login, 0x5eed_0004);
        let lines = Lines {
            rotation_multiplier: mult,
            read_all: dir.join("read_all.tsv"),
            read_100: dir.join("read_100.tsv"),
            health: dir.join("health.tsv"),
            list5k: dir.join("list5k.tsv"),
            patch: dir.join("patch.tsv"),
            login: dir.join("login.tsv"),
            read_all_lines: read_all,
            list5k_lines: list5k,
            patch_lines: patch,
            user_lines: user,
        };
        load::write_lines(&lines.read_all, &lines.read_all_lines)?;
        load::write_lines(&lines.read_100, &read_100)?;
        load::write_lines(&lines.health, &[Line::new("/health", "")])?;
        load::write_lines(&lines.list5k, &lines.list5k_lines)?;
        load::write_lines(&lines.patch, &lines.patch_lines)?;
        load::write_lines(&lines.login, &login)?;
        Ok(lines)
    }
}

struct Bench<'a> {
    plan: Plan,
    dir: PathBuf,
    script: PathBuf,
    lines: Lines,
    cluster: &'a PgCluster,
    postmaster: u32,
    pgbench: PathBuf,
    server_bin: PathBuf,
    data: Dataset,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    interrupted: Arc<AtomicBool>,
    runs: Vec<Run>,
    /// Step of the shared token rotation where the next run starts.
    cursor: usize,
    notes: serde_json::Map<String, serde_json::Value>,
}

/// A closed-loop wrk run's parameters.
struct Closed<'p> {
    scenario: &'static str,
    name: &'p str,
    lines: &'p Path,
    method: &'p str,
    body: Option<&'p str>,
    connections: usize,
    duration: Duration,
    timeout: Duration,
    /// Walks the shared token rotation from `Bench::cursor` (and moves it).
    shared: bool,
}

/// A fixed-rate run's parameters.
struct Fixed<'p> {
    scenario: &'static str,
    name: &'p str,
    lines: &'p [Line],
    /// Walks the shared token rotation from `Bench::cursor` (and moves it).
    shared: bool,
    rate: f64,
    method: reqwest::Method,
    body: Option<&'p str>,
}

impl<'p> Fixed<'p> {
    fn get(
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

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

impl<'p> Closed<'p> {
    fn get(scenario: &'static str, name: &'p str, lines: &'p Path, duration: Duration) -> Self {
        Closed {
            scenario,
            name,
            lines,
            method: "GET",
            body: None,
            connections: CONNECTIONS,
            duration,
            timeout: Duration::from_secs(10),
            shared: false,
        }
    }
}

impl Bench<'_> {
    fn check_interrupt(&self) -> Result<()> {
        if self.interrupted.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        Ok(())
    }

    fn server_flags(&self, token_limit: u32, issuance_limit: u32) -> Vec<String> {
        vec![
            "--db-pool-size".into(),
            POOL_SIZE.to_string(),
            "--rate-limit-per-minute".into(),
            token_limit.to_string(),
            "--token-rate-limit-per-minute".into(),
            issuance_limit.to_string(),
        ]
    }

    fn start_server(&self, flags: Vec<String>) -> Result<Server> {
        println!("bench: starting anitrack-server {}", flags.join(" "));
        Server::start(
            &self.server_bin,
            &self.cluster.url(DATABASE),
            &flags,
            &self.dir.join("server.log"),
        )
    }

    fn record(&mut self, run: Run) -> Stats {
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
    fn closed(&mut self, server: &Server, c: Closed, warm: bool) -> Result<Stats> {
        self.check_interrupt()?;
        let base = server.base_url();
        let wrk = Wrk {
            base_url: &base,
            lines: c.lines,
            method: c.method,
            body_template: c.body,
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
    fn fixed(&mut self, server: &Server, f: Fixed) -> Result<OpenLoopResult> {
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
    fn note_hits(&mut self, scenario: &str) -> Result<()> {
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

    /// `--hold`: the seeded database and server A, until Ctrl-C.
    fn hold(&self) -> Result<()> {
        let server = self.start_server(self.server_a_flags())?;
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
    fn server_a_flags(&self) -> Vec<String> {
        let mut flags = self.server_flags(TOKEN_LIMIT, RAISED_LIMIT);
        if let Some(n) = self.plan.hash_concurrency {
            flags.extend(["--hash-concurrency".to_string(), n.to_string()]);
        }
        flags
    }

    fn scenarios(&mut self) -> Result<Vec<Figure>> {
        let flags = self.server_a_flags();
        let server = self.start_server(flags.clone())?;
        self.notes
            .insert("server_a_flags".into(), serde_json::json!(flags.join(" ")));

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
        figures.extend(self.throttle()?);
        Ok(figures)
    }

    /// Warm-up reads until the rotation has visited every token at least
    /// once more, so that measured runs (the server's and pgbench's alike)
    /// meet the steady state: every token has a live rate-limit window and
    /// a recent `last_used_at`, and each is renewed once a minute as the
    /// rotation comes by, instead of the first run paying for every
    /// token's first request.
    fn sweep_tokens(&mut self, server: &Server) -> Result<()> {
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

    /// Read ceiling and framework ceiling, interleaved round by round.
    fn read_ceiling(&mut self, server: &Server) -> Result<Vec<Figure>> {
        println!("bench: read ceiling: GET /api/v1/list/anime/{{id}} vs pgbench vs GET /health");
        let script = self.capture_pgbench_script(server)?;
        let script_path = self.dir.join("read.pgbench.sql");
        std::fs::write(&script_path, &script)?;
        let read_all = self.lines.read_all.clone();
        let health = self.lines.health.clone();
        let run = self.plan.run;
        let (mut read, mut pg, mut noop) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=self.plan.rounds {
            let name = format!("read list/anime/{{id}} #{round}");
            let c = Closed {
                shared: true,
                ..Closed::get("read", &name, &read_all, run)
            };
            read.push(self.closed(server, c, false)?.rps);
            pg.push(self.pgbench_run(&script_path, round)?.rps);
            let name = format!("noop /health #{round}");
            noop.push(
                self.closed(server, Closed::get("read", &name, &health, run), false)?
                    .rps,
            );
        }
        let (read_rps, pgbench_rps, noop_rps) =
            (median(&mut read), median(&mut pg), median(&mut noop));
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
                target: Some(Target::AtLeast(0.5)),
            },
            Figure::plain("noop_rps", noop_rps, "req/s"),
        ])
    }

    /// The power user's whole list: latency at a fixed rate, throughput
    /// closed-loop, and how much the server's resident memory grows.
    fn big_list(&mut self, server: &Server) -> Result<Vec<Figure>> {
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
    fn response_size(&self, server: &Server, line: Option<&Line>) -> Result<usize> {
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

    /// PATCH throughput closed-loop, latency at half of it.
    fn writes(&mut self, server: &Server) -> Result<Vec<Figure>> {
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

    /// `GET /user` at a fixed rate, quiet and while token issuance runs
    /// at twice its hashing concurrency (so the semaphore is always full).
    fn login_storm(&mut self, server: &Server) -> Result<Vec<Figure>> {
        // The server's own default when no --hash-concurrency is passed on.
        let hashing = self
            .plan
            .hash_concurrency
            .unwrap_or_else(anitrack_server::cli::default_hash_concurrency);
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

    /// Reads over 100 tokens vs over every bench token, on server B (the
    /// per-token limit raised so that 100 tokens can carry the load; both
    /// sides run on it).
    fn throttle(&mut self) -> Result<Vec<Figure>> {
        let flags = self.server_flags(RAISED_LIMIT, RAISED_LIMIT);
        let server = self.start_server(flags.clone())?;
        self.notes
            .insert("server_b_flags".into(), serde_json::json!(flags.join(" ")));
        let many = self.lines.read_all_lines.len();
        println!("bench: throttle at scale: reads over 100 vs {many} distinct tokens");
        let read_100 = self.lines.read_100.clone();
        let read_all = self.lines.read_all.clone();
        let run = self.plan.run;
        self.sweep_tokens(&server)?;
        let (mut few, mut lots) = (Vec::new(), Vec::new());
        // Two more rounds than elsewhere: this figure is a small difference
        // of two noisy throughputs (±15 % between 15 s runs on this box).
        let rounds = if self.plan.rounds > 1 {
            self.plan.rounds + 2
        } else {
            1
        };
        for round in 1..=rounds {
            let name = format!("read 100 tokens #{round}");
            let c = Closed::get("throttle", &name, &read_100, run);
            few.push(self.closed(&server, c, false)?.rps);
            let name = format!("read {many} tokens #{round}");
            let c = Closed {
                shared: true,
                ..Closed::get("throttle", &name, &read_all, run)
            };
            lots.push(self.closed(&server, c, false)?.rps);
        }
        // Each round's pair ran back to back, so its ratio cancels the slow
        // drift of a shared box; the median of the pairs ignores one stall.
        let mut overheads: Vec<f64> = few
            .iter()
            .zip(&lots)
            .map(|(f, l)| (ratio(*f, *l) - 1.0) * 100.0)
            .collect();
        let per_round: Vec<f64> = overheads.iter().map(|o| report::round(*o, 1)).collect();
        let overhead = median(&mut overheads);
        let (few_rps, lots_rps) = (median(&mut few), median(&mut lots));
        self.notes.insert(
            "throttle".into(),
            serde_json::json!({
                "few_tokens": 100,
                "many_tokens": many,
                "few_rps": report::round(few_rps, 1),
                "many_rps": report::round(lots_rps, 1),
                "overhead_pct_per_round": per_round,
                "overhead_pct_of_medians": report::round((ratio(few_rps, lots_rps) - 1.0) * 100.0, 1),
                "per_token_limit_raised_to": RAISED_LIMIT,
            }),
        );
        Ok(vec![Figure {
            key: "throttle_100k_overhead_pct",
            value: overhead,
            unit: "%",
            target: Some(Target::AtMost(10.0)),
        }])
    }

    /// Captures the statements one read request issues and turns them
    /// into the pgbench script (see `bench/pgbench.rs`).
    fn capture_pgbench_script(&mut self, server: &Server) -> Result<String> {
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
        let hash = format!(
            "\\x{}",
            anitrack_server::auth::token::TokenHash::of(&token)
                .0
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let log = self
            .cluster
            .data_dir()
            .parent()
            .context("data directory without parent")?
            .join("postgres.log");
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
    fn pgbench_run(&mut self, script: &Path, round: usize) -> Result<Stats> {
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

    fn finish(self, root: &Path, figures: &[Figure], started: Instant) -> Result<()> {
        let (commit, dirty) = sys::git_commit(root);
        let mut json = report::figures_json(figures);
        json.insert("targets".into(), report::targets_json(figures));
        json.insert(
            "mode".into(),
            serde_json::json!(if self.plan.quick { "quick" } else { "full" }),
        );
        json.insert(
            "date".into(),
            serde_json::json!(chrono::Utc::now().to_rfc3339()),
        );
        json.insert("commit".into(), serde_json::json!(commit));
        json.insert("work_tree_dirty".into(), serde_json::json!(dirty));
        json.insert("machine".into(), sys::machine(&self.pgbench));
        json.insert("seed".into(), self.data.sizes.to_json());
        json.insert(
            "plan".into(),
            serde_json::json!({
                "run_seconds": self.plan.run.as_secs(),
                "warm_up_seconds": self.plan.warm.as_secs(),
                "rounds": self.plan.rounds,
                "http_connections": CONNECTIONS,
                "db_pool_size": POOL_SIZE,
                "pgbench_clients": POOL_SIZE,
            }),
        );
        json.insert("notes".into(), serde_json::Value::Object(self.notes));
        json.insert(
            "runs".into(),
            serde_json::Value::Array(self.runs.iter().map(Run::to_json).collect()),
        );
        json.insert(
            "elapsed_seconds".into(),
            serde_json::json!(report::round(started.elapsed().as_secs_f64(), 1)),
        );
        let path = self.dir.join("results.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&serde_json::Value::Object(json))?,
        )
        .with_context(|| format!("writing {}", path.display()))?;

        println!();
        print!("{}", report::runs_table(&self.runs));
        println!(
            "(srv/pg/gen µs: CPU per successful request of the server, PostgreSQL and the load generator; other: cores used by the rest of the machine)"
        );
        println!();
        print!("{}", report::figures_table(figures));
        println!();
        println!(
            "bench: done in {:.0} s; wrote {}",
            started.elapsed().as_secs_f64(),
            path.display()
        );
        Ok(())
    }
}
