//! The few git questions `cargo xtask openapi diff` and `changes` ask, by
//! running `git` in the workspace (the repository is the source of the
//! documents' history; no library would say more than `git show`).

use std::process::Command;

use anyhow::{Context, bail};

use crate::workspace;

/// One commit that changed a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    pub hash: String,
    pub short: String,
    /// Committer date, `YYYY-MM-DD`.
    pub date: String,
    pub subject: String,
    /// How many parents it has (2 for a merge).
    pub parents: usize,
}

/// Runs `git args...` in the workspace; `None` when git says no (an
/// unknown revision, a path missing at it).
fn git(args: &[&str]) -> anyhow::Result<Option<String>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(workspace::root())
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    if !output.status.success() {
        return Ok(None);
    }
    String::from_utf8(output.stdout)
        .map(Some)
        .with_context(|| format!("git {} printed something that is not UTF-8", args.join(" ")))
}

/// The file at `path` as of `rev` (`git show REV:PATH`), `None` when the
/// revision or the file does not exist there.
pub fn show(rev: &str, path: &str) -> anyhow::Result<Option<String>> {
    git(&["show", &format!("{rev}:{path}")])
}

/// The commit `rev` names, `None` when it names none.
pub fn commit(rev: &str) -> anyhow::Result<Option<String>> {
    Ok(git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{rev}^{{commit}}"),
    ])?
    .map(|s| s.trim().to_string()))
}

/// The abbreviated name of `rev`.
pub fn short(rev: &str) -> anyhow::Result<String> {
    Ok(git(&["rev-parse", "--short", rev])?
        .map_or_else(|| rev.to_string(), |s| s.trim().to_string()))
}

/// Whether this clone's history is cut (`git clone --depth`).
pub fn shallow() -> anyhow::Result<bool> {
    Ok(git(&["rev-parse", "--is-shallow-repository"])?.is_some_and(|s| s.trim() == "true"))
}

/// The best common ancestor of `a` and `b`.
pub fn merge_base(a: &str, b: &str) -> anyhow::Result<Option<String>> {
    Ok(git(&["merge-base", a, b])?.map(|s| s.trim().to_string()))
}

/// The commits of `rev`'s main line (first parents only: a merged branch
/// is its merge) that changed `path`, newest first.
pub fn changes(rev: &str, path: &str, limit: Option<usize>) -> anyhow::Result<Vec<Commit>> {
    let limit = limit.map(|n| format!("-{n}"));
    let mut args = vec![
        "log",
        "--first-parent",
        "--format=%H%x1f%h%x1f%cs%x1f%P%x1f%s",
    ];
    if let Some(limit) = &limit {
        args.push(limit);
    }
    args.extend([rev, "--", path]);
    let Some(text) = git(&args)? else {
        bail!("git log {rev} -- {path} failed (is {rev} a revision of this repository?)");
    };
    Ok(text.lines().filter_map(parse_commit).collect())
}

/// The commits a merge brought that changed `path` (the merged branch's
/// own, merges left out), newest first.
pub fn merged(merge: &str, path: &str) -> anyhow::Result<Vec<String>> {
    let range = format!("{merge}^1..{merge}");
    Ok(
        git(&["log", "--no-merges", "--format=%h", &range, "--", path])?
            .map(|text| text.lines().map(String::from).collect())
            .unwrap_or_default(),
    )
}

fn parse_commit(line: &str) -> Option<Commit> {
    let mut fields = line.splitn(5, '\x1f');
    let hash = fields.next()?.to_string();
    let short = fields.next()?.to_string();
    let date = fields.next()?.to_string();
    let parents = fields.next()?.split_whitespace().count();
    let subject = fields.next()?.to_string();
    Some(Commit {
        hash,
        short,
        date,
        subject,
        parents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_read_field_by_field() {
        let line = "0123abcd\x1f0123abc\x1f2026-11-30\x1fp1 p2\x1fMerge branch 'x': a \x1f b";
        assert_eq!(
            parse_commit(line),
            Some(Commit {
                hash: "0123abcd".into(),
                short: "0123abc".into(),
                date: "2026-11-30".into(),
                subject: "Merge branch 'x': a \x1f b".into(),
                parents: 2,
            })
        );
        assert_eq!(parse_commit("truncated"), None);
    }
}
