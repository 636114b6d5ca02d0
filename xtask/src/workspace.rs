//! Paths inside the workspace.

use std::path::PathBuf;

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else `target/` here.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Writes `content` to `path` only if it differs, so unchanged files keep
/// their timestamps (and cargo does not rebuild for nothing).
pub fn write_if_changed(path: &std::path::Path, content: &str) -> anyhow::Result<bool> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(false);
    }
    std::fs::write(path, content)?;
    Ok(true)
}

/// Writes a generated file (`relative` to the root) if it changed, and
/// says whether it did.
pub fn write_generated(relative: &str, content: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let path = root().join(relative);
    let changed =
        write_if_changed(&path, content).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "{} {}",
        if changed { "wrote" } else { "unchanged" },
        path.display()
    );
    Ok(())
}

/// A short unified diff, for staleness errors.
pub fn diff_summary(old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff.unified_diff().context_radius(2).to_string();
    let mut lines: Vec<&str> = text.lines().take(60).collect();
    if text.lines().count() > 60 {
        lines.push("...");
    }
    lines.join("\n")
}

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
