//! The npm tools run on the published document, as integrators run them:
//! Redocly's and Spectral's linters (`cargo xtask openapi lint`) and
//! openapi-typescript with the TypeScript compiler (`cargo xtask openapi
//! typescript`).
//!
//! They are pinned in xtask/npm/package-lock.json and installed by `npm ci`
//! into xtask/npm/node_modules (git-ignored; never a global install),
//! again only when the lockfile changed since. Node.js and npm come from
//! apt when missing and we are root; otherwise the error names the command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::workspace;

/// The npm project, relative to the workspace root.
const NPM_DIR: &str = "xtask/npm";

/// The oldest Node.js every pinned tool supports (`engines` of
/// @redocly/cli in package-lock.json: `>=22.12.0 || >=20.19.0 <21`).
const NODE_MIN: (u32, u32) = (20, 19);

/// What `npm ci` was last run from, inside node_modules: `npm ci` runs
/// again whenever package-lock.json differs from it.
const STAMP: &str = "node_modules/.anitrack-package-lock.json";

fn npm_dir() -> PathBuf {
    workspace::root().join(NPM_DIR)
}

/// Where generated TypeScript goes: `target/typescript/`.
pub fn typescript_dir() -> PathBuf {
    workspace::target_dir().join("typescript")
}

/// `(major, minor)` of `node --version` (`v20.19.2`).
fn node_version() -> Option<(u32, u32)> {
    let output = Command::new("node").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn npm_present() -> bool {
    Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Node.js and npm, recent enough for the pinned tools.
fn ensure_node(who: &str) -> anyhow::Result<()> {
    crate::install::ensure_debian_packages(who, "Node.js and npm", &["nodejs", "npm"], || {
        node_version().is_some() && npm_present()
    })?;
    let (major, minor) = node_version().context("`node --version` says nothing")?;
    if (major, minor) < NODE_MIN {
        bail!(
            "Node.js {major}.{minor} is installed; the pinned linters need {}.{} or later \
             (Debian 12's own nodejs is 18): install Node.js 20 or 22 LTS, e.g. from \
             https://nodejs.org/en/download or NodeSource \
             (`curl -fsSL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs`)",
            NODE_MIN.0,
            NODE_MIN.1
        );
    }
    Ok(())
}

/// Node.js and npm, then the pinned tools in xtask/npm/node_modules.
pub fn ensure_tools(who: &str) -> anyhow::Result<()> {
    ensure_node(who)?;
    let dir = npm_dir();
    let lock = std::fs::read_to_string(dir.join("package-lock.json"))
        .with_context(|| format!("reading {NPM_DIR}/package-lock.json"))?;
    let stamp = dir.join(STAMP);
    if std::fs::read_to_string(&stamp).is_ok_and(|installed| installed == lock) {
        return Ok(());
    }
    println!("{who}: installing the pinned npm tools: npm ci (in {NPM_DIR})");
    // Install scripts are not run: none of the tools needs one (a telemetry
    // package of Redocly's has one).
    let status = Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .context("running npm ci")?;
    if !status.success() {
        bail!("`npm ci` in {NPM_DIR} failed ({status})");
    }
    std::fs::write(&stamp, lock).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(())
}

/// A tool from node_modules/.bin, run in xtask/npm with the telemetry and
/// update checks off.
fn tool(name: &str) -> Command {
    let dir = npm_dir();
    let mut command = Command::new(dir.join("node_modules/.bin").join(name));
    command
        .current_dir(dir)
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true")
        .env("NO_UPDATE_NOTIFIER", "1");
    command
}

fn run(mut command: Command, what: &str) -> anyhow::Result<Output> {
    command.output().with_context(|| format!("running {what}"))
}

/// The committed document's path, absolute.
fn document() -> PathBuf {
    workspace::root().join(anitrack_spec::document::COMMITTED_PATH)
}

/// One linter finding, as printed.
struct Problem {
    severity: String,
    rule: String,
    pointer: String,
    message: String,
}

/// Redocly's problems (`--format=json`) under its recommended rules.
fn redocly(spec: &Path) -> anyhow::Result<Vec<Problem>> {
    let mut command = tool("redocly");
    command
        .args(["lint", "--extends", "recommended", "--format", "json"])
        .arg(spec);
    let output = run(command, "redocly lint")?;
    let report: Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "redocly lint printed no JSON report ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    let problems = report["problems"]
        .as_array()
        .context("redocly's report has no problems list")?;
    Ok(problems
        .iter()
        .map(|p| Problem {
            severity: p["severity"].as_str().unwrap_or("?").to_string(),
            rule: p["ruleId"].as_str().unwrap_or("?").to_string(),
            pointer: p["location"][0]["pointer"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            message: p["message"].as_str().unwrap_or("").to_string(),
        })
        .collect())
}

/// Spectral's problems (`--format json`) under `spectral:oas`
/// (xtask/npm/.spectral.yaml).
fn spectral(spec: &Path) -> anyhow::Result<Vec<Problem>> {
    let mut command = tool("spectral");
    command
        .args([
            "lint",
            "--ruleset",
            ".spectral.yaml",
            "--format",
            "json",
            "--quiet",
        ])
        .arg(spec);
    let output = run(command, "spectral lint")?;
    let text = String::from_utf8_lossy(&output.stdout);
    // Without problems Spectral prints `[]` (or, quiet, nothing at all).
    let report: Value = if text.trim().is_empty() {
        Value::Array(Vec::new())
    } else {
        serde_json::from_str(text.trim()).with_context(|| {
            format!(
                "spectral lint printed no JSON report ({}):\n{text}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        })?
    };
    let problems = report
        .as_array()
        .context("spectral's report is not a list")?;
    Ok(problems
        .iter()
        .map(|p| Problem {
            severity: match p["severity"].as_u64() {
                Some(0) => "error",
                Some(1) => "warning",
                Some(2) => "info",
                _ => "hint",
            }
            .to_string(),
            rule: p["code"].as_str().unwrap_or("?").to_string(),
            pointer: p["path"].as_array().map_or_else(String::new, |path| {
                let tokens: Vec<String> = path
                    .iter()
                    .map(|t| match t {
                        Value::String(s) => s.replace('~', "~0").replace('/', "~1"),
                        other => other.to_string(),
                    })
                    .collect();
                format!("#/{}", tokens.join("/"))
            }),
            message: p["message"].as_str().unwrap_or("").to_string(),
        })
        .collect())
}

/// `cargo xtask openapi lint`: both linters on spec/openapi.json; any
/// problem (warnings and hints included) fails.
pub fn lint() -> anyhow::Result<()> {
    ensure_tools("openapi lint")?;
    let spec = document();
    let mut failed = Vec::new();
    for (linter, problems) in [
        ("redocly (recommended)", redocly(&spec)?),
        ("spectral (spectral:oas)", spectral(&spec)?),
    ] {
        for p in &problems {
            println!(
                "openapi lint: {linter}: {} {} at {}: {}",
                p.severity, p.rule, p.pointer, p.message
            );
        }
        println!(
            "openapi lint: {linter}: {} problem{}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        if !problems.is_empty() {
            failed.push(linter);
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} found problems in {}",
            failed.join(" and "),
            anitrack_spec::document::COMMITTED_PATH
        );
    }
    Ok(())
}

/// `cargo xtask openapi typescript`: openapi-typescript's types for
/// spec/openapi.json in target/typescript/anitrack.d.ts, then `tsc
/// --noEmit --strict` on xtask/npm/usage.ts beside them.
pub fn typescript() -> anyhow::Result<()> {
    ensure_tools("openapi typescript")?;
    let out = typescript_dir();
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let types = out.join("anitrack.d.ts");
    let mut command = tool("openapi-typescript");
    command.arg(document()).arg("--output").arg(&types);
    let output = run(command, "openapi-typescript")?;
    if !output.status.success() {
        bail!(
            "openapi-typescript failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let usage = out.join("usage.ts");
    std::fs::copy(npm_dir().join("usage.ts"), &usage)
        .with_context(|| format!("copying {NPM_DIR}/usage.ts"))?;
    let mut command = tool("tsc");
    command
        .args([
            "--noEmit",
            "--strict",
            "--noUnusedLocals",
            "--noFallthroughCasesInSwitch",
            "--target",
            "es2022",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            "--pretty",
            "false",
        ])
        .arg(&usage);
    let output = run(command, "tsc")?;
    if !output.status.success() {
        bail!(
            "{NPM_DIR}/usage.ts does not type-check against the types generated from {} \
             (target/typescript/anitrack.d.ts):\n{}{}",
            anitrack_spec::document::COMMITTED_PATH,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    println!(
        "openapi typescript: {} generated; {NPM_DIR}/usage.ts type-checks against it",
        types.display()
    );
    Ok(())
}
