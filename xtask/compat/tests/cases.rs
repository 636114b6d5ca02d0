//! The gate's rules as data: every case under `tests/cases` is a baseline,
//! a change to it and what the gate must say about it.
//!
//! ```text
//! tests/cases/<suite>/old.json               the baseline document
//! tests/cases/<suite>/<case>/change.json     an RFC 6902 JSON Patch: old.json becomes the candidate
//! tests/cases/<suite>/<case>/expected.txt    one line per finding, then the verdict
//! tests/cases/<suite>/<case>/summary.txt     what `cargo xtask openapi diff` says about the change
//! tests/cases/<suite>/<case>/corrections.json optional: corrections applied before the verdict
//! ```
//!
//! drift keeps its cases the same way (a document, many patches, the
//! expected output of each). A case directory without both files, or a
//! suite without `old.json`, fails the run rather than being skipped.
//! `BLESS=1` rewrites `expected.txt` and `summary.txt` with what the gate
//! and the summary say now: for a new case, never to make a changed rule
//! pass unread.
//!
//! Every case is also shown to drift, which must find nothing breaking
//! that the expected output does not report (see `support/drift_check.rs`).

// A test fails by panicking; helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};

use anitrack_compat::compare;
use anitrack_compat::summary::summarize;
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;
use support::{CrossCheck, cross_check, read_json, rendered, rendered_with};

const OLD_LABEL: &str = "old.json";
const NEW_LABEL: &str = "old.json + change.json";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn directories(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    out.sort();
    out
}

