//! The dependency step of `cargo xtask conformance`: cargo-deny's licenses,
//! bans and sources checks with `.cargo/deny.toml`, run offline.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};

use crate::workspace;

/// The cargo-deny a machine without one gets. `.cargo/deny.toml` is written
/// against this version's schema, so bump both together.
pub const VERSION: &str = "0.20.2";

/// Installs cargo-deny if this machine lacks it, then checks the workspace.
pub fn step() -> anyhow::Result<()> {
    let installed = ensure_installed()?;
    let result = check(&workspace::root().join("Cargo.toml"));
    if installed != VERSION {
        // Another version may read the config differently.
        return result.with_context(|| {
            format!(
                "cargo-deny {installed} is installed but the gate pins {VERSION}: {} --force",
                install_command()
            )
        });
    }
    result
}

/// How to get the pinned cargo-deny by hand.
pub fn install_command() -> String {
    format!("cargo install --locked cargo-deny --version {VERSION}")
}

/// Checks licenses, bans and sources of the crate graph of `manifest`
/// against our config; the error carries cargo-deny's report.
pub fn check(manifest: &Path) -> anyhow::Result<()> {
    // cargo-deny reads every crate's manifest through `cargo metadata`, so the
    // crates must be on disk. Fetching them (from crates.io, like any build,
    // for the config's target only; nothing to do once the workspace has been
    // built) is split off so that the check itself can run with --offline,
    // which keeps cargo-deny off the network entirely.
    let fetch = cargo_deny(manifest, &["fetch", "index"])?;
    if !fetch.status.success() {
        bail!(
            "fetching the crates to check failed:\n{}",
            String::from_utf8_lossy(&fetch.stderr).trim_end()
        );
    }
    let output = cargo_deny(
        manifest,
        &["--offline", "check", "licenses", "bans", "sources"],
    )?;
    if !output.status.success() {
        bail!(
            "cargo deny found a problem ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    Ok(())
}

/// `cargo deny --version`'s version, or None when cargo-deny is missing.
pub fn installed_version() -> Option<String> {
    let output = cargo().args(["deny", "--version"]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    // "cargo-deny 0.20.2"
    let text = String::from_utf8_lossy(&output.stdout);
    Some(
        text.split_whitespace()
            .last()
            .unwrap_or_default()
            .to_string(),
    )
}

fn ensure_installed() -> anyhow::Result<String> {
    if let Some(version) = installed_version() {
        return Ok(version);
    }
    println!(
        "conformance: installing cargo-deny {VERSION} for the dependency check \
         (`cargo deny --version` failed: not on this machine); \
         building it takes a few minutes (3 to 4 on 2 cores)"
    );
    let output = cargo()
        .args(["install", "--locked", "cargo-deny", "--version", VERSION])
        .output()
        .context("running cargo install cargo-deny")?;
    if !output.status.success() {
        bail!(
            "`{}` failed ({}):\n{}",
            install_command(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    installed_version().context(
        "cargo-deny was installed but `cargo deny --version` still fails: \
         is $CARGO_HOME/bin on PATH?",
    )
}

/// `cargo deny` with the options every run shares.
fn cargo_deny(manifest: &Path, args: &[&str]) -> anyhow::Result<Output> {
    cargo()
        .arg("deny")
        // Errors only: the duplicate-version warnings (`multiple-versions =
        // "warn"`) would otherwise bury the one line that matters.
        .args(["--log-level", "error", "--color", "never"])
        // Cargo.lock is what gets checked, so it must not be rewritten.
        .arg("--locked")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--config")
        .arg(config())
        .args(args)
        .current_dir(workspace::root())
        .output()
        .context("running cargo deny")
}

fn config() -> PathBuf {
    workspace::root().join(".cargo").join("deny.toml")
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn require_cargo_deny() {
        assert!(
            installed_version().is_some(),
            "cargo-deny is not installed: run `{}` \
             (`cargo xtask conformance` installs it before it runs the tests)",
            install_command()
        );
    }

    #[test]
    fn rejects_a_license_we_do_not_allow() {
        require_cargo_deny();
        let fixture = workspace::root().join("xtask/tests/fixtures/gpl-licensed/Cargo.toml");
        let error = check(&fixture).expect_err("a GPL-3.0-only crate must fail the check");
        let report = format!("{error:#}");
        assert!(
            report.contains("licenses FAILED") && report.contains("GPL-3.0-only"),
            "failed, but not on the license:\n{report}"
        );
    }

    #[test]
    fn accepts_the_workspace() {
        require_cargo_deny();
        check(&workspace::root().join("Cargo.toml")).expect("the workspace passes cargo deny");
    }
}
