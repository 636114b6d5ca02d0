//! Shared by the case runner and the mutation tests.

// Each test binary uses its own part of the support code.
#![allow(dead_code)]

pub mod drift_check;

use std::fmt::Write as _;

use anitrack_compat::{Report, Verdict};
use serde_json::Value;

use drift_check::{DriftVerdict, covers, drift_verdict, missed};

/// The committed document, read at test time: it grows as operations are
/// added.
pub fn real_document() -> Value {
    read_json(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spec/openapi.json"
    ))
}

/// The frozen v1 baseline.
pub fn baseline() -> Value {
    read_json(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spec/baseline/v1.json"
    ))
}

/// The reviewed corrections to the baseline.
pub fn baseline_corrections() -> Vec<anitrack_compat::corrections::Correction> {
    let document = read_json(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spec/baseline/v1-corrections.json"
    ));
    anitrack_compat::corrections::parse(&document)
        .unwrap_or_else(|e| panic!("spec/baseline/v1-corrections.json: {e}"))
}

pub fn read_json(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// The report with `corrections` applied, as `cargo xtask openapi compat`
/// prints it: one line per finding (breaking, excused, not a correction)
/// and per stale correction, then whether it passes.
pub fn rendered_with(
    report: &Report,
    corrections: &[anitrack_compat::corrections::Correction],
    old_label: &str,
    new_label: &str,
) -> String {
    let applied = anitrack_compat::corrections::apply(report, corrections);
    let mut out = String::new();
    for line in applied.lines(corrections, "corrections.json") {
        let _ = writeln!(out, "{line}");
    }
    let summary = applied.summary("corrections.json");
    let _ = if applied.passes() {
        writeln!(out, "{new_label} passes against {old_label}{summary}")
    } else {
        writeln!(
            out,
            "{new_label} fails against {old_label}: {} breaking, {} stale{summary}",
            applied.unexcused.len(),
            applied.stale.len()
        )
    };
    out
}

/// The report as `cargo xtask openapi compat` prints it, one finding a
/// line, then the verdict.
pub fn rendered(report: &Report, old_label: &str, new_label: &str) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        let _ = writeln!(out, "{finding}");
    }
    let verdict = report.verdict(old_label, new_label);
    let _ = writeln!(out, "{verdict}");
    debug_assert_eq!(
        matches!(verdict, Verdict::Additive(_)),
        report.findings.is_empty()
    );
    out
}

/// What the cross-check with drift concluded about one change.
#[derive(Debug, PartialEq, Eq)]
pub enum CrossCheck {
    /// drift judged it; this many incompatibilities it asserted were found
    /// by us, this many were excused.
    Agreed { found: usize, excused: usize },
    /// drift could not judge it.
    Unclassified(String),
    /// drift asserts a break our report lacks: both reports.
    Missed(String),
}

/// Runs drift on the same change as `report`.
pub fn cross_check(old: &Value, new: &Value, report: &Report) -> CrossCheck {
    let incompatibilities = match drift_verdict(old, new) {
        DriftVerdict::Classified(incompatibilities) => incompatibilities,
        DriftVerdict::Unclassified(why) => return CrossCheck::Unclassified(why),
    };
    let missing = missed(report, &incompatibilities, old, new);
    if !missing.is_empty() {
        return CrossCheck::Missed(format!(
            "drift classes {} change(s) as breaking v1 clients, and we have no finding for \
             them:\n{missing:#?}\nour report:\n{}",
            missing.len(),
            rendered(report, "old", "new"),
        ));
    }
    let found = incompatibilities
        .iter()
        .filter(|i| covers(report, i))
        .count();
    CrossCheck::Agreed {
        found,
        excused: incompatibilities.len() - found,
    }
}
