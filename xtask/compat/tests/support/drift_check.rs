//! drift (oxidecomputer/drift) as a second opinion: whenever it classes a
//! change as breaking clients of the old document, our report must have a
//! finding for it, at the same place.
//!
//! How drift's answers map onto ours:
//!
//! - `BackwardIncompatible` (the new document breaks clients of the old one)
//!   and `Incompatible` (breaks both ways) assert a break: we must report it.
//! - `ForwardIncompatible` is about new clients against an old server, which
//!   the v1 gate does not protect; `Trivial` asserts nothing breaks. Neither
//!   is checked: we are stricter than drift in places (a removed request
//!   body, a narrowed range), by design.
//! - `Unhandled` means drift saw a difference it does not judge (it says so
//!   for every change to an object's properties, `required`, array and
//!   string constraints): it asserts nothing either way, so it is not
//!   checked.
//! - drift gives up on some changes: an error when `openapiv3` cannot read a
//!   document (3.1's `type: [..., "null"]`), a panic on what it leaves as
//!   `todo!()` or `assert!` (a media type added or removed, a path parameter
//!   removed). Those changes are unclassified, not agreed with.
//!
//! "At the same place": drift names where a change is as a base (an
//! operation, or a `$ref` target such as a component schema) plus a subpath.
//! A finding matches when its pointer is that location or a node inside it,
//! on the old or the new side (drift's subpaths are turned into document
//! pointers first: see [`in_document`]); ours is often the more precise one
//! (drift names the operation that gained a status, we name the status).
//! And the finding must have been reached through one of the operations
//! drift reached the change through.
//!
//! Where drift and the gate disagree on purpose, [`excused`] says why; each
//! excuse is as narrow as the rule behind it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use anitrack_compat::{Finding, Report};
use drift::{Change, ChangeClass, ChangeInfo};
use serde_json::Value;

/// One change drift classes as breaking clients of the old document.
#[derive(Debug)]
pub struct Incompatibility {
    pub message: String,
    pub class: ChangeClass,
    /// (old, new) pointers of where drift saw it, one pair per path drift
    /// reached it by.
    pub locations: Vec<(String, String)>,
    /// The operations (`GET /items`) drift reached it through, or a path
    /// (`/items`) for what is shared by a path's operations.
    pub operations: Vec<String>,
}

/// drift's verdict on a change.
pub enum DriftVerdict {
    /// drift read both documents and judged the change.
    Classified(Vec<Incompatibility>),
    /// drift could not judge it: why.
    Unclassified(String),
}

/// What drift says about the change from `old` to `new`.
pub fn drift_verdict(old: &Value, new: &Value) -> DriftVerdict {
    if has_ref_loop(old) || has_ref_loop(new) {
        // drift follows `$ref` chains without a bound and never returns.
        return DriftVerdict::Unclassified("drift cannot follow a $ref loop".to_string());
    }
    quiet_drift_panics();
    let changes = match catch_unwind(AssertUnwindSafe(|| drift::compare(old, new))) {
        Ok(Ok(changes)) => changes,
        Ok(Err(error)) => {
            return DriftVerdict::Unclassified(format!("drift cannot read it: {error:#}"));
        }
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(ToString::to_string))
                .unwrap_or_default();
            return DriftVerdict::Unclassified(format!("drift gave up: {text}"));
        }
    };
    DriftVerdict::Classified(
        changes
            .iter()
            .flat_map(|change| {
                change
                    .changes
                    .iter()
                    .filter(|info| asserts_a_break(info.class))
                    .map(move |info| incompatibility(old, new, change, info))
            })
            .collect(),
    )
}

/// Whether some `$ref` leads, through `$ref`s alone, back to itself.
fn has_ref_loop(doc: &Value) -> bool {
    let mut references = Vec::new();
    collect_references(doc, &mut references);
    references.iter().any(|start| {
        let mut seen = vec![start.clone()];
        let mut reference = start.clone();
        while let Some(next) = doc
            .pointer(reference.trim_start_matches('#'))
            .and_then(|target| target.get("$ref"))
            .and_then(Value::as_str)
        {
            if seen.iter().any(|r| r == next) {
                return true;
            }
            seen.push(next.to_string());
            reference = next.to_string();
        }
        false
    })
}

fn collect_references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                out.push(reference.to_string());
            }
            map.values().for_each(|v| collect_references(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| collect_references(v, out)),
        _ => {}
    }
}

