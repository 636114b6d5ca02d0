//! What the gate hands back: the findings, the counts, and the verdict in
//! the words `cargo xtask openapi compat` prints.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::Dir;

/// One breaking change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// JSON pointer (`#/...`) of the changed element: in the candidate, or
    /// in the baseline when the element is gone.
    pub pointer: String,
    /// What broke.
    pub message: String,
    /// The operations (and the part of each) through which it was reached.
    pub used_by: Vec<String>,
    /// It only narrows the values a request may hold (see
    /// [`crate::corrections`]).
    pub narrows_input: bool,
}

impl Finding {
    /// How a correction names it: `pointer: message`.
    pub fn key(&self) -> String {
        format!("{}: {}", self.pointer, self.message)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BREAKING {}: {}", self.pointer, self.message)?;
        if !self.used_by.is_empty() {
            // A shared schema (the error body) is reached from every
            // operation: three name the finding, the count says the rest.
            let shown: Vec<&str> = self.used_by.iter().take(3).map(String::as_str).collect();
            write!(f, " [{}", shown.join("; "))?;
            if self.used_by.len() > 3 {
                write!(f, "; and {} more", self.used_by.len() - 3)?;
            }
            write!(f, "]")?;
        }
        Ok(())
    }
}

/// What part of the API a [`Change`] touches: the groups of a
/// [`Summary`](crate::summary::Summary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// An operation (added, its path's spelling).
    Operation,
    /// A request parameter, or the request body and its media types.
    Parameter,
    /// A response header.
    Header,
    /// A response status, body or media type.
    Status,
    /// A property, its requiredness or nullability, array items, variants.
    Field,
    /// Enum values.
    Enum,
    /// Bounds, lengths, counts, patterns.
    Constraint,
    /// The authentication an operation accepts.
    Security,
}

/// A change the gate saw and found not breaking: something added, an input
/// loosened, an output tightened. Recorded where the gate decides, so the
/// rule that calls a change breaking is the rule that calls it not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub kind: Kind,
    /// JSON pointer (`#/...`) of the changed element: in the candidate, or
    /// in the baseline when the element is gone.
    pub pointer: String,
    /// What changed.
    pub message: String,
    /// The operations (and the part of each) through which it was reached.
    pub used_by: Vec<String>,
}

/// The result of [`compare`](crate::compare).
#[derive(Debug)]
pub struct Report {
    /// Breaking changes, sorted by pointer; empty when the candidate is
    /// additive-only.
    pub findings: Vec<Finding>,
    /// Every change that is not breaking, sorted by kind and pointer.
    pub changes: Vec<Change>,
    /// Baseline operations present in the candidate.
    pub kept: usize,
    /// Candidate operations absent from the baseline.
    pub added: usize,
    /// Every candidate schema node compared, with the sides of the wire it
    /// was reached on (the mutation tests pick their targets from it).
    pub usage: BTreeMap<String, BTreeSet<Dir>>,
}

impl Report {
    /// How many candidate schema nodes were compared.
    pub fn schemas(&self) -> usize {
        self.usage.len()
    }

    /// The gate's conclusion about the candidate (`new_label`) against the
    /// baseline (`old_label`).
    pub fn verdict(&self, old_label: &str, new_label: &str) -> Verdict {
        let count = self.findings.len();
        if count > 0 {
            return Verdict::Breaking(format!(
                "{count} breaking change{} in {new_label} against {old_label}; v1 is additive-only, \
                 so breaking changes ship as v2",
                if count == 1 { "" } else { "s" },
            ));
        }
        Verdict::Additive(format!(
            "{new_label} is additive-only over {old_label} \
             ({} v1 operations kept, {} added, {} schema nodes compared)",
            self.kept,
            self.added,
            self.schemas(),
        ))
    }
}

/// The last line of the gate's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No finding: the candidate may ship as v1.
    Additive(String),
    /// At least one finding: the candidate must not ship as v1.
    Breaking(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Additive(text) | Verdict::Breaking(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(used_by: &[&str]) -> Finding {
        Finding {
            pointer: "#/components/schemas/Error/properties/message".to_string(),
            message: "property removed from a response (v1 clients expect it)".to_string(),
            used_by: used_by.iter().map(ToString::to_string).collect(),
            narrows_input: false,
        }
    }

    #[test]
    fn a_finding_reads_as_one_line_naming_at_most_three_operations() {
        assert_eq!(
            finding(&[]).to_string(),
            "BREAKING #/components/schemas/Error/properties/message: property removed from a \
             response (v1 clients expect it)"
        );
        assert_eq!(
            finding(&["A response 4XX", "B response 4XX", "C response 4XX"]).to_string(),
            "BREAKING #/components/schemas/Error/properties/message: property removed from a \
             response (v1 clients expect it) [A response 4XX; B response 4XX; C response 4XX]"
        );
        assert!(
            finding(&["A", "B", "C", "D", "E"])
                .to_string()
                .ends_with(" [A; B; C; and 2 more]")
        );
    }

    #[test]
    fn the_verdict_counts_findings_or_what_was_compared() {
        let mut report = Report {
            findings: vec![finding(&[])],
            changes: Vec::new(),
            kept: 13,
            added: 1,
            usage: BTreeMap::from([("#/a".to_string(), BTreeSet::from([Dir::Request]))]),
        };
        assert_eq!(
            report.verdict("v1.json", "new.json"),
            Verdict::Breaking(
                "1 breaking change in new.json against v1.json; v1 is additive-only, so breaking \
                 changes ship as v2"
                    .to_string()
            )
        );
        report.findings.clear();
        assert_eq!(
            report.verdict("v1.json", "new.json").to_string(),
            "new.json is additive-only over v1.json (13 v1 operations kept, 1 added, 1 schema \
             nodes compared)"
        );
    }
}
