//! Corrections: request constraints the frozen baseline left out although
//! the server always enforced them.
//!
//! The baseline is never edited. When the document starts to say what the
//! server always did (a `minLength` where an empty string was always a 422,
//! no `nullable` where `null` was always refused), the gate finds a
//! narrowed input, which would break a v1 client only if the server had
//! accepted those values. A correction lists such findings, word for word
//! as the gate prints them (`pointer: message`), with the reason and the
//! requests that prove the server refuses the excluded values (the
//! conformance suite sends every one of them to a live server). Applied to
//! a report:
//!
//! - a finding a correction lists is excused, and said so;
//! - a listed finding that is not a narrowed input (a removed property, a
//!   changed type, anything about a response) is refused: no correction
//!   excuses those;
//! - a listed finding the gate no longer reports makes the correction
//!   stale, which fails too, so the list never excuses more than it was
//!   reviewed for (a later, wider narrowing of the same field reads
//!   differently and is a finding of its own).
//!
//! ```
//! use serde_json::json;
//! let old = json!({"openapi": "3.0.3", "paths": {"/a": {"post": {
//!     "requestBody": {"required": true, "content": {"application/json": {"schema": {
//!         "type": "object", "properties": {"n": {"type": "integer", "nullable": true}}}}}},
//!     "responses": {"204": {"description": "done"}}}}}});
//! let mut new = old.clone();
//! new["paths"]["/a"]["post"]["requestBody"]["content"]["application/json"]["schema"]
//!     ["properties"]["n"] = json!({"type": "integer"});
//! let report = anitrack_compat::compare(&old, &new);
//! let corrections = anitrack_compat::corrections::parse(&json!({"corrections": [{
//!     "title": "n was never nullable",
//!     "reason": "the server always answered 422 to a null n",
//!     "findings": [report.findings[0].key()],
//!     "refused": [{"request": "POST /a", "body": {"n": null}, "field": "n"}],
//! }]})).unwrap();
//! let applied = anitrack_compat::corrections::apply(&report, &corrections);
//! assert!(applied.unexcused.is_empty() && applied.stale.is_empty());
//! assert_eq!(applied.excused.len(), 1);
//! ```

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{Finding, Report};

/// One reviewed correction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correction {
    /// A short name, shown beside every finding it excuses.
    pub title: String,
    /// Why the server never accepted what the findings exclude.
    pub reason: String,
    /// The findings it excuses, as `pointer: message`.
    pub findings: Vec<String>,
    /// How many requests prove the server refuses the excluded values
    /// (the conformance suite reads and sends them; here only counted).
    pub proofs: usize,
}

/// Reads a corrections file: `{"corrections": [{"title", "reason",
/// "findings": [...], "refused": [...]}]}`. Every correction needs a
/// title, a reason, at least one finding and at least one refused request.
pub fn parse(document: &Value) -> Result<Vec<Correction>, String> {
    let list = document
        .get("corrections")
        .and_then(Value::as_array)
        .ok_or("no `corrections` array")?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (index, entry) in list.iter().enumerate() {
        let number = index + 1;
        let text = |key: &str| -> Result<String, String> {
            entry
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(String::from)
                .ok_or(format!("correction {number} has no `{key}`"))
        };
        let title = text("title")?;
        let reason = text("reason")?;
        let findings: Vec<String> = entry
            .get("findings")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if findings.is_empty() {
            return Err(format!("correction {number} ({title}) lists no findings"));
        }
        for finding in &findings {
            if !seen.insert(finding.clone()) {
                return Err(format!("{finding} is listed twice"));
            }
        }
        let proofs = entry
            .get("refused")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if proofs == 0 {
            return Err(format!(
                "correction {number} ({title}) has no `refused` requests proving the server refuses what it excludes"
            ));
        }
        out.push(Correction {
            title,
            reason,
            findings,
            proofs,
        });
    }
    Ok(out)
}

