//! `cargo xtask conformance`: the single command CI runs.
//!
//! Steps, each reported on one line: formatting, clippy, the committed
//! document and client are current, the server builds, then every test of
//! the workspace (unit tests and the conformance suite against live servers)
//! with one private PostgreSQL cluster shared by all test processes. Ends
//! with `N passed, M failed` counted over all tests.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anitrack_conformance::harness::{ADMIN_URL_ENV, SERVER_BIN_ENV};
use anitrack_conformance::pg::PgCluster;
use anyhow::{Context, bail};

use crate::{client, openapi, workspace};

#[derive(clap::Args)]
pub struct Args {
    /// Skip `cargo fmt --check` and clippy (for a quick local run).
    #[arg(long)]
    pub skip_lints: bool,
    /// Only run tests whose name contains this filter.
    pub filter: Option<String>,
}

struct Tally {
    passed: u64,
    failed: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = workspace::root();
    let mut failures: Vec<String> = Vec::new();
    let mut step = |name: &str, result: anyhow::Result<()>| match result {
        Ok(()) => println!("conformance: {name}: ok"),
        Err(error) => {
            println!("conformance: {name}: FAILED\n{error:#}");
            failures.push(name.to_string());
        }
    };

    if !args.skip_lints {
        step("fmt", cargo(&root, &["fmt", "--all", "--check"]));
        step(
            "clippy",
            cargo(
                &root,
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            ),
        );
    }
    step("openapi document current", openapi::check());
    step("generated client current", client::check());
    step(
        "v1 additive-only (baseline spec/baseline/v1.json)",
        crate::compat::check_default(),
    );

    let build = cargo(&root, &["build", "--package", "anitrack-server"]);
    let built = build.is_ok();
    step("server builds", build);
    if !built {
        bail!("0 passed, 1 failed: the server does not build");
    }

    let started = Instant::now();
    println!("conformance: starting a private PostgreSQL cluster");
    let cluster = PgCluster::start_temporary().context("starting PostgreSQL for the tests")?;
    let tally = run_tests(&root, &cluster, args.filter.as_deref());
    drop(cluster);
    let tally = tally?;
    println!(
        "conformance: tests: {} passed, {} failed ({:.0?})",
        tally.passed,
        tally.failed,
        started.elapsed()
    );
    if tally.failed > 0 {
        failures.push("tests".to_string());
    }

    println!("{} passed, {} failed", tally.passed, tally.failed);
    if !failures.is_empty() {
        bail!("conformance failed: {}", failures.join(", "));
    }
    Ok(())
}

fn cargo(root: &std::path::Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} exited with {status}", args.join(" "));
    }
    Ok(())
}

/// Runs `cargo test --workspace`, echoing its output and counting results.
fn run_tests(
    root: &std::path::Path,
    cluster: &PgCluster,
    filter: Option<&str>,
) -> anyhow::Result<Tally> {
    let server_bin = root.join("target").join("debug").join("anitrack-server");
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .args(["test", "--workspace", "--no-fail-fast"])
        .current_dir(root)
        .env(ADMIN_URL_ENV, cluster.url("postgres"))
        .env(SERVER_BIN_ENV, &server_bin)
        // Snapshots are reviewed like code: never write them during a gate run.
        .env("INSTA_UPDATE", "no")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // --show-output: the fault-injection tests print what they measured.
    command.args(["--", "--show-output"]);
    if let Some(filter) = filter {
        command.arg(filter);
    }
    let mut child = command.spawn().context("running cargo test")?;
    let stdout = child.stdout.take().context("cargo test stdout")?;
    let mut tally = Tally {
        passed: 0,
        failed: 0,
    };
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some((passed, failed)) = parse_result_line(&line) {
            tally.passed += passed;
            tally.failed += failed;
        }
    }
    let status = child.wait()?;
    if !status.success() && tally.failed == 0 {
        // A test binary that failed to build or crashed reports no counts.
        tally.failed += 1;
    }
    Ok(tally)
}

/// `test result: ok. 12 passed; 0 failed; ...` → (12, 0).
fn parse_result_line(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let count = |word: &str| -> Option<u64> {
        rest.split(';')
            .map(str::trim)
            .find_map(|part| {
                part.rsplit_once(' ')
                    .filter(|(_, w)| *w == word)
                    .map(|(n, _)| n)
            })
            .and_then(|n| n.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
    };
    Some((count("passed")?, count("failed")?))
}

#[cfg(test)]
mod tests {
    use super::parse_result_line;

    #[test]
    fn reads_cargo_test_result_lines() {
        assert_eq!(
            parse_result_line(
                "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.08s"
            ),
            Some((12, 0))
        );
        assert_eq!(
            parse_result_line("test result: FAILED. 29 passed; 5 failed; 0 ignored; 0 measured"),
            Some((29, 5))
        );
        assert_eq!(parse_result_line("running 3 tests"), None);
    }
}
