//! The change between two documents for a reviewer, behind `cargo xtask
//! openapi diff` and `docs/api-changes.md`: a few grouped lines instead of
//! a diff of thousands of lines of JSON.
//!
//! Everything structural comes from [`compare`](crate::compare): its
//! findings are the breaking changes (a correction's excused findings are
//! listed apart), its [`Change`]s everything else, so the summary and the
//! gate never disagree about what breaks. Only what the gate leaves out by
//! design is found here: changed texts and deprecations, and the component
//! schemas added or removed.
//!
//! ```
//! use serde_json::json;
//! let old = json!({"openapi": "3.0.3", "paths": {}});
//! let new = json!({"openapi": "3.0.3", "paths": {"/a": {"get": {
//!     "operationId": "a_view", "responses": {"204": {"description": "done"}}}}}});
//! let summary = anitrack_compat::summary::summarize(&old, &new, &[]);
//! assert_eq!(
//!     summary.text(),
//!     "Operations\n  GET /a: operation added (`a_view`)\n\
//!      Breaking: none (by the rules of `cargo xtask openapi compat`)\n"
//! );
//! ```

mod documentation;
mod place;
mod render;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::corrections::{self, Correction};
use crate::{Kind, compare};
use place::{Leaf, place};
pub use render::escape_markdown;

/// The groups of a summary, in the order they are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// Findings of the gate: `cargo xtask openapi compat` fails on them.
    Breaking,
    /// Findings a v1 correction excuses (inputs the server always refused).
    Corrected,
    Operations,
    Schemas,
    Parameters,
    Headers,
    Statuses,
    Fields,
    Enums,
    Constraints,
    Security,
    Deprecations,
    Descriptions,
}

impl Group {
    fn of(kind: Kind) -> Group {
        match kind {
            Kind::Operation => Group::Operations,
            Kind::Parameter => Group::Parameters,
            Kind::Header => Group::Headers,
            Kind::Status => Group::Statuses,
            Kind::Field => Group::Fields,
            Kind::Enum => Group::Enums,
            Kind::Constraint => Group::Constraints,
            Kind::Security => Group::Security,
        }
    }

    /// The group's heading.
    pub fn title(self) -> &'static str {
        match self {
            Group::Breaking => "Breaking (by the rules of `cargo xtask openapi compat`)",
            Group::Corrected => {
                "Narrowed inputs the server always refused (excused by the v1 corrections)"
            }
            Group::Operations => "Operations",
            Group::Schemas => "Schemas",
            Group::Parameters => "Parameters and request bodies",
            Group::Headers => "Response headers",
            Group::Statuses => "Statuses and response bodies",
            Group::Fields => "Fields",
            Group::Enums => "Enum values",
            Group::Constraints => "Constraints",
            Group::Security => "Security",
            Group::Deprecations => "Deprecations",
            Group::Descriptions => "Descriptions",
        }
    }
}

/// Where something changed and what: one line of a summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// `GET /list response 200 body.data[].status`, `ListEntry.notes`.
    pub place: String,
    /// What changed there, each as the gate words it.
    pub what: Vec<String>,
}

/// The change from one document to another, grouped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Non-empty groups, each with its lines sorted by place.
    pub groups: BTreeMap<Group, Vec<Line>>,
}

impl Summary {
    /// How many breaking changes the gate found (excused ones not counted).
    pub fn breaking(&self) -> usize {
        self.groups
            .get(&Group::Breaking)
            .map_or(0, |lines| lines.iter().map(|l| l.what.len()).sum())
    }

    /// Nothing a client or a reader of the reference would notice.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// The change from `old` to `new`, with `corrections` (the v1 corrections
/// in force for `new`) excusing the findings they list.
pub fn summarize(old: &Value, new: &Value, corrections: &[Correction]) -> Summary {
    let report = compare(old, new);
    let applied = corrections::apply(&report, corrections);
    let docs = [new, old];
    let mut lines = Lines::default();
    for finding in &applied.unexcused {
        let at = place(&finding.pointer, docs, Leaf::Operation);
        let via = via(&at, &finding.used_by);
        lines.add(Group::Breaking, at, format!("{}{via}", finding.message));
    }
    for (number, finding) in &applied.excused {
        lines.add(
            Group::Corrected,
            place(&finding.pointer, docs, Leaf::Operation),
            format!("{} (correction #{number})", brief(&finding.message)),
        );
    }
    for change in &report.changes {
        let at = place(&change.pointer, docs, Leaf::Operation);
        let mut what = change.message.clone();
        if change.kind == Kind::Operation
            && what == "operation added"
            && let Some(id) = change
                .pointer
                .strip_prefix('#')
                .and_then(|p| new.pointer(p))
                .and_then(|op| op["operationId"].as_str())
        {
            what = format!("{what} (`{id}`)");
        }
        lines.add(Group::of(change.kind), at, what);
    }
    let schemas = |doc: &Value| -> BTreeSet<String> {
        doc["components"]["schemas"]
            .as_object()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (old_schemas, new_schemas) = (schemas(old), schemas(new));
    for name in new_schemas.difference(&old_schemas) {
        lines.add(Group::Schemas, name.clone(), "added".to_string());
    }
    for name in old_schemas.difference(&new_schemas) {
        lines.add(Group::Schemas, name.clone(), "removed".to_string());
    }
    for note in documentation::notes(old, new) {
        let group = if note.deprecation {
            Group::Deprecations
        } else {
            Group::Descriptions
        };
        lines.add(group, place(&note.pointer, docs, Leaf::Element), note.what);
    }
    Summary { groups: lines.0 }
}

/// A narrowing's message without the reason it would break, which the
/// group's title says once.
fn brief(message: &str) -> &str {
    [" (narrows an input:", " (v1 clients may send"]
        .iter()
        .find_map(|reason| message.find(reason))
        .map_or(message, |at| &message[..at])
}

/// The operations a change to a component was reached through, when its
/// place does not name one.
fn via(at: &str, used_by: &[String]) -> String {
    let names_an_operation = at
        .split_once(' ')
        .is_some_and(|(method, _)| method.chars().all(|c| c.is_ascii_uppercase()));
    match used_by {
        [] => String::new(),
        _ if names_an_operation => String::new(),
        [one] => format!(" (via {one})"),
        [first, rest @ ..] => format!(" (via {first} and {} more)", rest.len()),
    }
}

#[derive(Default)]
struct Lines(BTreeMap<Group, Vec<Line>>);

impl Lines {
    fn add(&mut self, group: Group, place: String, what: String) {
        let lines = self.0.entry(group).or_default();
        let index = match lines.binary_search_by(|l| l.place.as_str().cmp(&place)) {
            Ok(index) => index,
            Err(index) => {
                lines.insert(
                    index,
                    Line {
                        place,
                        what: Vec::new(),
                    },
                );
                index
            }
        };
        if !lines[index].what.contains(&what) {
            lines[index].what.push(what);
        }
    }
}
