//! `cargo xtask openapi generate|check|compat|diff|changes|lint|typescript`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::Value;

use crate::workspace;

/// The frozen v1 document, relative to the workspace root.
pub const BASELINE_PATH: &str = "spec/baseline/v1.json";
/// The reviewed corrections to it (see spec/baseline/README.md).
pub const CORRECTIONS_PATH: &str = "spec/baseline/v1-corrections.json";

#[derive(Subcommand)]
pub enum Action {
    /// Rewrite spec/openapi.json from the API trait.
    Generate,
    /// Fail if spec/openapi.json differs from what the API trait emits.
    Check,
    /// Fail on any change that could break a v1 client: v1 is additive-only
    /// (narrowed inputs the server always refused pass only as the reviewed
    /// corrections of spec/baseline/v1-corrections.json).
    Compat {
        /// The baseline [default: spec/baseline/v1.json].
        #[arg(long)]
        old: Option<PathBuf>,
        /// The candidate [default: the document the API trait emits].
        #[arg(long)]
        new: Option<PathBuf>,
        /// Corrections to the baseline [default: spec/baseline/v1-corrections.json
        /// with the default baseline, none with --old].
        #[arg(long)]
        corrections: Option<PathBuf>,
    },
    /// Summarise the change to spec/openapi.json between two revisions for
    /// a reviewer: operations, parameters, headers, fields, statuses, enum
    /// values, constraints, descriptions, and what breaks by the rules of
    /// `compat`.
    Diff(crate::api_diff::Args),
    /// docs/api-changes.md: the summary of every change to the document.
    Changes {
        #[command(subcommand)]
        action: crate::api_changes::Action,
    },
    /// Lint spec/openapi.json as integrators do: Redocly's recommended rules
    /// and Spectral's `spectral:oas`; any error or warning fails. The tools
    /// are pinned in xtask/npm/package-lock.json and installed there by
    /// `npm ci` on first use (Node.js and npm with apt when missing, as root).
    Lint,
    /// Generate TypeScript types from spec/openapi.json with
    /// openapi-typescript (target/typescript/anitrack.d.ts) and type-check
    /// xtask/npm/usage.ts, an integrator's code, against them with `tsc
    /// --strict`. Tools as for `lint`.
    Typescript,
}

pub fn run(action: Action) -> anyhow::Result<()> {
    match action {
        Action::Lint => crate::npm::lint(),
        Action::Typescript => crate::npm::typescript(),
        Action::Generate => generate(),
        Action::Check => check(),
        Action::Diff(args) => crate::api_diff::run(args),
        Action::Changes { action } => crate::api_changes::run(action),
        Action::Compat {
            old,
            new,
            corrections,
        } => compat(old.as_deref(), new.as_deref(), corrections.as_deref()),
    }
}

fn fresh() -> anyhow::Result<String> {
    anitrack_spec::document::openapi_text()
        .map_err(anyhow::Error::msg)
        .context("emitting the OpenAPI document")
}

pub fn generate() -> anyhow::Result<()> {
    workspace::write_generated(anitrack_spec::document::COMMITTED_PATH, &fresh()?)
}

pub fn check() -> anyhow::Result<()> {
    let path = workspace::root().join(anitrack_spec::document::COMMITTED_PATH);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let fresh = fresh()?;
    if committed != fresh {
        bail!(
            "{} is stale; run `cargo xtask openapi generate` and commit it:\n{}",
            path.display(),
            workspace::diff_summary(&committed, &fresh)
        );
    }
    println!(
        "openapi: {} is current",
        anitrack_spec::document::COMMITTED_PATH
    );
    Ok(())
}

/// The conformance step: the emitted document against the baseline.
pub fn compat_with_baseline() -> anyhow::Result<()> {
    compat(None, None, None)
}

/// `cargo xtask openapi compat [--old FILE] [--new FILE] [--corrections
/// FILE]`: the rules live in the anitrack-compat crate; this reads the
/// documents and prints its report.
pub fn compat(
    old: Option<&Path>,
    new: Option<&Path>,
    corrections: Option<&Path>,
) -> anyhow::Result<()> {
    let corrections = match (corrections, old) {
        (Some(path), _) => Some(path.to_path_buf()),
        (None, None) => Some(workspace::root().join(CORRECTIONS_PATH)),
        (None, Some(_)) => None,
    };
    let (old_label, old_doc) = match old {
        Some(path) => (path.display().to_string(), load(path)?),
        None => (
            BASELINE_PATH.to_string(),
            load(&workspace::root().join(BASELINE_PATH))?,
        ),
    };
    let (new_label, new_doc) = match new {
        Some(path) => (path.display().to_string(), load(path)?),
        None => (
            "the document emitted from spec/src".to_string(),
            anitrack_spec::document::openapi()
                .map_err(anyhow::Error::msg)
                .context("emitting the OpenAPI document")?,
        ),
    };
    let report = anitrack_compat::compare(&old_doc, &new_doc);
    let (label, list) = match &corrections {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let document: Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            let list = anitrack_compat::corrections::parse(&document)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("reading the corrections in {}", path.display()))?;
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            (name, list)
        }
        None => (String::new(), Vec::new()),
    };
    let applied = anitrack_compat::corrections::apply(&report, &list);
    for line in applied.lines(&list, &label) {
        println!("openapi compat: {line}");
    }
    if !applied.unexcused.is_empty() {
        let count = applied.unexcused.len();
        bail!(
            "{count} breaking change{} in {new_label} against {old_label}{}; v1 is additive-only, \
             so breaking changes ship as v2",
            if count == 1 { "" } else { "s" },
            applied.summary(&label),
        );
    }
    if !applied.stale.is_empty() {
        bail!(
            "{label} lists {} finding(s) the gate does not find: a correction excuses exactly what \
             it was reviewed for, so remove them",
            applied.stale.len()
        );
    }
    match report.verdict(&old_label, &new_label) {
        anitrack_compat::Verdict::Additive(summary) => println!("openapi compat: {summary}"),
        anitrack_compat::Verdict::Breaking(_) => println!(
            "openapi compat: {new_label} is additive-only over {old_label}{} \
             ({} v1 operations kept, {} added, {} schema nodes compared)",
            applied.summary(&label),
            report.kept,
            report.added,
            report.schemas()
        ),
    }
    Ok(())
}

fn load(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// An OpenAPI 3 document's text, read as JSON; `label` names it in errors.
pub fn parse(text: &str, label: &str) -> anyhow::Result<Value> {
    let document: Value = serde_json::from_str(text).with_context(|| format!("parsing {label}"))?;
    let version = document["openapi"].as_str().unwrap_or_default();
    if !version.starts_with("3.") || !document["paths"].is_object() {
        bail!("{label} is not an OpenAPI 3 document (no `openapi: 3.x` or no `paths`)");
    }
    Ok(document)
}
