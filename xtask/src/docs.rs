//! `cargo xtask docs vendor|check`: the renderer of the API reference
//! (`/docs`), vendored from npm so that a plain `cargo build` needs neither
//! npm nor the network.
//!
//! `vendor` takes the pinned version of the npm package with `npm pack`
//! into a temporary directory (no `package.json`, no `node_modules`, no
//! global install), copies the bundle and its licences into
//! `server/assets/docs/` and records the version, the tarball's integrity
//! and each file's SHA-256 in `server/assets/docs/vendor.json`. `check` (a
//! step of `cargo xtask conformance`, offline) fails when a vendored file no
//! longer has its recorded checksum, so nobody edits the bundle by hand,
//! or when the record is of another version than the pin below.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::workspace;

/// The renderer: Redoc, read-only and self-contained (see
/// `server/assets/docs/README.md` for why this one, and why 2.x).
pub const PACKAGE: &str = "redoc";
/// The pinned version. To move it: change it here, run `cargo xtask docs
/// vendor`, look at `/docs` (the conformance suite's `docs` area takes a
/// screenshot), commit the four files it wrote.
pub const VERSION: &str = "2.5.4";

/// Where the vendored files live, relative to the workspace root; the
/// server embeds them from there (server/src/web/respond.rs).
pub const DIR: &str = "server/assets/docs";
/// The record of what was vendored, in [`DIR`].
pub const MANIFEST: &str = "vendor.json";

/// (path in the npm tarball, file name in [`DIR`]).
const FILES: &[(&str, &str)] = &[
    ("package/bundles/redoc.standalone.js", "redoc.standalone.js"),
    (
        "package/bundles/redoc.standalone.js.LICENSE.txt",
        "redoc.standalone.js.LICENSE.txt",
    ),
    ("package/LICENSE", "LICENSE"),
];

#[derive(Subcommand)]
pub enum Action {
    /// Fetch the pinned Redoc from npm (`npm pack`) into server/assets/docs/
    /// and record its version and checksums.
    Vendor,
    /// Fail if a vendored file differs from its recorded checksum, or the
    /// record is not of the pinned version (offline; part of conformance).
    Check,
}

pub fn run(action: Action) -> anyhow::Result<()> {
    match action {
        Action::Vendor => vendor(),
        Action::Check => check(),
    }
}

fn dir() -> PathBuf {
    workspace::root().join(DIR)
}

