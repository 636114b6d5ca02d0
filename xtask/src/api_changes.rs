//! `cargo xtask openapi changes write|check`: docs/api-changes.md, the
//! summary of every change to spec/openapi.json on the main line, newest
//! first, and the conformance step that keeps it current.
//!
//! Each entry records the SHA-256 of the document it leads to. The check
//! compares the newest one with the committed document's and needs nothing
//! else: no git, no history, so a shallow clone checks the same. Writing
//! needs the whole history and refuses a shallow clone.

use std::fmt::Write as _;

use anitrack_compat::summary::escape_markdown;
use anyhow::{Context, bail};
use clap::Subcommand;

use crate::api_diff::{SPEC, Version};
use crate::{git, workspace};

/// The file, relative to the workspace root.
pub const PATH: &str = "docs/api-changes.md";

/// Opens the comment that records an entry's document.
const MARK: &str = "<!-- sha256 of spec/openapi.json: ";

const WRITE: &str = "cargo xtask openapi changes write";

#[derive(Subcommand)]
pub enum Action {
    /// Rewrite docs/api-changes.md from the git history of
    /// spec/openapi.json: one entry per commit of the main line (first
    /// parents; a merge stands for its branch) that changed it, newest
    /// first, each with its date, hash, subject and the summary `cargo
    /// xtask openapi diff` prints; a change not committed yet comes first.
    /// Needs the full history (not a shallow clone).
    Write,
    /// Fail unless the newest entry of docs/api-changes.md describes the
    /// committed spec/openapi.json (by SHA-256; no git needed). Part of
    /// `cargo xtask conformance`.
    Check,
}

pub fn run(action: Action) -> anyhow::Result<()> {
    match action {
        Action::Write => write(),
        Action::Check => check(),
    }
}

fn write() -> anyhow::Result<()> {
    if git::shallow()? {
        bail!(
            "this clone is shallow: {PATH} would lose the changes before its first commit; \
             run `git fetch --unshallow` first"
        );
    }
    workspace::write_generated(PATH, &render()?)
}

pub fn check() -> anyhow::Result<()> {
    let path = workspace::root().join(PATH);
    let document = std::fs::read_to_string(workspace::root().join(SPEC))
        .with_context(|| format!("reading {SPEC}"))?;
    let actual = digest(&document);
    let Ok(changes) = std::fs::read_to_string(&path) else {
        bail!("{PATH} is missing: run `{WRITE}` and commit it");
    };
    let Some(recorded) = recorded(&changes) else {
        bail!("{PATH} records no document (no `{MARK}...` line): run `{WRITE}` and commit it");
    };
    if recorded != actual {
        bail!(
            "{PATH} is stale: its newest entry describes a {SPEC} with SHA-256 {}…, but \
             {SPEC} has {}…; run `{WRITE}` and commit {PATH} with the document",
            &recorded[..recorded.len().min(12)],
            &actual[..12]
        );
    }
    println!(
        "openapi changes: {PATH} describes the committed {SPEC} (sha256 {}…)",
        &actual[..12]
    );
    Ok(())
}

/// The document's SHA-256, line endings normalised (a checkout with CRLF
/// line endings holds the same document).
fn digest(text: &str) -> String {
    workspace::sha256_hex(text.replace("\r\n", "\n").as_bytes())
}

/// The newest entry's recorded digest.
fn recorded(changes: &str) -> Option<String> {
    changes.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(MARK)?.strip_suffix("-->")?;
        Some(rest.trim().to_string())
    })
}

/// One entry: a change and the document it leads to.
struct Entry {
    heading: String,
    merged: Vec<String>,
    base: Option<Version>,
    head: Version,
}

fn render() -> anyhow::Result<String> {
    let mut entries = Vec::new();
    let worktree = Version::worktree()?;
    let committed = git::show("HEAD", SPEC)?;
    if committed.as_deref() != Some(worktree.text.as_str()) {
        entries.push(Entry {
            heading: format!("Not committed yet (run `{WRITE}` again once it is)"),
            merged: Vec::new(),
            base: committed
                .is_some()
                .then(|| Version::at("HEAD"))
                .transpose()?,
            head: worktree,
        });
    }
    for commit in git::changes("HEAD", SPEC, None)? {
        let base = match commit.parents {
            0 => None,
            _ => git::show(&format!("{}^1", commit.hash), SPEC)?
                .map(|_| Version::at(&format!("{}^1", commit.hash)))
                .transpose()?,
        };
        let merged = match commit.parents {
            0 | 1 => Vec::new(),
            _ => git::merged(&commit.hash, SPEC)?,
        };
        entries.push(Entry {
            heading: format!(
                "{}, `{}`: {}",
                commit.date,
                commit.short,
                escape_markdown(&commit.subject)
            ),
            merged,
            base,
            head: Version::at(&commit.hash)?,
        });
    }
    let mut out = String::from(HEADER);
    for entry in &entries {
        let _ = writeln!(out, "\n## {}\n", entry.heading);
        let _ = writeln!(out, "{MARK}{} -->\n", digest(&entry.head.text));
        if entry.base.is_none() {
            let _ = writeln!(out, "The document's first version.\n");
        }
        if !entry.merged.is_empty() {
            let shown: Vec<String> = entry.merged.iter().map(|h| format!("`{h}`")).collect();
            let _ = writeln!(
                out,
                "Merged, from the branch's commits that changed it: {}.\n",
                shown.join(", ")
            );
        }
        out.push_str(&entry.head.since(entry.base.as_ref()).markdown());
    }
    Ok(out)
}

const HEADER: &str = "\
# API changes

What each change to `spec/openapi.json` did to the API, newest first: one
entry per commit of the main line (first parents: a merged branch is its
merge commit) that changed the document, with the summary `cargo xtask
openapi diff` prints for it. What it calls breaking is what `cargo xtask
openapi compat`'s rules find between the document before and after the
change; the gate itself compares with the frozen `spec/baseline/v1.json`.

Generated by `cargo xtask openapi changes write` from the git history; do
not edit. `cargo xtask conformance` fails when the newest entry does not
describe the committed document (each entry records its SHA-256).
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_entry_s_digest_is_the_first_recorded() {
        let changes = format!("# API changes\n\n## b\n\n{MARK}bbb -->\n\n## a\n\n{MARK}aaa -->\n");
        assert_eq!(recorded(&changes).as_deref(), Some("bbb"));
        assert_eq!(recorded("# API changes\n"), None);
    }

    #[test]
    fn line_endings_do_not_change_the_digest() {
        assert_eq!(digest("{\r\n}\r\n"), digest("{\n}\n"));
        assert_ne!(digest("{\n}\n"), digest("{ }\n"));
    }
}