fn required(path: PathBuf) -> PathBuf {
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn apply(old: &Value, change: &Path) -> Value {
    let patch: json_patch::Patch = serde_json::from_value(read_json(&change.to_string_lossy()))
        .unwrap_or_else(|e| panic!("{} is not a JSON Patch: {e}", change.display()));
    let mut new = old.clone();
    json_patch::patch(&mut new, &patch)
        .unwrap_or_else(|e| panic!("{} does not apply: {e}", change.display()));
    new
}

/// What one case says, or why it fails.
fn run_case(suite: &Path, case: &Path, old: &Value) -> Result<CrossCheck, String> {
    let new = apply(old, &required(case.join("change.json")));
    let report = compare(old, &new);
    // A case may hold corrections to its baseline: the output is then the
    // report with them applied. drift still sees every finding.
    let corrections_path = case.join("corrections.json");
    let (actual, corrections) = if corrections_path.is_file() {
        let document = read_json(&corrections_path.to_string_lossy());
        let corrections = anitrack_compat::corrections::parse(&document)
            .map_err(|e| format!("{}: {e}", corrections_path.display()))?;
        let actual = rendered_with(&report, &corrections, OLD_LABEL, NEW_LABEL);
        (actual, corrections)
    } else {
        (rendered(&report, OLD_LABEL, NEW_LABEL), Vec::new())
    };
    let name = case.strip_prefix(suite).unwrap_or(case).display();
    blessed(&case.join("expected.txt"), &actual).map_err(|e| format!("{name}: {e}"))?;
    // What `cargo xtask openapi diff` says about the same change: its
    // breaking group is the gate's unexcused findings, one for one.
    let summary = summarize(old, &new, &corrections);
    let unexcused = anitrack_compat::corrections::apply(&report, &corrections)
        .unexcused
        .len();
    if summary.breaking() != unexcused {
        return Err(format!(
            "{name}: the summary counts {} breaking changes, the gate {unexcused}",
            summary.breaking()
        ));
    }
    blessed(&case.join("summary.txt"), &summary.text()).map_err(|e| format!("{name}: {e}"))?;
    match cross_check(old, &new, &report) {
        CrossCheck::Missed(what) => Err(what),
        verdict => Ok(verdict),
    }
}

/// Compares `actual` with the file at `path` (written first under `BLESS`).
fn blessed(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(required(path.to_path_buf())).unwrap();
    if actual != expected {
        return Err(format!(
            "{}:\nexpected:\n{expected}actual:\n{actual}",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    Ok(())
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One test per case (`<suite>::<case>`), so a run counts and names every
/// rule it checks; then the checks of the cross-check itself.
fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for suite in directories(&cases_dir()) {
        let old = read_json(&required(suite.join("old.json")).to_string_lossy());
        let suite_name = name_of(&suite);
        // The suite's document must be one drift reads, or every check
        // against it would pass for want of an opinion.
        let baseline = old.clone();
        trials.push(Trial::test(
            format!("{suite_name}::drift_reads_the_baseline"),
            move || match cross_check(&baseline, &baseline, &compare(&baseline, &baseline)) {
                CrossCheck::Agreed {
                    found: 0,
                    excused: 0,
                } => Ok(()),
                other => Err(format!("{other:?}").into()),
            },
        ));
        for case in directories(&suite) {
            let (suite, old) = (suite.clone(), old.clone());
            let name = format!("{suite_name}::{}", name_of(&case));
            trials.push(Trial::test(name, move || {
                run_case(&suite, &case, &old)
                    .map(|_| ())
                    .map_err(Failed::from)
            }));
        }
    }
    trials.push(Trial::test(
        "drift_finds_breaking_changes_in_the_cases",
        || {
            let mut found = 0;
            for suite in directories(&cases_dir()) {
                let old = read_json(&suite.join("old.json").to_string_lossy());
                for case in directories(&suite) {
                    if let Ok(CrossCheck::Agreed { found: f, .. }) = run_case(&suite, &case, &old) {
                        found += f;
                    }
                }
            }
            if found > 0 {
                Ok(())
            } else {
                Err("drift found nothing breaking in any case".into())
            }
        },
    ));
    trials.push(Trial::test(
        "the_cross_check_fails_a_report_missing_what_drift_finds",
        || {
            the_cross_check_fails_a_report_missing_what_drift_finds();
            Ok(())
        },
    ));
    trials.push(Trial::test(
        "a_new_status_is_excused_only_under_a_baseline_range",
        || {
            a_new_status_is_excused_only_under_a_baseline_range();
            Ok(())
        },
    ));
    libtest_mimic::run(&args, trials).exit();
}

fn items_case(case: &str) -> (Value, Value) {
    let old = read_json(&cases_dir().join("items/old.json").to_string_lossy());
    let new = apply(
        &old,
        &cases_dir().join("items").join(case).join("change.json"),
    );
    (old, new)
}

/// The cross-check bites: the same report without its finding fails it.
fn the_cross_check_fails_a_report_missing_what_drift_finds() {
    let (old, new) = items_case("operation-removed");
    let mut report = compare(&old, &new);
    assert_eq!(
        cross_check(&old, &new, &report),
        CrossCheck::Agreed {
            found: 1,
            excused: 0
        }
    );
    report.findings.clear();
    assert!(matches!(
        cross_check(&old, &new, &report),
        CrossCheck::Missed(_)
    ));
}

/// An excuse holds only where its rule does: a status is excused where a
/// baseline range covers it, not elsewhere.
fn a_new_status_is_excused_only_under_a_baseline_range() {
    use support::drift_check::{DriftVerdict, drift_verdict, excused};
    let (old, _) = items_case("identical");
    let mut new = old.clone();
    new["paths"]["/items/{id}"]["get"]["responses"]["404"] =
        serde_json::json!({"$ref": "#/components/responses/Error"});
    new["paths"]["/login"]["post"]["responses"]["409"] = serde_json::json!({"description": "no"});
    let DriftVerdict::Classified(incompatibilities) = drift_verdict(&old, &new) else {
        panic!("drift did not judge the change");
    };
    let verdicts: Vec<(String, Option<&str>)> = incompatibilities
        .iter()
        .map(|i| (i.message.clone(), excused(i, &old, &new)))
        .collect();
    assert_eq!(
        verdicts,
        [
            (
                "operation added a new response code 404".to_string(),
                Some("a baseline status range already covers it")
            ),
            ("operation added a new response code 409".to_string(), None),
        ]
    );
}