/// A report with corrections applied.
#[derive(Debug)]
pub struct Applied<'r> {
    /// Findings no correction lists: they break v1.
    pub unexcused: Vec<&'r Finding>,
    /// Findings a correction lists, with its number (from 1).
    pub excused: Vec<(usize, &'r Finding)>,
    /// Listed findings that are not narrowed inputs: no correction
    /// excuses them (they stay in `unexcused` too).
    pub not_corrections: Vec<(usize, &'r Finding)>,
    /// Listed findings the gate did not report, with the correction's
    /// number: the list must shrink.
    pub stale: Vec<(usize, String)>,
}

impl Applied<'_> {
    /// Nothing breaks v1 and the list is exact.
    pub fn passes(&self) -> bool {
        self.unexcused.is_empty() && self.stale.is_empty()
    }

    /// The lines `cargo xtask openapi compat` prints before its verdict.
    pub fn lines(&self, corrections: &[Correction], label: &str) -> Vec<String> {
        let mut out = Vec::new();
        for finding in &self.unexcused {
            out.push(finding.to_string());
        }
        for (number, finding) in &self.not_corrections {
            out.push(format!(
                "NOT A CORRECTION {}: correction {number} lists it, but only a narrowed input can be corrected",
                finding.key()
            ));
        }
        for (number, finding) in &self.excused {
            let title = corrections.get(number - 1).map_or("", |c| c.title.as_str());
            out.push(format!(
                "CORRECTED {} ({label} #{number}: {title})",
                finding.key()
            ));
        }
        for (number, key) in &self.stale {
            out.push(format!(
                "STALE {label} #{number} lists `{key}`, which the gate does not find: remove it"
            ));
        }
        out
    }

    /// The verdict line's words for the corrections, appended to the
    /// report's own verdict.
    pub fn summary(&self, label: &str) -> String {
        let inputs = |n: usize| format!("{n} narrowed input{}", if n == 1 { "" } else { "s" });
        match (self.excused.len(), self.stale.len()) {
            (0, 0) => String::new(),
            (excused, 0) => format!("; {} excused by {label}", inputs(excused)),
            (excused, stale) => format!(
                "; {} excused by {label}, which lists {stale} the gate does not find",
                inputs(excused)
            ),
        }
    }
}

/// Applies `corrections` to `report`.
pub fn apply<'r>(report: &'r Report, corrections: &[Correction]) -> Applied<'r> {
    let mut applied = Applied {
        unexcused: Vec::new(),
        excused: Vec::new(),
        not_corrections: Vec::new(),
        stale: Vec::new(),
    };
    let listed = |key: &str| {
        corrections
            .iter()
            .position(|c| c.findings.iter().any(|f| f == key))
            .map(|i| i + 1)
    };
    for finding in &report.findings {
        match listed(&finding.key()) {
            Some(number) if finding.narrows_input => applied.excused.push((number, finding)),
            Some(number) => {
                applied.not_corrections.push((number, finding));
                applied.unexcused.push(finding);
            }
            None => applied.unexcused.push(finding),
        }
    }
    let found: BTreeSet<String> = report.findings.iter().map(Finding::key).collect();
    for (index, correction) in corrections.iter().enumerate() {
        for key in &correction.findings {
            if !found.contains(key) {
                applied.stale.push((index + 1, key.clone()));
            }
        }
    }
    applied
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn correction(findings: &[&str]) -> Value {
        json!({
            "title": "t", "reason": "r", "findings": findings,
            "refused": [{"request": "POST /a", "body": {}, "field": "n"}],
        })
    }

    #[test]
    fn a_correction_needs_a_reason_findings_and_proof() {
        assert!(parse(&json!({"corrections": [correction(&["#/a: m"])]})).is_ok());
        let mut no_proof = correction(&["#/a: m"]);
        no_proof["refused"] = json!([]);
        for bad in [
            json!({}),
            json!({"corrections": [correction(&[])]}),
            json!({"corrections": [no_proof]}),
            json!({"corrections": [{"title": "t", "findings": ["#/a: m"], "refused": [{}]}]}),
            json!({"corrections": [correction(&["#/a: m"]), correction(&["#/a: m"])]}),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }
}
