//! `cargo xtask conformance`: the single command CI runs.
//!
//! Steps, each reported on one line: formatting, clippy, the dependencies'
//! licenses, bans and sources (cargo-deny), the committed document and client
//! are current, the document is additive-only over v1 and its changes are
//! summarised in docs/api-changes.md, lints clean under
//! Redocly's and Spectral's rules and gives TypeScript types an integrator's
//! code type-checks against, the vendored renderer of `/docs` is as
//! vendored, the server and the example mirror build, then every test of
//! the workspace (unit tests and the conformance suite against live servers)
//! with one private PostgreSQL cluster shared by all test processes, and
//! `cargo xtask topology` (through PgBouncer) as one more test. Ends with
//! `N passed, M failed` counted over all tests.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anitrack_conformance::harness::{ADMIN_URL_ENV, EXAMPLES_DIR_ENV, SERVER_BIN_ENV};
use anitrack_pg::PgCluster;
use anyhow::{Context, bail};

use crate::{client, deny, docs, openapi, workspace};

#[derive(clap::Args)]
pub struct Args {
    /// Skip `cargo fmt --check` and clippy (for a quick local run).
    #[arg(long)]
    pub skip_lints: bool,
    /// Only run tests whose name contains this filter.
    pub filter: Option<String>,
}

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    /// Per area: the first segment of a test's path (`auth`, `list`, ...).
    areas: std::collections::BTreeMap<String, (u64, u64)>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
    }
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
        step(
            "rustfmt and clippy",
            crate::install::ensure_rustup_components("conformance", &["rustfmt", "clippy"]),
        );
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
    // Not skipped with --skip-lints: it takes a second once cargo-deny is
    // installed, and it installs it, which xtask's own tests then need.
    step(
        "dependencies (cargo deny: licenses, bans, sources)",
        deny::step(),
    );
    step("openapi document current", openapi::check());
    step("generated client current", client::check());
    step(
        "v1 additive-only (baseline spec/baseline/v1.json)",
        openapi::compat_with_baseline(),
    );
    step(
        "API changes recorded (docs/api-changes.md)",
        crate::api_changes::check(),
    );
    step(
        "vendored API reference renderer (server/assets/docs)",
        docs::check(),
    );
    // Not skipped with --skip-lints: they check the contract, not the code
    // style, and take seconds once `npm ci` has run (the first run installs).
    step(
        "document lints clean (Redocly recommended, Spectral oas)",
        crate::npm::lint(),
    );
    step(
        "TypeScript types generate and type-check",
        crate::npm::typescript(),
    );

    let build = cargo(&root, &["build", "--package", "anitrack-server"]);
    let built = build.is_ok();
    step("server builds", build);
    if !built {
        bail!("0 passed, 1 failed: the server does not build");
    }
    // The suite runs the client's examples as real processes: the mirror
    // (and kills it), the README's example as written.
    step(
        "client examples build",
        cargo(
            &root,
            &["build", "--package", "anitrack-client", "--examples"],
        ),
    );

    step(
        "PostgreSQL",
        crate::install::ensure_postgresql("conformance"),
    );
    // Before the unit tests: anitrack-pg's own test drives one too.
    step("PgBouncer", crate::install::ensure_pgbouncer("conformance"));
    // The settings page's tests drive a real browser.
    step(
        "browser (chromium, chromium-driver)",
        crate::install::ensure_debian_packages(
            "conformance",
            "headless Chromium and its WebDriver",
            &["chromium", "chromium-driver"],
            || {
                crate::install::is_executable("/usr/bin/chromium")
                    && crate::install::is_executable("/usr/bin/chromedriver")
            },
        ),
    );

    let started = Instant::now();
    println!("conformance: starting a private PostgreSQL cluster");
    let cluster = PgCluster::start_temporary().context("starting PostgreSQL for the tests")?;
    // Unit tests of every crate first, then the suite against live servers,
    // so that each reports on its own lines.
    let units = run_tests(
        &root,
        &cluster,
        &["--workspace", "--exclude", "anitrack-conformance"],
        args.filter.as_deref(),
    );
    let suite = units.and_then(|units| {
        run_tests(
            &root,
            &cluster,
            &["--package", "anitrack-conformance"],
            args.filter.as_deref(),
        )
        .map(|s| (units, s))
    });
    drop(cluster);
    let (units, suite) = suite?;
    println!(
        "conformance: unit tests: {} passed, {} failed",
        units.passed, units.failed
    );
    for (area, (passed, failed)) in &suite.areas {
        println!("conformance: area {area}: {passed} passed, {failed} failed");
    }
    let mut tally = Tally::default();
    tally.add(units);
    tally.add(suite);
    println!(
        "conformance: tests: {} passed, {} failed ({:.0?})",
        tally.passed,
        tally.failed,
        started.elapsed()
    );
    let tests_failed = tally.failed > 0;

    // Scale-out, run for real: PgBouncer in transaction mode, a synchronous
    // standby, two instances, the primary killed mid-writes (xtask/topology).
    // A filter runs it only if it names it.
    if args
        .filter
        .as_deref()
        .is_none_or(|f| "topology".contains(f))
    {
        let topology_started = Instant::now();
        let topology = crate::topology::step();
        match &topology {
            Ok(()) => tally.passed += 1,
            Err(_) => tally.failed += 1,
        }
        step(
            &format!(
                "topology (failover through PgBouncer, {:.0?})",
                topology_started.elapsed()
            ),
            topology,
        );
    }
    if tests_failed {
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
    packages: &[&str],
    filter: Option<&str>,
) -> anyhow::Result<Tally> {
    let server_bin = workspace::target_dir()
        .join("debug")
        .join("anitrack-server");
    let examples_dir = workspace::target_dir().join("debug").join("examples");
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .args(["test", "--no-fail-fast"])
        .args(packages)
        .current_dir(root)
        .env(ADMIN_URL_ENV, cluster.url("postgres"))
        .env(SERVER_BIN_ENV, &server_bin)
        .env(EXAMPLES_DIR_ENV, &examples_dir)
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
    let mut tally = Tally::default();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some((passed, failed)) = parse_result_line(&line) {
            tally.passed += passed;
            tally.failed += failed;
        }
        if let Some((area, ok)) = parse_test_line(&line) {
            let entry = tally.areas.entry(area).or_default();
            if ok { entry.0 += 1 } else { entry.1 += 1 }
        }
    }
    let status = child.wait()?;
    if !status.success() && tally.failed == 0 {
        // A test binary that failed to build or crashed reports no counts.
        tally.failed += 1;
    }
    Ok(tally)
}

/// `test auth::issuing_a_token ... ok` → ("auth", true); ignored tests and
/// other lines → None.
fn parse_test_line(line: &str) -> Option<(String, bool)> {
    let rest = line.strip_prefix("test ")?;
    let (name, outcome) = rest.rsplit_once(" ... ")?;
    let ok = match outcome.trim() {
        "ok" => true,
        "FAILED" => false,
        _ => return None,
    };
    let area = name.split("::").next().unwrap_or(name).trim().to_string();
    Some((area, ok))
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
    fn reads_test_lines_by_area() {
        assert_eq!(
            super::parse_test_line("test auth::issuing_a_token ... ok"),
            Some(("auth".into(), true))
        );
        assert_eq!(
            super::parse_test_line("test list::x::y ... FAILED"),
            Some(("list".into(), false))
        );
        assert_eq!(
            super::parse_test_line("test faults::slow ... ignored"),
            None
        );
        assert_eq!(
            super::parse_test_line("test result: ok. 1 passed; 0 failed"),
            None
        );
    }

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
