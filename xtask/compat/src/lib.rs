//! The additive-only gate of AniTrack's v1 API, behind
//! `cargo xtask openapi compat` and the conformance step.
//!
//! Compares a candidate OpenAPI document with the frozen v1 baseline
//! (`spec/baseline/v1.json`) and reports every change that could break a
//! client built against the baseline. Schemas are compared structurally:
//! `$ref`s are followed on both sides (cycles included), `allOf` members are
//! merged, a one-member `oneOf`/`anyOf` (with or without a `null` member) is
//! that member, and a `oneOf` of single-value enums is an enum. Every schema
//! is checked with the rules of the side of the wire it is used on; a schema
//! used in requests and responses gets both.
//!
//! Inputs (parameters, request bodies) may only accept more: no removed or
//! newly required parameter or property, no narrowed range, no removed enum
//! value, no new non-null restriction. Outputs (success and error responses)
//! may only promise more: no removed or no-longer-required property, no new
//! `null`, no new enum value (generated clients have closed enums), no
//! widened range (generated clients validate constrained strings and
//! integers), no new `3XX` status, but for a `304` on an operation that
//! gains an optional `If-None-Match`/`If-Modified-Since` (only a client that
//! sends one gets it). Any change of `type` or `format`, of an operation's path,
//! method or `operationId`, of a success status or of the security it
//! accepts is breaking on both sides. Descriptions, summaries, tags and
//! examples are free.
//!
//! Each finding names a JSON pointer: into the candidate for what changed,
//! into the baseline for what is gone.
//!
//! Where a rule decides a change does not break, it records it as a
//! [`Change`] (an operation, parameter, header, status or field added, an
//! input widened, an output narrowed, an enum value accepted): the
//! [`summary`] a reviewer reads (`cargo xtask openapi diff`,
//! `docs/api-changes.md`) is made of the findings and these, so it never
//! calls breaking what the gate passes, or the reverse.
//!
//! A narrowed input the server always refused (a constraint the baseline
//! left out) is not a break; [`corrections`] excuses exactly the findings a
//! reviewed list names, and fails on a listed one that no longer occurs.
//!
//! The walk is split by concern: `operations` pairs paths, operations,
//! parameters, bodies, responses and security schemes; `schema` resolves and
//! compares the schemas they use; `ranges` orders numeric and length bounds;
//! `report` holds what comes out; `summary` words it for a reviewer.
//!
//! ```
//! let baseline = serde_json::json!({"openapi": "3.0.3", "paths": {}});
//! let report = anitrack_compat::compare(&baseline, &baseline);
//! assert!(report.findings.is_empty());
//! assert_eq!(
//!     report.verdict("v1.json", "candidate").to_string(),
//!     "candidate is additive-only over v1.json (0 v1 operations kept, 0 added, 0 schema nodes compared)"
//! );
//! ```

mod checker;
pub mod corrections;
mod operations;
mod pointer;
mod ranges;
mod report;
mod schema;
pub mod summary;

use serde_json::Value;

use crate::checker::Checker;
pub use crate::report::{Change, Finding, Kind, Report, Verdict};

/// Which side of the wire a schema is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dir {
    /// Parameters and request bodies: sent by clients.
    Request,
    /// Response bodies and headers: decoded by clients.
    Response,
}

/// Compares a candidate document (`new`) against a baseline (`old`).
pub fn compare(old: &Value, new: &Value) -> Report {
    let mut checker = Checker::new(old, new);
    checker.document();
    checker.report()
}