fn asserts_a_break(class: ChangeClass) -> bool {
    match class {
        ChangeClass::BackwardIncompatible | ChangeClass::Incompatible => true,
        ChangeClass::ForwardIncompatible | ChangeClass::Trivial | ChangeClass::Unhandled => false,
    }
}

fn incompatibility(
    old: &Value,
    new: &Value,
    change: &Change,
    info: &ChangeInfo,
) -> Incompatibility {
    let mut locations = Vec::new();
    let mut operations = Vec::new();
    for path in &change.paths {
        locations.push((
            in_document(old, path.old.current_pointer(), &info.old_subpath),
            in_document(new, path.new.current_pointer(), &info.new_subpath),
        ));
        for stack in [&path.old, &path.new] {
            if let Some(operation) = stack.endpoint_base().map(operation_of)
                && !operations.contains(&operation)
            {
                operations.push(operation);
            }
        }
    }
    Incompatibility {
        message: info.message.clone(),
        class: info.class,
        locations,
        operations,
    }
}

/// A drift location (a base and a subpath) as a pointer into `doc`. drift's
/// subpaths are not always document pointers: it writes `request_body` for
/// `requestBody`, and a bare `0` for the member of a one-member
/// `allOf`/`oneOf`/`anyOf` wrapper it looked through.
fn in_document(doc: &Value, base: &str, subpath: &str) -> String {
    let mut pointer = base.to_string();
    let mut node = doc.pointer(base.trim_start_matches('#'));
    for token in subpath.split('/').filter(|t| !t.is_empty()) {
        let token = if token == "request_body" {
            "requestBody"
        } else {
            token
        };
        let key = token.replace("~1", "/").replace("~0", "~");
        let wrapper = node.and_then(|n| {
            ["allOf", "oneOf", "anyOf"].into_iter().find(|k| {
                n.get(*k)
                    .and_then(Value::as_array)
                    .is_some_and(|m| m.len() == 1)
            })
        });
        match (node.and_then(|n| n.get(&key)), wrapper) {
            (None, Some(keyword)) if token == "0" => {
                pointer = format!("{pointer}/{keyword}/0");
                node = node.and_then(|n| n[keyword].get(0));
            }
            (child, _) => {
                pointer = format!("{pointer}/{token}");
                node = child
                    .or_else(|| node.and_then(|n| key.parse().ok().and_then(|i: usize| n.get(i))));
            }
        }
    }
    pointer
}

/// `#/paths/~1items/get` as `GET /items`; `#/paths/~1items` as `/items`.
fn operation_of(endpoint: &str) -> String {
    let tokens: Vec<String> = endpoint
        .trim_start_matches("#/paths/")
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    match tokens.as_slice() {
        [path, method] => format!("{} {path}", method.to_uppercase()),
        _ => tokens.join("/"),
    }
}

/// drift's own panics are how it declines a change; everyone else's still
/// print.
fn quiet_drift_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_drift = info
                .location()
                .is_some_and(|l| l.file().contains("/drift-"));
            if !in_drift {
                default(info);
            }
        }));
    });
}

/// Whether `inner` is `outer` or a node inside it.
fn within(inner: &str, outer: &str) -> bool {
    inner == outer || inner.starts_with(&format!("{outer}/"))
}

/// A pointer drift names that is no place in particular: `#/paths` stands
/// for "the operation is missing on this side".
fn is_placeholder(pointer: &str) -> bool {
    pointer == "#/paths"
}

fn same_place(finding: &Finding, pointer: &str) -> bool {
    if is_placeholder(pointer) {
        return false;
    }
    within(&finding.pointer, pointer)
}

fn same_operation(finding: &Finding, operations: &[String]) -> bool {
    if operations.is_empty() {
        return true;
    }
    operations.iter().any(|operation| {
        finding.used_by.iter().any(|used| {
            if operation.starts_with('/') {
                used.split(' ').nth(1) == Some(operation.as_str())
            } else {
                used == operation || used.starts_with(&format!("{operation} "))
            }
        })
    })
}

/// Whether our report has a finding for drift's incompatibility.
pub fn covers(report: &Report, incompatibility: &Incompatibility) -> bool {
    report.findings.iter().any(|finding| {
        incompatibility
            .locations
            .iter()
            .any(|(old, new)| same_place(finding, old) || same_place(finding, new))
            && same_operation(finding, &incompatibility.operations)
    })
}

