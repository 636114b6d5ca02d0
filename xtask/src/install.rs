//! Installing what a command needs on a fresh machine: Debian packages via
//! apt-get when we are root, otherwise the exact command to run.

use std::process::Command;

use anyhow::{Result, bail};

/// Whether this process runs as root (apt-get works without sudo).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|v| v.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false)
}

/// Makes sure `what` is available: `present` says whether it is; if not,
/// `packages` are installed with apt-get (as root), or the error names the
/// command that installs them. `who` prefixes the progress line.
pub fn ensure_debian_packages(
    who: &str,
    what: &str,
    packages: &[&str],
    present: impl Fn() -> bool,
) -> Result<()> {
    if present() {
        return Ok(());
    }
    let command = format!("apt-get install -y {}", packages.join(" "));
    if !is_root() {
        bail!("{what} is not installed; install it with `sudo {command}`");
    }
    println!("{who}: {what} not found; installing it: apt-get update && {command}");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut install = vec!["install", "-y", "-qq"];
    install.extend_from_slice(packages);
    // Try without `update` first: the package lists may be fresh already.
    if !(apt(&install) || apt(&["update", "-qq"]) && apt(&install)) || !present() {
        bail!("installing {what} failed; install it with `{command}`");
    }
    Ok(())
}

/// Whether `path` exists and is executable by someone.
pub fn is_executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// PostgreSQL's server binaries (initdb, pg_ctl, postgres, psql).
pub fn ensure_postgresql(who: &str) -> Result<()> {
    ensure_debian_packages(who, "PostgreSQL", &["postgresql"], || {
        anitrack_pg::PgBinaries::find().is_ok()
    })
}

/// PgBouncer (`cargo xtask topology`), Debian's package.
pub fn ensure_pgbouncer(who: &str) -> Result<()> {
    ensure_debian_packages(who, "PgBouncer", &["pgbouncer"], || {
        anitrack_pg::PgBouncer::binary().is_ok()
    })
}

/// rustup components (rustfmt, clippy) the lint steps run.
pub fn ensure_rustup_components(who: &str, components: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let missing: Vec<&str> = components
        .iter()
        .copied()
        .filter(|component| {
            let subcommand = if *component == "rustfmt" {
                "fmt"
            } else {
                component
            };
            !Command::new(&cargo)
                .args([subcommand, "--version"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let command = format!("rustup component add {}", missing.join(" "));
    println!(
        "{who}: {} not found; installing: {command}",
        missing.join(", ")
    );
    let installed = Command::new("rustup")
        .args(["component", "add"])
        .args(&missing)
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        bail!("installing {} failed; run `{command}`", missing.join(", "));
    }
    Ok(())
}
