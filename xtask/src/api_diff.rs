//! `cargo xtask openapi diff`: the change between two versions of
//! spec/openapi.json as a short summary for a reviewer, read from git
//! (`git show REV:spec/openapi.json`) or the working tree. The summary and
//! its classification are anitrack-compat's (`summary::summarize`), so
//! what it calls breaking is what `cargo xtask openapi compat` fails on.

use anitrack_compat::corrections::Correction;
use anitrack_compat::summary::{Summary, summarize};
use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::openapi::CORRECTIONS_PATH;
use crate::{git, workspace};

/// The document, relative to the workspace root.
pub const SPEC: &str = anitrack_spec::document::COMMITTED_PATH;

#[derive(clap::Args)]
#[command(after_long_help = DEFAULT_BASE)]
pub struct Args {
    /// The revision whose document is the "before" [default: see below].
    #[arg(long, value_name = "GIT_REF")]
    pub base: Option<String>,
    /// The revision whose document is the "after" [default: the working
    /// tree's spec/openapi.json].
    #[arg(long, value_name = "GIT_REF")]
    pub head: Option<String>,
    /// `text` for a terminal, `markdown` for a pull request or the docs.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

const DEFAULT_BASE: &str = "\
The default base is what a reviewer of the head wants to see against:
  1. HEAD, when the head is the working tree and its spec/openapi.json
     differs from HEAD's (the change not committed yet);
  2. else the merge-base of the head with `main` (or `origin/main`), when
     the document differs there (what a branch changes);
  3. else the parent of the newest commit on the head's main line (first
     parents) that changed the document (the last change; a merge is the
     whole branch it brought). When that commit created the document, the
     summary lists everything as added.

Breaking changes are classified by the rules of `cargo xtask openapi compat`
between the two documents (the v1 corrections at the head excuse the
narrowed inputs they list); the gate itself compares with
spec/baseline/v1.json and is what fails on them. This command exits 0
whatever changed, and 1 only when a document cannot be read.

`cargo xtask openapi changes write` writes the summary of every change on
the main line to docs/api-changes.md.";

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
}

/// One version of the document.
pub struct Version {
    /// `HEAD (5b05cec)`, `the working tree`.
    pub label: String,
    pub text: String,
    pub document: Value,
    /// The v1 corrections in force there.
    pub corrections: Vec<Correction>,
}

impl Version {
    /// spec/openapi.json in the working tree.
    pub fn worktree() -> anyhow::Result<Version> {
        let path = workspace::root().join(SPEC);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let corrections = std::fs::read_to_string(workspace::root().join(CORRECTIONS_PATH)).ok();
        Version::new("the working tree".to_string(), text, corrections.as_deref())
    }

    /// spec/openapi.json at `rev`.
    pub fn at(rev: &str) -> anyhow::Result<Version> {
        let Some(text) = git::show(rev, SPEC)? else {
            bail!("cannot read {SPEC} at {rev} (`git show {rev}:{SPEC}` failed)");
        };
        let corrections = git::show(rev, CORRECTIONS_PATH)?;
        Version::new(label(rev)?, text, corrections.as_deref())
    }

    fn new(label: String, text: String, corrections: Option<&str>) -> anyhow::Result<Version> {
        let document = crate::openapi::parse(&text, &format!("{SPEC} at {label}"))?;
        // The corrections only sort the findings: without them (before they
        // existed, or unreadable) a narrowed input is listed as breaking.
        let corrections = corrections
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .and_then(|value| anitrack_compat::corrections::parse(&value).ok())
            .unwrap_or_default();
        Ok(Version {
            label,
            text,
            document,
            corrections,
        })
    }

    /// The summary of the change from `base` (`None`: the document did not
    /// exist) to this version.
    pub fn since(&self, base: Option<&Version>) -> Summary {
        let nothing = json!({"openapi": self.document["openapi"], "paths": {}});
        let old = base.map_or(&nothing, |b| &b.document);
        summarize(old, &self.document, &self.corrections)
    }
}

/// `main (5b05cec)`; a hash is shortened.
fn label(rev: &str) -> anyhow::Result<String> {
    let short = git::short(rev)?;
    Ok(if rev.starts_with(&short) || short.starts_with(rev) {
        short
    } else {
        format!("{rev} ({short})")
    })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let head = match &args.head {
        Some(rev) => Version::at(rev)?,
        None => Version::worktree()?,
    };
    let base = match &args.base {
        Some(rev) => Some(Version::at(rev)?),
        None => default_base(args.head.as_deref(), &head)?,
    };
    let from = base
        .as_ref()
        .map_or_else(|| "nothing".to_string(), |b| b.label.clone());
    if base.as_ref().is_some_and(|b| b.text == head.text) {
        println!("{SPEC} is the same at {from} and {}", head.label);
        return Ok(());
    }
    let summary = head.since(base.as_ref());
    match args.format {
        Format::Text => {
            println!("{SPEC} from {from} to {}:", head.label);
            print!("{}", summary.text());
        }
        Format::Markdown => {
            println!("Changes to `{SPEC}` from {from} to {}:\n", head.label);
            print!("{}", summary.markdown());
        }
    }
    Ok(())
}

/// The base a reviewer of `head` wants (see [`DEFAULT_BASE`]); `None` when
/// the head's newest change created the document.
fn default_base(head_rev: Option<&str>, head: &Version) -> anyhow::Result<Option<Version>> {
    let rev = head_rev.unwrap_or("HEAD");
    if head_rev.is_none()
        && let Some(text) = git::show("HEAD", SPEC)?
        && text != head.text
    {
        return Version::at("HEAD").map(Some);
    }
    for main in ["main", "origin/main"] {
        if git::commit(main)?.is_none() {
            continue;
        }
        let Some(base) = git::merge_base(main, rev)? else {
            continue;
        };
        if git::show(&base, SPEC)?.is_some_and(|text| text != head.text) {
            let mut version = Version::at(&base)?;
            version.label = format!("the merge-base with {main} ({})", git::short(&base)?);
            return Ok(Some(version));
        }
        break;
    }
    let Some(last) = git::changes(rev, SPEC, Some(1))?.into_iter().next() else {
        bail!("no commit of {rev} changed {SPEC}: pass --base");
    };
    if last.parents == 0 {
        // A shallow clone's oldest commit looks like the first one.
        if git::shallow()? {
            bail!(
                "this clone is shallow: the history before {} is cut, so its change to {SPEC} \
                 cannot be read; pass --base or run `git fetch --unshallow`",
                last.short
            );
        }
        return Ok(None);
    }
    let mut version = Version::at(&format!("{}^1", last.hash))?;
    version.label = format!(
        "{}^1, before its last change ({} {})",
        last.short,
        last.short,
        shortened(&last.subject, 60)
    );
    Ok(Some(version))
}

/// `text` cut to at most `chars` characters, with an ellipsis if cut.
fn shortened(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}
