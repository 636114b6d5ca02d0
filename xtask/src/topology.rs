//! `cargo xtask topology [--direct]`: builds the server (debug) and runs
//! `anitrack-topology` (xtask/topology): a primary and a synchronous
//! streaming standby, PgBouncer in transaction mode in front of each, two
//! instances on a multi-host URL, the seed's flows through both, then a
//! crash of the primary mid-writes and a promotion, checked and measured
//! (docs/reliability.md). `cargo xtask conformance` runs it too.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::workspace;

#[derive(clap::Args)]
pub struct Args {
    /// Point the instances' multi-host URL at the two PostgreSQL servers
    /// themselves instead of a PgBouncer in front of each.
    #[arg(long)]
    pub direct: bool,
    /// Writer loops per instance, each with an account of its own.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub writers: usize,
    /// How long the writers run before the primary is killed, in
    /// milliseconds.
    #[arg(long, default_value_t = 1500, value_name = "MS")]
    pub kill_after_ms: u64,
}

pub fn run(args: Args) -> Result<()> {
    // Ctrl-C reaches the servers and PgBouncers (same process group) at
    // once; staying alive lets the run fail on its own and stop the
    // clusters, which pg_ctl put in sessions of their own.
    ctrlc::set_handler(|| {}).context("installing the Ctrl-C handler")?;
    prepare(args.direct)?;
    build_server()?;
    run_topology(&args).map(drop)
}

/// PostgreSQL, and PgBouncer unless `direct`: installed with apt-get as
/// root, else the command to run.
fn prepare(direct: bool) -> Result<()> {
    crate::install::ensure_postgresql("topology")?;
    if !direct {
        crate::install::ensure_pgbouncer("topology")?;
    }
    Ok(())
}

fn build_server() -> Result<()> {
    println!("topology: building anitrack-server (debug)");
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--package", "anitrack-server"])
            .current_dir(workspace::root())
            .status()
            .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --package anitrack-server failed ({status})");
    }
    Ok(())
}

/// The default run, for `cargo xtask bench`: its figures as JSON (also
/// left in `target/topology/results.json`).
pub fn run_for_figures() -> Result<serde_json::Value> {
    prepare(false)?;
    build_server()?;
    let args = Args {
        direct: false,
        writers: 2,
        kill_after_ms: 1500,
    };
    run_topology(&args)?;
    let file = results_file();
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))
}

fn results_file() -> std::path::PathBuf {
    workspace::target_dir()
        .join("topology")
        .join("results.json")
}

fn run_topology(args: &Args) -> Result<anitrack_topology::Report> {
    let root = workspace::root();
    anitrack_topology::run(&anitrack_topology::Options {
        direct: args.direct,
        writers_per_instance: args.writers.max(1),
        writes_before_kill: Duration::from_millis(args.kill_after_ms),
        demo_catalog: root
            .join("server")
            .join("catalog")
            .join("demo-anilist.json"),
        results_file: Some(results_file()),
    })
}

/// The conformance step: through PgBouncer, with the defaults; the server
/// is built by then.
pub fn step() -> Result<()> {
    prepare(false)?;
    run_topology(&Args {
        direct: false,
        writers: 2,
        kill_after_ms: 1500,
    })
    .map(drop)
}
