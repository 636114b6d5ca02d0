//! The gate's rules as data: every case under `tests/cases` is a baseline,
//! a change to it and what the gate must say about it.
//!
//! ```text
//! tests/cases/<suite>/old.json               the baseline document
//! tests/cases/<suite>/<case>/change.json     an RFC 6902 JSON Patch: old.json becomes the candidate
//! tests/cases/<suite>/<case>/expected.txt    one line per finding, then the verdict
//! ```
//!
//! drift keeps its cases the same way (a document, many patches, the
//! expected output of each). A case directory without both files, or a
//! suite without `old.json`, fails the run rather than being skipped.
//! `BLESS=1` rewrites `expected.txt` with what the gate says now: for a new
//! case, never to make a changed rule pass unread.

// A test fails by panicking; helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};

use anitrack_compat::compare;
use serde_json::Value;
use support::{read_json, rendered};

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

#[test]
fn every_case_reports_what_it_expects() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    let mut cases = 0;
    for suite in directories(&cases_dir()) {
        let old = read_json(&required(suite.join("old.json")).to_string_lossy());
        for case in directories(&suite) {
            cases += 1;
            let name = case
                .strip_prefix(cases_dir())
                .unwrap()
                .display()
                .to_string();
            let new = apply(&old, &required(case.join("change.json")));
            let actual = rendered(&compare(&old, &new), OLD_LABEL, NEW_LABEL);
            let expected_path = case.join("expected.txt");
            if bless {
                std::fs::write(&expected_path, &actual).unwrap();
            }
            let expected = std::fs::read_to_string(required(expected_path)).unwrap();
            if actual != expected {
                failures.push(format!("{name}:\nexpected:\n{expected}actual:\n{actual}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(cases > 0, "no case under {}", cases_dir().display());
}
