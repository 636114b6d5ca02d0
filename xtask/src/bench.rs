//! `cargo xtask bench [--quick] [--hold] [--hash-concurrency N]`: builds the
//! release server and the bench (`xtask/bench`, package `anitrack-bench`)
//! and runs the bench on it. What it measures is in `docs/benchmarks.md`.

use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::workspace;

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
    /// Pass `--hash-concurrency N` to the server (an experiment knob for
    /// the login storm; default: the server's own default).
    #[arg(long, value_name = "N")]
    pub hash_concurrency: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    let root = workspace::root();
    crate::install::ensure_postgresql("bench")?;
    crate::install::ensure_pgbouncer("bench")?;
    crate::install::ensure_debian_packages("bench", "wrk", &["wrk"], || {
        Command::new("wrk")
            .arg("-v")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("wrk"))
    })?;
    // Two invocations, not one: the server is built exactly as
    // `cargo build --release -p anitrack-server` builds it, its
    // dependencies' features not unified with the bench's.
    cargo(&root, &["build", "--release", "-p", "anitrack-server"])?;
    let server_bin = workspace::target_dir()
        .join("release")
        .join("anitrack-server");
    // Release too: the open-loop client runs inside the bench and is part
    // of the load generator, so it must not be the bottleneck.
    let mut bench = vec![
        "run".to_owned(),
        "--release".to_owned(),
        "-p".to_owned(),
        "anitrack-bench".to_owned(),
        "--".to_owned(),
        "--server-bin".to_owned(),
        server_bin.to_string_lossy().into_owned(),
    ];
    if args.quick {
        bench.push("--quick".to_owned());
    }
    if args.hold {
        bench.push("--hold".to_owned());
    }
    if let Some(n) = args.hash_concurrency {
        bench.extend(["--hash-concurrency".to_owned(), n.to_string()]);
    }
    let bench: Vec<&str> = bench.iter().map(String::as_str).collect();
    cargo(&root, &bench)?;
    if args.hold {
        return Ok(());
    }
    failover_gap()
}

/// The failover figure: `cargo xtask topology`'s run (the primary killed
/// mid-writes, its standby promoted, through PgBouncer), its figures merged
/// into `target/bench/results.json` as `failover` and `failover_gap_s`
/// (the longer of the two instances' gaps).
fn failover_gap() -> Result<()> {
    println!("bench: failover: cargo xtask topology's run, for the gap");
    let report = crate::topology::run_for_figures()?;
    let results = workspace::target_dir().join("bench").join("results.json");
    let text = std::fs::read_to_string(&results)
        .with_context(|| format!("reading {}", results.display()))?;
    let mut json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", results.display()))?;
    let gap = report
        .get("instances")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("gap_s").and_then(serde_json::Value::as_f64))
        .fold(None, |max: Option<f64>, g| {
            Some(max.map_or(g, |m| m.max(g)))
        });
    let lost = report.get("acknowledged_writes_lost").cloned();
    if let Some(object) = json.as_object_mut() {
        object.insert("failover_gap_s".into(), serde_json::json!(gap));
        object.insert("failover".into(), report);
    }
    std::fs::write(&results, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", results.display()))?;
    println!(
        "bench: failover gap {} s (the longer instance's), acknowledged writes lost: {}; \
         added to {}",
        gap.map_or_else(|| "unknown".to_string(), |g| format!("{g:.3}")),
        lost.map_or_else(|| "unknown".to_string(), |l| l.to_string()),
        results.display()
    );
    Ok(())
}

fn cargo(root: &std::path::Path, args: &[&str]) -> Result<()> {
    println!("bench: cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(root)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
