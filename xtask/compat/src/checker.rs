//! The state one comparison carries through the walk: both documents, where
//! it is, what it has found. The walk itself is spread over `operations` and
//! `schema`, one `impl Checker` block per concern.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::{Change, Dir, Finding, Kind, Report};

/// Which document a node was read from.
#[derive(Clone, Copy)]
pub(crate) enum Side {
    Old,
    New,
}

pub(crate) struct Checker<'d> {
    pub(crate) old: &'d Value,
    pub(crate) new: &'d Value,
    /// Where findings are being reached from (an operation and its part).
    pub(crate) context: String,
    /// (old sources, new sources, direction) already descended into during
    /// the current top-level comparison: stops `$ref` cycles.
    pub(crate) visited: BTreeSet<(Vec<String>, Vec<String>, Dir)>,
    findings: BTreeMap<(String, String), BTreeSet<String>>,
    /// What changed without breaking: (kind, pointer, message) to contexts.
    changes: BTreeMap<(Kind, String, String), BTreeSet<String>>,
    /// The findings (pointer, message) that narrow the values a request may
    /// hold: the only kind a correction may excuse.
    narrowings: BTreeSet<(String, String)>,
    /// Every candidate schema node reached, with the directions it was
    /// reached in (reported, and the tests mutate these).
    pub(crate) usage: BTreeMap<String, BTreeSet<Dir>>,
    pub(crate) kept: usize,
    pub(crate) added: usize,
    /// Comparing a parameter's schema: `null` cannot be sent there, so
    /// nullability does not matter.
    pub(crate) in_parameter: bool,
}

impl<'d> Checker<'d> {
    pub(crate) fn new(old: &'d Value, new: &'d Value) -> Self {
        Checker {
            old,
            new,
            context: String::new(),
            visited: BTreeSet::new(),
            findings: BTreeMap::new(),
            changes: BTreeMap::new(),
            narrowings: BTreeSet::new(),
            usage: BTreeMap::new(),
            kept: 0,
            added: 0,
            in_parameter: false,
        }
    }

    pub(crate) fn doc(&self, side: Side) -> &'d Value {
        match side {
            Side::Old => self.old,
            Side::New => self.new,
        }
    }

    pub(crate) fn report(self) -> Report {
        Report {
            findings: self
                .findings
                .into_iter()
                .map(|(key, used_by)| Finding {
                    narrows_input: self.narrowings.contains(&key),
                    pointer: key.0,
                    message: key.1,
                    used_by: used_by.into_iter().filter(|c| !c.is_empty()).collect(),
                })
                .collect(),
            changes: self
                .changes
                .into_iter()
                .map(|((kind, pointer, message), used_by)| Change {
                    kind,
                    pointer,
                    message,
                    used_by: used_by.into_iter().filter(|c| !c.is_empty()).collect(),
                })
                .collect(),
            kept: self.kept,
            added: self.added,
            usage: self.usage,
        }
    }

    pub(crate) fn breaking(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.findings
            .entry((pointer.into(), message.into()))
            .or_default()
            .insert(self.context.clone());
    }

    /// A change that breaks no v1 client (see [`Change`]).
    pub(crate) fn additive(
        &mut self,
        kind: Kind,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.changes
            .entry((kind, pointer.into(), message.into()))
            .or_default()
            .insert(self.context.clone());
    }

    /// A breaking change that only narrows the values a request may hold
    /// (a bound, a length, a pattern, an enum value, `null`, what an array
    /// or a map may hold): the kind a v1 correction may excuse, when the
    /// server always refused those values.
    pub(crate) fn narrowing(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        let (pointer, message) = (pointer.into(), message.into());
        self.narrowings.insert((pointer.clone(), message.clone()));
        self.breaking(pointer, message);
    }

    pub(crate) fn unresolved(&mut self, side: Side, site: &str, reference: &str) {
        let message = match side {
            Side::Old => format!("cannot resolve `{reference}` in the baseline"),
            Side::New => format!("cannot resolve `{reference}`"),
        };
        self.breaking(site, message);
    }

    /// Compares two schemas as a new top-level usage.
    pub(crate) fn top_schema(
        &mut self,
        part: &str,
        o: (&'d Value, &str),
        n: (&'d Value, &str),
        dir: Dir,
    ) {
        let saved = self.context.clone();
        self.context = format!("{saved} {part}");
        self.visited.clear();
        self.schema(o.0, o.1, n.0, n.1, dir);
        self.context = saved;
    }
}
