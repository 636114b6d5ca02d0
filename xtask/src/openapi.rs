//! `cargo xtask openapi generate|check|compat`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::workspace;

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
        Action::Compat { old, new } => crate::compat::run(old.as_deref(), new.as_deref()),
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