/// Where the gate deliberately does not follow drift, and why; `None` when
/// the incompatibility must be reported. Each excuse is checked against
/// the documents, not just drift's message.
pub fn excused(
    incompatibility: &Incompatibility,
    old: &Value,
    new: &Value,
) -> Option<&'static str> {
    let message = incompatibility.message.as_str();
    let at = |doc: &'_ Value, pointer: &str| doc.pointer(pointer.trim_start_matches('#')).cloned();
    let sides = || {
        incompatibility
            .locations
            .iter()
            .map(|(o, n)| (at(old, o), at(new, n)))
    };
    if let Some(status) = message.strip_prefix("operation added a new response code ") {
        // drift does not read status ranges: a `404` beside the baseline's
        // `4XX` is a status v1 clients already decode (progenitor's client
        // answers both with the same `ErrorResponse`).
        let covered = sides().any(|(operation, _)| {
            operation.is_some_and(|op| {
                op["responses"]
                    .as_object()
                    .is_some_and(|r| r.keys().any(|range| range_covers(range, status)))
            })
        });
        if covered {
            return Some("a baseline status range already covers it");
        }
        // RFC 9110, 15.4.5: a 304 answers only a conditional request; the
        // operation gained the optional header that makes one, which a v1
        // client never sends.
        let conditional = status == "304"
            && sides().any(|(_, operation)| {
                operation.is_some_and(|op| {
                    ["If-None-Match", "If-Modified-Since"]
                        .iter()
                        .any(|h| has_header_parameter(new, &op, h))
                })
            })
            && sides().all(|(operation, _)| {
                operation.is_none_or(|op| {
                    !["If-None-Match", "If-Modified-Since"]
                        .iter()
                        .any(|h| has_header_parameter(old, &op, h))
                })
            });
        return conditional.then_some("a 304 answers only the new optional precondition header");
    }
    if let Some(name) = message
        .strip_prefix("The parameter '")
        .and_then(|rest| rest.strip_suffix("' was removed"))
    {
        // Header names are case-insensitive (RFC 9110, 5.1); drift matches
        // them exactly.
        let still_sent = sides().any(|(parameter, operation)| {
            parameter.is_some_and(|p| p["in"] == "header")
                && operation.is_some_and(|op| has_header_parameter(new, &op, name))
        });
        return still_sent.then_some("the same header, spelled in another case, is still there");
    }
    if matches!(
        message,
        "schema kind changed from regular type to any"
            | "schema kind changed from any to regular type"
    ) {
        // drift reads an object schema without `type: object` as `any`; the
        // gate infers the object from `properties` (and progenitor
        // generates the same client either way).
        let only_spelling = sides().all(|(o, n)| {
            let implicit_object = |s: &Value| {
                s.get("type").is_none()
                    && (s.get("properties").is_some() || s.get("additionalProperties").is_some())
            };
            let explicit_object = |s: &Value| s["type"] == "object";
            match (o, n) {
                (Some(o), Some(n)) => {
                    (explicit_object(&o) && implicit_object(&n))
                        || (implicit_object(&o) && explicit_object(&n))
                }
                _ => false,
            }
        });
        return only_spelling.then_some("`type: object` left implicit beside `properties`");
    }
    None
}

/// Whether a status range (`4XX`) covers a status (`404`), as the gate reads
/// them.
fn range_covers(range: &str, status: &str) -> bool {
    range.len() == 3
        && range.ends_with("XX")
        && status.len() == 3
        && status != range
        && range.as_bytes()[0] == status.as_bytes()[0]
}

/// Whether `operation` (or its path, for shared parameters) declares a
/// header parameter named `name` in any case.
fn has_header_parameter(doc: &Value, operation: &Value, name: &str) -> bool {
    let named = |p: &Value| {
        let p = p
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| doc.pointer(r.trim_start_matches('#')))
            .unwrap_or(p);
        p["in"] == "header"
            && p["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
    };
    operation["parameters"]
        .as_array()
        .is_some_and(|list| list.iter().any(named))
}

/// drift's incompatibilities that our report misses, unexcused.
pub fn missed<'i>(
    report: &Report,
    incompatibilities: &'i [Incompatibility],
    old: &Value,
    new: &Value,
) -> Vec<&'i Incompatibility> {
    incompatibilities
        .iter()
        .filter(|i| !covers(report, i) && excused(i, old, new).is_none())
        .collect()
}
