//! `anitrack-bench` (run by `cargo xtask bench [--quick]`): how fast
//! AniTrack is on this machine, measured as ratios taken side by side in
//! one run (absolute numbers on a shared 2-core box drift; ratios much
//! less).
//!
//! Self-contained: starts a private durable PostgreSQL, seeds it (see
//! `seed.rs`), starts the release `anitrack-server` on a free loopback
//! port, warms up, runs every scenario (`scenarios/`) and tears everything
//! down, also on error or Ctrl-C. Nothing leaves 127.0.0.1.
//!
//! It knows the server only from outside, as an operator or a client
//! would: its CLI as a process (`migrate`, `catalog import`, `user
//! create`, `token create`, `serve --help`) and its API over HTTP. It
//! links none of the server's code, so building it never builds the
//! server.
//!
//! Tools: `wrk` (closed loop, with a Lua script rotating bearer tokens),
//! `pgbench` (the database's ceiling for the same statements) and an
//! open-loop client in this process (fixed-rate runs, latency recorded in
//! an HDR histogram from each request's *scheduled* start).
//!
//! Output: a table, `target/bench/results.json`, and the progress lines
//! as it goes. `docs/benchmarks.md` explains every figure.

mod cli;
mod load;
mod pgbench;
mod plan;
mod report;
mod results;
mod rotation;
mod runner;
mod scenarios;
mod seed;
mod server;
mod sys;
mod tokens;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anitrack_pg::{PgBinaries, PgCluster};
use anyhow::{Context as _, Result, bail};
use clap::Parser;

use crate::plan::{DATABASE, Hashing, Plan};
use crate::rotation::Lines;
use crate::runner::Bench;

#[derive(Parser)]
#[command(
    name = "anitrack-bench",
    about = "AniTrack's benchmark: private PostgreSQL, seeded data, load from \
             wrk/pgbench/an open-loop client; writes target/bench/results.json \
             (run it with `cargo xtask bench`, which builds both release binaries)"
)]
struct Args {
    /// Smoke run: shorter runs, one round, 2,000 accounts (20,000 tokens)
    /// instead of 10,000 (100,000); under 2 minutes once the release build
    /// is up to date.
    #[arg(long)]
    quick: bool,
    /// Seed, start the server, print its URL, the database URL and tokens,
    /// then wait for Ctrl-C instead of running the scenarios (for
    /// profiling by hand: perf, EXPLAIN ANALYZE).
    #[arg(long)]
    hold: bool,
    /// Pass `--hash-concurrency N` to the server (an experiment knob for
    /// the login storm; default: the server's own default, read from
    /// `anitrack-server serve --help`).
    #[arg(long, value_name = "N")]
    hash_concurrency: Option<usize>,
    /// The server under test [default: the release build in the target
    /// directory].
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: this crate lives in `xtask/bench`.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
            .context("installing the Ctrl-C handler")?;
    }
    let root = workspace_root();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let server_bin = args
        .server_bin
        .unwrap_or_else(|| target_dir.join("release").join("anitrack-server"));
    if !server_bin.is_file() {
        bail!(
            "{} does not exist; `cargo xtask bench` builds it (cargo build --release -p anitrack-server)",
            server_bin.display()
        );
    }
    if cfg!(debug_assertions) {
        println!(
            "bench: warning: this is a debug build, and its open-loop client is part of the load \
             generator; `cargo xtask bench` runs the release build"
        );
    }
    let hashing = match args.hash_concurrency {
        Some(concurrency) => Hashing {
            concurrency,
            source: "--hash-concurrency",
        },
        None => Hashing {
            concurrency: cli::default_hash_concurrency(&server_bin)?,
            source: "server default (serve --help)",
        },
    };
    let plan = Plan::new(args.quick, hashing);
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
    require_wrk()?;
    let pgbench = find_pgbench()?;
    // A fresh server log per run (standard error only; see server.rs).
    std::fs::write(dir.join("server.log"), "")?;

    println!(
        "bench: starting a private PostgreSQL (durable: fsync, synchronous_commit and \
         full_page_writes on, as in production; loopback only)"
    );
    let cluster = PgCluster::start_temporary_durable()?;
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
    // The server closes a connection that sends no request for 30 s
    // (hyper's header-read timeout, which dropshot arms). This runtime only
    // runs inside `block_on`, so a pooled connection never sees that close
    // while the bench runs wrk or pgbench, and reusing it after a long
    // scenario fails ("connection closed before message completed"): idle
    // connections are dropped well before the server would close them.
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1024)
        .pool_idle_timeout(Duration::from_secs(10))
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

/// wrk must be there; `cargo xtask bench` installs it (as root) before
/// starting the bench.
fn require_wrk() -> Result<()> {
    let present = Command::new("wrk")
        .arg("-v")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("wrk"));
    if !present {
        bail!(
            "wrk is not installed; `cargo xtask bench` installs it as root, or run `apt-get install -y wrk`"
        );
    }
    Ok(())
}

fn find_pgbench() -> Result<PathBuf> {
    if let Ok(bins) = PgBinaries::find() {
        let candidate = bins.binary("pgbench");
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