fn npm_works() -> bool {
    Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

pub fn vendor() -> anyhow::Result<()> {
    crate::install::ensure_debian_packages("docs vendor", "npm", &["npm"], npm_works)?;
    let temp = tempfile::tempdir().context("creating a temporary directory")?;
    let spec = format!("{PACKAGE}@{VERSION}");
    println!("docs: npm pack {spec}");
    // In the temporary directory, with a cache of its own: nothing of the
    // user's npm setup is read or written but the registry it names.
    let out = Command::new("npm")
        .args(["pack", &spec, "--json", "--ignore-scripts", "--cache"])
        .arg(temp.path().join("cache"))
        .current_dir(temp.path())
        .output()
        .context("running npm pack")?;
    if !out.status.success() {
        bail!(
            "npm pack {spec} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let packed: Value =
        serde_json::from_slice(&out.stdout).context("reading npm pack's JSON output")?;
    let packed = &packed[0];
    let (Some(filename), Some(integrity), Some(version)) = (
        packed["filename"].as_str(),
        packed["integrity"].as_str(),
        packed["version"].as_str(),
    ) else {
        bail!("npm pack's output lacks filename, integrity or version: {packed}");
    };
    if version != VERSION {
        bail!("npm pack gave {PACKAGE} {version}, not the pinned {VERSION}");
    }
    let previous = read_manifest().ok();
    if let Some(recorded) = previous
        .as_ref()
        .filter(|m| m["version"] == VERSION)
        .and_then(|m| m["integrity"].as_str())
        && recorded != integrity
    {
        bail!(
            "the registry's tarball of {spec} is not the one vendored before \
             (integrity {integrity}, recorded {recorded}); refusing to replace it"
        );
    }
    let unpacked = temp.path().join("unpacked");
    std::fs::create_dir_all(&unpacked)?;
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(temp.path().join(filename))
        .arg("-C")
        .arg(&unpacked)
        .args(FILES.iter().map(|(inside, _)| *inside))
        .status()
        .context("running tar")?;
    if !status.success() {
        bail!("extracting {filename} failed ({status})");
    }
    let dir = dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut checksums = BTreeMap::new();
    for (inside, name) in FILES {
        let bytes = std::fs::read(unpacked.join(inside))
            .with_context(|| format!("{inside} is missing from {filename}"))?;
        write_bytes_if_changed(&dir.join(name), &bytes)?;
        checksums.insert(name.to_string(), workspace::sha256_hex(&bytes));
        println!("docs: {DIR}/{name} ({} bytes)", bytes.len());
    }
    let manifest = json!({
        "package": PACKAGE,
        "version": VERSION,
        "integrity": integrity,
        "sha256": checksums,
    });
    let mut text = serde_json::to_string_pretty(&manifest)?;
    text.push('\n');
    workspace::write_if_changed(&dir.join(MANIFEST), &text)?;
    println!("docs: vendored {spec} (integrity {integrity}); recorded in {DIR}/{MANIFEST}");
    Ok(())
}

fn write_bytes_if_changed(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn read_manifest() -> anyhow::Result<Value> {
    let path = dir().join(MANIFEST);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

pub fn check() -> anyhow::Result<()> {
    let manifest = read_manifest()?;
    check_against(&manifest, &dir())?;
    println!("docs: {PACKAGE} {VERSION} in {DIR} matches {MANIFEST}");
    Ok(())
}

/// The files in `dir` against the record `manifest`.
fn check_against(manifest: &Value, dir: &Path) -> anyhow::Result<()> {
    if manifest["package"] != PACKAGE || manifest["version"] != VERSION {
        bail!(
            "{DIR}/{MANIFEST} records {} {}, but the pin is {PACKAGE} {VERSION}: \
             run `cargo xtask docs vendor`",
            manifest["package"],
            manifest["version"]
        );
    }
    let mut wrong = Vec::new();
    for (_, name) in FILES {
        let recorded = manifest["sha256"][name].as_str().unwrap_or("(none)");
        let actual = match std::fs::read(dir.join(name)) {
            Ok(bytes) => workspace::sha256_hex(&bytes),
            Err(_) => "(missing)".to_string(),
        };
        if actual != recorded {
            wrong.push(format!("{name}: sha256 {actual}, recorded {recorded}"));
        }
    }
    if !wrong.is_empty() {
        bail!(
            "the vendored {PACKAGE} differs from what `cargo xtask docs vendor` wrote \
             (vendored files are never edited by hand; run it again to restore them):\n  {}",
            wrong.join("\n  ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_for(dir: &Path) -> Value {
        let sums: BTreeMap<&str, String> = FILES
            .iter()
            .map(|(_, name)| {
                (
                    *name,
                    workspace::sha256_hex(&std::fs::read(dir.join(name)).unwrap()),
                )
            })
            .collect();
        json!({"package": PACKAGE, "version": VERSION, "sha256": sums})
    }

    #[test]
    fn a_hand_edited_or_missing_file_or_another_version_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        for (_, name) in FILES {
            std::fs::write(temp.path().join(name), format!("{name} as vendored")).unwrap();
        }
        let manifest = manifest_for(temp.path());
        check_against(&manifest, temp.path()).unwrap();

        let bundle = temp.path().join(FILES[0].1);
        std::fs::write(&bundle, "edited by hand").unwrap();
        let error = check_against(&manifest, temp.path()).unwrap_err();
        assert!(error.to_string().contains(FILES[0].1), "{error}");
        std::fs::remove_file(&bundle).unwrap();
        let error = check_against(&manifest, temp.path()).unwrap_err();
        assert!(error.to_string().contains("(missing)"), "{error}");

        let mut other = manifest.clone();
        other["version"] = json!("0.0.1");
        let error = check_against(&other, temp.path()).unwrap_err();
        assert!(error.to_string().contains("docs vendor"), "{error}");
    }

    #[test]
    fn the_committed_vendored_files_match_their_record() {
        check().unwrap();
    }
}
