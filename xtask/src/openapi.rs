//! `cargo xtask openapi generate|check|compat`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::Value;

use crate::workspace;

/// The frozen v1 document, relative to the workspace root.
pub const BASELINE_PATH: &str = "spec/baseline/v1.json";

#[derive(Subcommand)]
pub enum Action {
    /// Rewrite spec/openapi.json from the API trait.
    Generate,
    /// Fail if spec/openapi.json differs from what the API trait emits.
    Check,
    /// Fail on any change that could break a v1 client: v1 is additive-only.
    Compat {
        /// The baseline [default: spec/baseline/v1.json].
        #[arg(long)]
        old: Option<PathBuf>,
        /// The candidate [default: the document the API trait emits].
        #[arg(long)]
        new: Option<PathBuf>,
    },
}

pub fn run(action: Action) -> anyhow::Result<()> {
    match action {
        Action::Generate => generate(),
        Action::Check => check(),
        Action::Compat { old, new } => compat(old.as_deref(), new.as_deref()),
    }
}

fn fresh() -> anyhow::Result<String> {
    anitrack_spec::document::openapi_text()
        .map_err(anyhow::Error::msg)
        .context("emitting the OpenAPI document")
}

pub fn generate() -> anyhow::Result<()> {
    let path = workspace::root().join(anitrack_spec::document::COMMITTED_PATH);
    let changed = workspace::write_if_changed(&path, &fresh()?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "{} {}",
        if changed { "wrote" } else { "unchanged" },
        path.display()
    );
    Ok(())
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
    compat(None, None)
}

/// `cargo xtask openapi compat [--old FILE] [--new FILE]`: the rules live in
/// the anitrack-compat crate; this reads the documents and prints its report.
pub fn compat(old: Option<&Path>, new: Option<&Path>) -> anyhow::Result<()> {
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
    for finding in &report.findings {
        println!("openapi compat: {finding}");
    }
    match report.verdict(&old_label, &new_label) {
        anitrack_compat::Verdict::Breaking(summary) => bail!("{summary}"),
        anitrack_compat::Verdict::Additive(summary) => println!("openapi compat: {summary}"),
    }
    Ok(())
}

fn load(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let document: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let version = document["openapi"].as_str().unwrap_or_default();
    if !version.starts_with("3.") || !document["paths"].is_object() {
        bail!(
            "{} is not an OpenAPI 3 document (no `openapi: 3.x` or no `paths`)",
            path.display()
        );
    }
    Ok(document)
}
