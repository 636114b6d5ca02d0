//! `cargo xtask openapi compat`: the additive-only gate of v1.
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
//! integers). Any change of `type` or `format`, of an operation's path,
//! method or `operationId`, of a success status or of the security it
//! accepts is breaking on both sides. Descriptions, summaries, tags and
//! examples are free.
//!
//! Each finding names a JSON pointer: into the candidate for what changed,
//! into the baseline for what is gone.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::workspace;

/// The frozen v1 document, relative to the workspace root.
pub const BASELINE_PATH: &str = "spec/baseline/v1.json";

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const MAX_REF_HOPS: usize = 64;
const MAX_NESTING: usize = 32;
/// Range keywords compared by [`Checker::constraints`].
const CONSTRAINTS: [&str; 13] = [
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "pattern",
    "multipleOf",
    "uniqueItems",
];

/// The conformance step: the emitted document against the baseline.
pub fn check_default() -> anyhow::Result<()> {
    run(None, None)
}

/// `cargo xtask openapi compat [--old FILE] [--new FILE]`.
pub fn run(old: Option<&Path>, new: Option<&Path>) -> anyhow::Result<()> {
    let (old_label, old_doc) = match old {
        Some(path) => (path.display().to_string(), load(path)?),
        None => (
            BASELINE_PATH.to_string(),
            load(&workspace::root().join(BASELINE_PATH))?,
        ),
    };
    let (new_label, new_doc) = match new {
        Some(path) => (path.display().to_string(), load(path)?),
        None => (
            "the document emitted from spec/src".to_string(),
            anitrack_spec::document::openapi()
                .map_err(anyhow::Error::msg)
                .context("emitting the OpenAPI document")?,
        ),
    };
    let report = compare(&old_doc, &new_doc);
    for finding in &report.findings {
        println!("openapi compat: {finding}");
    }
    if !report.findings.is_empty() {
        bail!(
            "{} breaking change{} in {new_label} against {old_label}; v1 is additive-only, \
             so breaking changes ship as v2",
            report.findings.len(),
            if report.findings.len() == 1 { "" } else { "s" },
        );
    }
    println!(
        "openapi compat: {new_label} is additive-only over {old_label} \
         ({} v1 operations kept, {} added, {} schema nodes compared)",
        report.kept, report.added, report.schemas,
    );
    Ok(())
}

fn load(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let document: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let version = document["openapi"].as_str().unwrap_or_default();
    if !version.starts_with("3.") || !document["paths"].is_object() {
        bail!(
            "{} is not an OpenAPI 3 document (no `openapi: 3.x` or no `paths`)",
            path.display()
        );
    }
    Ok(document)
}

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
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BREAKING {}: {}", self.pointer, self.message)?;
        if !self.used_by.is_empty() {
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

/// The result of [`compare`].
#[derive(Debug)]
pub struct Report {
    /// Breaking changes, sorted by pointer; empty when the candidate is
    /// additive-only.
    pub findings: Vec<Finding>,
    /// Baseline operations present in the candidate.
    pub kept: usize,
    /// Candidate operations absent from the baseline.
    pub added: usize,
    /// Candidate schema nodes compared.
    pub schemas: usize,
}

/// Compares a candidate document (`new`) against a baseline (`old`).
pub fn compare(old: &Value, new: &Value) -> Report {
    let mut checker = Checker::new(old, new);
    checker.document();
    checker.report()
}

/// Which side of the wire a schema is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dir {
    /// Parameters and request bodies: sent by clients.
    Request,
    /// Response bodies and headers: decoded by clients.
    Response,
}

#[derive(Clone, Copy)]
enum Side {
    Old,
    New,
}

/// An operation of one side.
struct Op<'d> {
    path: &'d str,
    item: &'d Value,
    item_ptr: String,
    op: &'d Value,
    ptr: String,
}

struct Checker<'d> {
    old: &'d Value,
    new: &'d Value,
    /// Where findings are being reached from (an operation and its part).
    context: String,
    /// (old sources, new sources, direction) already descended into during
    /// the current top-level comparison: stops `$ref` cycles.
    visited: BTreeSet<(Vec<String>, Vec<String>, Dir)>,
    findings: BTreeMap<(String, String), BTreeSet<String>>,
    /// Every candidate schema node reached, with the directions it was
    /// reached in (the tests mutate these).
    usage: BTreeMap<String, BTreeSet<Dir>>,
    kept: usize,
    added: usize,
    /// Comparing a parameter's schema: `null` cannot be sent there, so
    /// nullability does not matter.
    in_parameter: bool,
}

impl<'d> Checker<'d> {
    fn new(old: &'d Value, new: &'d Value) -> Self {
        Checker {
            old,
            new,
            context: String::new(),
            visited: BTreeSet::new(),
            findings: BTreeMap::new(),
            usage: BTreeMap::new(),
            kept: 0,
            added: 0,
            in_parameter: false,
        }
    }

    fn doc(&self, side: Side) -> &'d Value {
        match side {
            Side::Old => self.old,
            Side::New => self.new,
        }
    }

    fn report(self) -> Report {
        Report {
            findings: self
                .findings
                .into_iter()
                .map(|((pointer, message), used_by)| Finding {
                    pointer,
                    message,
                    used_by: used_by.into_iter().filter(|c| !c.is_empty()).collect(),
                })
                .collect(),
            kept: self.kept,
            added: self.added,
            schemas: self.usage.len(),
        }
    }

    fn breaking(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.findings
            .entry((pointer.into(), message.into()))
            .or_default()
            .insert(self.context.clone());
    }

    fn unresolved(&mut self, side: Side, site: &str, reference: &str) {
        let message = match side {
            Side::Old => format!("cannot resolve `{reference}` in the baseline"),
            Side::New => format!("cannot resolve `{reference}`"),
        };
        self.breaking(site, message);
    }

    // ---- paths and operations -------------------------------------------

    fn document(&mut self) {
        let old_paths = paths(self.old);
        let new_paths = paths(self.new);
        for (template, &(old_path, old_item)) in &old_paths {
            let new_entry = new_paths.get(template).copied();
            let old_item_ptr = child("#/paths", old_path);
            for method in METHODS {
                let Some(old_op) = old_item.get(method) else {
                    continue;
                };
                let old_ptr = child(&old_item_ptr, method);
                self.context = format!("{} {old_path}", method.to_uppercase());
                let new_op = new_entry.and_then(|(_, item)| item.get(method));
                match (new_entry, new_op) {
                    (Some((new_path, new_item)), Some(new_op)) => {
                        self.kept += 1;
                        let new_item_ptr = child("#/paths", new_path);
                        let new_ptr = child(&new_item_ptr, method);
                        self.operation(
                            &Op {
                                path: old_path,
                                item: old_item,
                                item_ptr: old_item_ptr.clone(),
                                op: old_op,
                                ptr: old_ptr,
                            },
                            &Op {
                                path: new_path,
                                item: new_item,
                                item_ptr: new_item_ptr,
                                op: new_op,
                                ptr: new_ptr,
                            },
                        );
                    }
                    (None, _) => self.breaking(old_ptr, "operation removed (its path is gone)"),
                    (Some(_), None) => self.breaking(old_ptr, "operation removed"),
                }
            }
        }
        for (template, (_, new_item)) in &new_paths {
            let old_item = old_paths.get(template).map(|(_, item)| *item);
            self.added += METHODS
                .iter()
                .filter(|m| new_item.get(**m).is_some())
                .filter(|m| old_item.and_then(|item| item.get(**m)).is_none())
                .count();
        }
    }

    fn operation(&mut self, o: &Op<'d>, n: &Op<'d>) {
        let op_context = self.context.clone();
        let old_id = o.op.get("operationId").and_then(Value::as_str);
        let new_id = n.op.get("operationId").and_then(Value::as_str);
        if let Some(old_id) = old_id
            && new_id != Some(old_id)
        {
            self.breaking(
                format!("{}/operationId", n.ptr),
                format!(
                    "operationId changed from {old_id} to {} (generated clients name their methods after it)",
                    new_id.unwrap_or("(none)")
                ),
            );
        }
        self.parameters(o, n);
        self.context = op_context.clone();
        self.request_body(o, n);
        self.context = op_context.clone();
        self.responses(o, n, &op_context);
        self.context = op_context;
        self.security(o, n);
    }

    /// Compares two schemas as a new top-level usage.
    fn top_schema(&mut self, part: &str, o: (&'d Value, &str), n: (&'d Value, &str), dir: Dir) {
        let saved = self.context.clone();
        self.context = format!("{saved} {part}");
        self.visited.clear();
        self.schema(o.0, o.1, n.0, n.1, dir);
        self.context = saved;
    }

    // ---- parameters -----------------------------------------------------

    fn params(&mut self, side: Side, op: &Op<'d>) -> BTreeMap<String, Param<'d>> {
        let doc = self.doc(side);
        let vars = template_vars(op.path);
        let mut out = BTreeMap::new();
        for (list, base) in [
            (op.item.get("parameters"), &op.item_ptr),
            (op.op.get("parameters"), &op.ptr),
        ] {
            let Some(list) = list.and_then(Value::as_array) else {
                continue;
            };
            for (index, raw) in list.iter().enumerate() {
                let site = format!("{base}/parameters/{index}");
                let (param, ptr) = match resolve(doc, raw, &site) {
                    Ok(resolved) => resolved,
                    Err(reference) => {
                        self.unresolved(side, &site, &reference);
                        continue;
                    }
                };
                let name = param["name"].as_str().unwrap_or_default().to_string();
                let location = param["in"].as_str().unwrap_or_default().to_string();
                let key = match location.as_str() {
                    "path" => vars
                        .iter()
                        .position(|v| *v == name)
                        .map_or_else(|| format!("path:{name}"), |i| format!("path#{i}")),
                    "header" => format!("header:{}", name.to_ascii_lowercase()),
                    other => format!("{other}:{name}"),
                };
                let style = param["style"]
                    .as_str()
                    .unwrap_or(match location.as_str() {
                        "query" | "cookie" => "form",
                        _ => "simple",
                    })
                    .to_string();
                let explode = param["explode"].as_bool().unwrap_or(style == "form");
                let schema = match param.get("schema") {
                    Some(schema) => Some((schema, format!("{ptr}/schema"))),
                    None => param
                        .get("content")
                        .and_then(Value::as_object)
                        .and_then(|content| content.iter().next())
                        .and_then(|(media, m)| {
                            m.get("schema").map(|s| {
                                (
                                    s,
                                    format!("{}/schema", child(&format!("{ptr}/content"), media)),
                                )
                            })
                        }),
                };
                out.insert(
                    key,
                    Param {
                        required: location == "path"
                            || param["required"].as_bool().unwrap_or(false),
                        name,
                        location,
                        ptr,
                        schema,
                        style,
                        explode,
                    },
                );
            }
        }
        out
    }

    fn parameters(&mut self, o: &Op<'d>, n: &Op<'d>) {
        let old_params = self.params(Side::Old, o);
        let new_params = self.params(Side::New, n);
        for (key, old) in &old_params {
            let label = format!("{} parameter `{}`", old.location, old.name);
            let Some(new) = new_params.get(key) else {
                let moved = new_params
                    .values()
                    .find(|p| p.name.eq_ignore_ascii_case(&old.name) && p.location != old.location);
                match moved {
                    Some(moved) => self.breaking(
                        moved.ptr.clone(),
                        format!("{label} moved to {}", moved.location),
                    ),
                    None => self.breaking(old.ptr.clone(), format!("{label} removed")),
                }
                continue;
            };
            if !old.required && new.required {
                self.breaking(new.ptr.clone(), format!("{label} became required"));
            }
            if old.style != new.style || old.explode != new.explode {
                self.breaking(
                    new.ptr.clone(),
                    format!(
                        "{label} serialization changed from style {} explode {} to style {} explode {}",
                        old.style, old.explode, new.style, new.explode
                    ),
                );
            }
            if let (Some(os), Some(ns)) = (&old.schema, &new.schema) {
                self.in_parameter = true;
                self.top_schema(
                    &format!("parameter {}", old.name),
                    (os.0, &os.1),
                    (ns.0, &ns.1),
                    Dir::Request,
                );
                self.in_parameter = false;
            }
        }
        for (key, new) in &new_params {
            if new.required && !old_params.contains_key(key) {
                self.breaking(
                    new.ptr.clone(),
                    format!("new required {} parameter `{}`", new.location, new.name),
                );
            }
        }
    }

    // ---- request bodies -------------------------------------------------

    fn request_body(&mut self, o: &Op<'d>, n: &Op<'d>) {
        let Some((old_body, old_ptr)) = self.body(Side::Old, o) else {
            if let Some((new_body, new_ptr)) = self.body(Side::New, n)
                && new_body["required"].as_bool() == Some(true)
            {
                self.breaking(new_ptr, "new required request body");
            }
            return;
        };
        let Some((new_body, new_ptr)) = self.body(Side::New, n) else {
            self.breaking(old_ptr, "request body removed (v1 clients send it)");
            return;
        };
        if old_body["required"].as_bool() != Some(true)
            && new_body["required"].as_bool() == Some(true)
        {
            self.breaking(
                format!("{new_ptr}/required"),
                "optional request body became required",
            );
        }
        let Some(old_content) = old_body.get("content").and_then(Value::as_object) else {
            return;
        };
        for (media, old_media) in old_content {
            let old_media_ptr = child(&format!("{old_ptr}/content"), media);
            let Some(new_media) = new_body.get("content").and_then(|c| c.get(media)) else {
                self.breaking(
                    old_media_ptr,
                    format!("request media type {media} no longer accepted"),
                );
                continue;
            };
            let new_media_ptr = child(&format!("{new_ptr}/content"), media);
            if let (Some(os), Some(ns)) = (old_media.get("schema"), new_media.get("schema")) {
                self.top_schema(
                    "request body",
                    (os, &format!("{old_media_ptr}/schema")),
                    (ns, &format!("{new_media_ptr}/schema")),
                    Dir::Request,
                );
            }
        }
    }

    fn body(&mut self, side: Side, op: &Op<'d>) -> Option<(&'d Value, String)> {
        let raw = op.op.get("requestBody")?;
        let site = format!("{}/requestBody", op.ptr);
        match resolve(self.doc(side), raw, &site) {
            Ok(resolved) => Some(resolved),
            Err(reference) => {
                self.unresolved(side, &site, &reference);
                None
            }
        }
    }

    // ---- responses ------------------------------------------------------

    fn responses(&mut self, o: &Op<'d>, n: &Op<'d>, op_context: &str) {
        let old_responses = entries(&o.op["responses"]);
        let new_responses = entries(&n.op["responses"]);
        let new_response = |status: &str| {
            new_responses
                .iter()
                .find(|(s, _)| *s == status)
                .map(|(s, r)| (*s, *r))
        };
        let old_success = old_responses.iter().any(|(s, _)| s.starts_with('2'));
        for &(status, old_response) in &old_responses {
            self.context = op_context.to_string();
            let old_ptr = child(&format!("{}/responses", o.ptr), status);
            // The same status, else a range covering it (or covered by it),
            // else `default` for an error status.
            let found = new_response(status)
                .or_else(|| {
                    new_responses
                        .iter()
                        .find(|(s, _)| covers(s, status) || covers(status, s))
                        .copied()
                })
                .or_else(|| new_response("default").filter(|_| !status.starts_with('2')));
            let Some((new_status, new_response)) = found else {
                if status.starts_with('2') {
                    self.breaking(
                        old_ptr,
                        format!("success status {status} removed (v1 clients expect it)"),
                    );
                } else if has_content(self.old, old_response) {
                    self.breaking(
                        old_ptr,
                        format!("response {status} removed (v1 clients decode its body)"),
                    );
                }
                continue;
            };
            let new_ptr = child(&format!("{}/responses", n.ptr), new_status);
            self.response(status, (old_response, &old_ptr), (new_response, &new_ptr));
        }
        self.context = op_context.to_string();
        if old_success {
            for &(status, _) in new_responses.iter().filter(|(s, _)| s.starts_with('2')) {
                if !old_responses
                    .iter()
                    .any(|(s, _)| *s == status || covers(s, status))
                {
                    self.breaking(
                        child(&format!("{}/responses", n.ptr), status),
                        format!(
                            "new success status {status} (v1 clients treat it as an unexpected response)"
                        ),
                    );
                }
            }
        }
    }

    fn response(&mut self, status: &str, o: (&'d Value, &str), n: (&'d Value, &str)) {
        let (old, old_ptr) = match resolve(self.old, o.0, o.1) {
            Ok(resolved) => resolved,
            Err(reference) => return self.unresolved(Side::Old, o.1, &reference),
        };
        let (new, new_ptr) = match resolve(self.new, n.0, n.1) {
            Ok(resolved) => resolved,
            Err(reference) => return self.unresolved(Side::New, n.1, &reference),
        };
        let part = format!("response {status}");
        if let Some(old_content) = old.get("content").and_then(Value::as_object) {
            let new_content = new.get("content").and_then(Value::as_object);
            for (media, old_media) in old_content {
                let old_media_ptr = child(&format!("{old_ptr}/content"), media);
                let Some(new_media) = new_content.and_then(|c| c.get(media)) else {
                    let message = if new_content.is_none_or(|c| c.is_empty()) {
                        format!("response {status} body removed (v1 clients decode it)")
                    } else {
                        format!("response {status} media type {media} removed")
                    };
                    self.breaking(old_media_ptr, message);
                    continue;
                };
                let new_media_ptr = child(&format!("{new_ptr}/content"), media);
                if let (Some(os), Some(ns)) = (old_media.get("schema"), new_media.get("schema")) {
                    self.top_schema(
                        &part,
                        (os, &format!("{old_media_ptr}/schema")),
                        (ns, &format!("{new_media_ptr}/schema")),
                        Dir::Response,
                    );
                }
            }
        }
        let Some(old_headers) = old.get("headers").and_then(Value::as_object) else {
            return;
        };
        let new_headers = new.get("headers").and_then(Value::as_object);
        for (name, old_header) in old_headers {
            let old_header_ptr = child(&format!("{old_ptr}/headers"), name);
            let found =
                new_headers.and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)));
            let Some((new_name, new_header)) = found else {
                self.breaking(
                    old_header_ptr,
                    format!("response {status} header {name} removed"),
                );
                continue;
            };
            let new_header_ptr = child(&format!("{new_ptr}/headers"), new_name);
            let (Ok((oh, ohp)), Ok((nh, nhp))) = (
                resolve(self.old, old_header, &old_header_ptr),
                resolve(self.new, new_header, &new_header_ptr),
            ) else {
                self.breaking(new_header_ptr, "cannot resolve a response header");
                continue;
            };
            if let (Some(os), Some(ns)) = (oh.get("schema"), nh.get("schema")) {
                self.top_schema(
                    &format!("{part} header {name}"),
                    (os, &format!("{ohp}/schema")),
                    (ns, &format!("{nhp}/schema")),
                    Dir::Response,
                );
            }
        }
    }

    // ---- security -------------------------------------------------------

    fn security(&mut self, o: &Op<'d>, n: &Op<'d>) {
        let old_alternatives = requirements(self.old, o.op);
        let new_alternatives = requirements(self.new, n.op);
        let anonymous = |alternatives: &[BTreeMap<String, Vec<String>>]| {
            alternatives.is_empty() || alternatives.iter().any(BTreeMap::is_empty)
        };
        let pointer = format!("{}/security", n.ptr);
        if anonymous(&old_alternatives) {
            if !anonymous(&new_alternatives) {
                self.breaking(pointer, "operation now requires authentication");
            }
            return;
        }
        if anonymous(&new_alternatives) {
            return;
        }
        for alternative in &old_alternatives {
            if !new_alternatives.contains(alternative) {
                let names: Vec<&str> = alternative.keys().map(String::as_str).collect();
                self.breaking(
                    pointer.clone(),
                    format!(
                        "security requirement {{{}}} no longer accepted",
                        names.join(", ")
                    ),
                );
            }
            for name in alternative.keys() {
                let scheme_ptr = child("#/components/securitySchemes", name);
                let old_scheme = self.old.pointer(&scheme_ptr[1..]);
                let new_scheme = self.new.pointer(&scheme_ptr[1..]);
                let essential = |scheme: Option<&Value>| {
                    scheme.map(|s| {
                        ["type", "scheme", "in", "name", "flows", "openIdConnectUrl"]
                            .map(|k| s.get(k).cloned())
                    })
                };
                if new_scheme.is_none() {
                    self.breaking(scheme_ptr, format!("security scheme {name} removed"));
                } else if essential(old_scheme) != essential(new_scheme) {
                    self.breaking(scheme_ptr, format!("security scheme {name} changed"));
                }
            }
        }
    }

    // ---- schemas --------------------------------------------------------

    fn schema(
        &mut self,
        o_node: &'d Value,
        o_site: &str,
        n_node: &'d Value,
        n_site: &str,
        dir: Dir,
    ) {
        let o = View::of(self.old, o_node, o_site);
        let n = View::of(self.new, n_node, n_site);
        for source in &n.sources {
            self.usage.entry(source.clone()).or_default().insert(dir);
        }
        for reference in &o.unresolved {
            self.unresolved(Side::Old, o_site, reference);
        }
        for reference in &n.unresolved {
            self.unresolved(Side::New, n_site, reference);
        }
        if !o.unresolved.is_empty() || !n.unresolved.is_empty() {
            return;
        }
        if !self.scalars(&o, &n, dir) {
            return;
        }
        if !self
            .visited
            .insert((o.sources.clone(), n.sources.clone(), dir))
        {
            return;
        }
        self.properties(&o, &n, dir);
        self.additional(&o, &n, dir);
        self.items(&o, &n, dir);
        self.variants(&o, &n, dir);
    }

    /// Type, format, nullability, enum values and ranges. Returns false when
    /// the type changed (comparing further would only add noise).
    fn scalars(&mut self, o: &View<'d>, n: &View<'d>, dir: Dir) -> bool {
        let old_types = o.types.as_ref().map(|t| &t.value);
        let new_types = n.types.as_ref().map(|t| &t.value);
        if old_types != new_types {
            self.breaking(
                place(Attr::at(&o.types), Attr::at(&n.types), n),
                format!(
                    "type changed from {} to {}",
                    show_types(old_types),
                    show_types(new_types)
                ),
            );
            return false;
        }
        let old_format = o.format.as_ref().map(|f| f.value.as_str());
        let new_format = n.format.as_ref().map(|f| f.value.as_str());
        if old_format != new_format {
            self.breaking(
                place(Attr::at(&o.format), Attr::at(&n.format), n),
                format!(
                    "format changed from {} to {}",
                    old_format.unwrap_or("(none)"),
                    new_format.unwrap_or("(none)")
                ),
            );
        }
        match (dir, &o.nullable, &n.nullable) {
            (Dir::Response, None, Some(at)) => self.breaking(
                at.clone(),
                "became nullable in a response (v1 clients cannot decode null)",
            ),
            (Dir::Request, Some(at), None) if !self.in_parameter => self.breaking(
                place(Some(at), None, n),
                "no longer accepts null in a request (v1 clients may send it)",
            ),
            _ => {}
        }
        self.enumeration(o, n, dir);
        self.constraints(o, n, dir);
        true
    }

    fn enumeration(&mut self, o: &View<'d>, n: &View<'d>, dir: Dir) {
        let pointer = place(Attr::at(&o.enumeration), Attr::at(&n.enumeration), n);
        match (dir, &o.enumeration, &n.enumeration) {
            (Dir::Response, Some(old), Some(new)) => {
                for value in new.value.iter().filter(|v| !old.value.contains(v)) {
                    self.breaking(
                        pointer.clone(),
                        format!(
                            "enum value {value} added to a response (v1 clients have closed enums)"
                        ),
                    );
                }
            }
            (Dir::Request, Some(old), Some(new)) => {
                for value in old.value.iter().filter(|v| !new.value.contains(v)) {
                    self.breaking(
                        pointer.clone(),
                        format!(
                            "enum value {value} removed from a request (v1 clients may send it)"
                        ),
                    );
                }
            }
            (Dir::Response, Some(_), None) => self.breaking(
                pointer,
                "enum restriction removed from a response (v1 clients have closed enums)",
            ),
            (Dir::Request, None, Some(_)) => self.breaking(
                pointer,
                "request values newly restricted to an enum (v1 clients may send others)",
            ),
            _ => {}
        }
    }

    fn constraints(&mut self, o: &View<'d>, n: &View<'d>, dir: Dir) {
        for change in range_changes(o, n) {
            let report = matches!(
                (dir, change.effect),
                (_, Effect::Both)
                    | (Dir::Request, Effect::Narrowed)
                    | (Dir::Response, Effect::Widened)
            );
            if report {
                let suffix = match dir {
                    Dir::Request => "narrows an input: v1 clients may send values now rejected",
                    Dir::Response => "widens an output: v1 clients may validate it",
                };
                let pointer = place(change.old_at.as_deref(), change.new_at.as_deref(), n);
                self.breaking(pointer, format!("{} ({suffix})", change.message));
            }
        }
    }

    fn properties(&mut self, o: &View<'d>, n: &View<'d>, dir: Dir) {
        for (name, (old_schema, old_ptr)) in &o.properties {
            let Some((new_schema, new_ptr)) = n.properties.get(name) else {
                self.breaking(
                    old_ptr.clone(),
                    match dir {
                        Dir::Response => "property removed from a response (v1 clients expect it)",
                        Dir::Request => "property removed from a request (v1 clients send it)",
                    },
                );
                continue;
            };
            let was_required = o.required.contains(name);
            let is_required = n.required.contains(name);
            match dir {
                Dir::Response if was_required && !is_required => self.breaking(
                    new_ptr.clone(),
                    "property no longer required in a response (v1 clients rely on it being present)",
                ),
                Dir::Request if !was_required && is_required => {
                    self.breaking(new_ptr.clone(), "optional request property became required")
                }
                _ => {}
            }
            self.schema(old_schema, old_ptr, new_schema, new_ptr, dir);
        }
        for (name, (_, new_ptr)) in &n.properties {
            if o.properties.contains_key(name) {
                continue;
            }
            if dir == Dir::Request && n.required.contains(name) {
                self.breaking(new_ptr.clone(), "new required request property");
            }
            if dir == Dir::Response && matches!(o.additional, Some((Extra::Never, _))) {
                self.breaking(
                    new_ptr.clone(),
                    "new property in a response object that v1 closed with additionalProperties: false",
                );
            }
        }
        // Required names without a property schema.
        let required_ptr = format!("{}/required", n.ptr);
        match dir {
            Dir::Request => {
                for name in n.required.difference(&o.required) {
                    if !n.properties.contains_key(name) {
                        self.breaking(
                            required_ptr.clone(),
                            format!("new required request property {name}"),
                        );
                    }
                }
            }
            Dir::Response => {
                for name in o.required.difference(&n.required) {
                    if !o.properties.contains_key(name) {
                        self.breaking(
                            required_ptr.clone(),
                            format!("property {name} no longer required in a response"),
                        );
                    }
                }
            }
        }
    }

    fn additional(&mut self, o: &View<'d>, n: &View<'d>, dir: Dir) {
        let old = o.additional.as_ref().map_or(Extra::Any, |(e, _)| *e);
        let new = n.additional.as_ref().map_or(Extra::Any, |(e, _)| *e);
        let new_ptr = n
            .additional
            .as_ref()
            .map_or_else(|| n.ptr.clone(), |(_, at)| at.clone());
        let widened = match (old, new) {
            (Extra::Schema(os), Extra::Schema(ns)) => {
                let old_ptr = o
                    .additional
                    .as_ref()
                    .map_or_else(|| o.ptr.clone(), |(_, at)| at.clone());
                self.schema(os, &old_ptr, ns, &new_ptr, dir);
                return;
            }
            (Extra::Any, Extra::Any) | (Extra::Never, Extra::Never) => return,
            (Extra::Never, _) | (Extra::Schema(_), Extra::Any) => true,
            (Extra::Any, _) | (Extra::Schema(_), Extra::Never) => false,
        };
        let message = format!(
            "additionalProperties {} from {} to {}",
            if widened { "widened" } else { "narrowed" },
            old.describe(),
            new.describe()
        );
        match (dir, widened) {
            (Dir::Response, true) => self.breaking(
                new_ptr,
                format!("{message} in a response (v1 clients reject it)"),
            ),
            (Dir::Request, false) => self.breaking(
                new_ptr,
                format!("{message} in a request (v1 clients may send others)"),
            ),
            _ => {}
        }
    }

    fn items(&mut self, o: &View<'d>, n: &View<'d>, dir: Dir) {
        match (&o.items, &n.items, dir) {
            (Some((os, op)), Some((ns, np)), _) => self.schema(os, op, ns, np, dir),
            (Some((_, op)), None, Dir::Response) => self.breaking(
                op.clone(),
                "array items schema removed from a response (v1 clients decode items by it)",
            ),
            (None, Some((_, np)), Dir::Request) => self.breaking(
                np.clone(),
                "array items newly restricted in a request (v1 clients may send others)",
            ),
            _ => {}
        }
    }

    fn variants(&mut self, o: &View<'d>, n: &View<'d>, dir: Dir) {
        if o.variants.is_empty() && n.variants.is_empty() {
            return;
        }
        if o.variants.is_empty() {
            if dir == Dir::Request {
                self.breaking(
                    n.ptr.clone(),
                    "request schema newly restricted to oneOf/anyOf variants",
                );
            }
            return;
        }
        if n.variants.is_empty() {
            if dir == Dir::Response {
                self.breaking(
                    n.ptr.clone(),
                    "oneOf/anyOf variants of a response replaced by an unconstrained schema",
                );
            }
            return;
        }
        let old_keyed = keyed_variants(self.old, &o.variants);
        let new_keyed = keyed_variants(self.new, &n.variants);
        for (key, (old_schema, old_ptr)) in &old_keyed {
            match new_keyed.get(key) {
                Some((new_schema, new_ptr)) => {
                    self.schema(old_schema, old_ptr, new_schema, new_ptr, dir)
                }
                None if dir == Dir::Request => self.breaking(
                    old_ptr.clone(),
                    format!("variant {key} removed from a request (v1 clients may send it)"),
                ),
                None => {}
            }
        }
        if dir == Dir::Response {
            for (key, (_, new_ptr)) in &new_keyed {
                if !old_keyed.contains_key(key) {
                    self.breaking(
                        new_ptr.clone(),
                        format!("new variant {key} in a response (v1 clients cannot decode it)"),
                    );
                }
            }
        }
    }
}

struct Param<'d> {
    name: String,
    location: String,
    required: bool,
    ptr: String,
    schema: Option<(&'d Value, String)>,
    style: String,
    explode: bool,
}

// ---- schema views -------------------------------------------------------

/// A value and the pointer of the node that declared it.
struct Attr<T> {
    value: T,
    at: String,
}

impl<T> Attr<T> {
    fn at(attr: &Option<Attr<T>>) -> Option<&str> {
        attr.as_ref().map(|a| a.at.as_str())
    }
}

#[derive(Clone, Copy)]
enum Extra<'d> {
    Any,
    Never,
    Schema(&'d Value),
}

impl Extra<'_> {
    fn describe(&self) -> &'static str {
        match self {
            Extra::Any => "any",
            Extra::Never => "false",
            Extra::Schema(_) => "a schema",
        }
    }
}

/// A schema with `$ref`s followed and `allOf` merged.
#[derive(Default)]
struct View<'d> {
    /// Where the schema is used (before following `$ref`).
    site: String,
    /// Where it is defined (after following `$ref`).
    ptr: String,
    /// Every node merged into this view.
    sources: Vec<String>,
    unresolved: Vec<String>,
    types: Option<Attr<BTreeSet<String>>>,
    /// Where `null` was allowed, if it is.
    nullable: Option<String>,
    format: Option<Attr<String>>,
    enumeration: Option<Attr<Vec<Value>>>,
    properties: BTreeMap<String, (&'d Value, String)>,
    required: BTreeSet<String>,
    additional: Option<(Extra<'d>, String)>,
    items: Option<(&'d Value, String)>,
    variants: Vec<(&'d Value, String)>,
    constraints: BTreeMap<&'static str, Attr<Value>>,
}

impl<'d> View<'d> {
    fn of(doc: &'d Value, node: &'d Value, site: &str) -> View<'d> {
        let mut view = View {
            site: site.to_string(),
            ..View::default()
        };
        match resolve(doc, node, site) {
            Ok((node, ptr)) => {
                view.ptr = ptr.clone();
                view.absorb(doc, node, ptr, 0, true);
            }
            Err(reference) => {
                view.ptr = site.to_string();
                view.unresolved.push(reference);
            }
        }
        if view.types.is_none() && view.variants.is_empty() {
            let inferred = if !view.properties.is_empty() || view.additional.is_some() {
                Some("object")
            } else if view.items.is_some() {
                Some("array")
            } else {
                None
            };
            view.types = inferred.map(|t| Attr {
                value: BTreeSet::from([t.to_string()]),
                at: view.ptr.clone(),
            });
        }
        view
    }

    fn absorb_ref(&mut self, doc: &'d Value, node: &'d Value, site: String, depth: usize) {
        if depth > MAX_NESTING {
            self.unresolved.push(format!("{site} (nested too deep)"));
            return;
        }
        match resolve(doc, node, &site) {
            Ok((node, at)) => self.absorb(doc, node, at, depth, false),
            Err(reference) => self.unresolved.push(reference),
        }
    }

    /// Merges one node. `outer` is false for `allOf` members, whose
    /// nullability does not make the whole nullable.
    fn absorb(&mut self, doc: &'d Value, node: &'d Value, at: String, depth: usize, outer: bool) {
        if self.sources.contains(&at) {
            return;
        }
        self.sources.push(at.clone());
        let Some(object) = node.as_object() else {
            return;
        };
        if let Some(declared) = object.get("type") {
            let mut types: BTreeSet<String> = match declared {
                Value::String(t) => BTreeSet::from([t.clone()]),
                Value::Array(ts) => ts
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                _ => BTreeSet::new(),
            };
            if types.remove("null") && outer {
                self.nullable.get_or_insert_with(|| at.clone());
            }
            if !types.is_empty() && self.types.is_none() {
                self.types = Some(Attr {
                    value: types,
                    at: at.clone(),
                });
            }
        }
        if outer && object.get("nullable") == Some(&Value::Bool(true)) {
            self.nullable.get_or_insert_with(|| at.clone());
        }
        if let Some(format) = object.get("format").and_then(Value::as_str)
            && self.format.is_none()
        {
            self.format = Some(Attr {
                value: format.to_string(),
                at: at.clone(),
            });
        }
        let values = match (object.get("enum"), object.get("const")) {
            (Some(Value::Array(values)), _) => Some(values.clone()),
            (_, Some(value)) => Some(vec![value.clone()]),
            _ => None,
        };
        if let Some(values) = values {
            let (nulls, values): (Vec<Value>, Vec<Value>) =
                values.into_iter().partition(Value::is_null);
            if !nulls.is_empty() && outer {
                self.nullable.get_or_insert_with(|| at.clone());
            }
            if !values.is_empty() && self.enumeration.is_none() {
                self.enumeration = Some(Attr {
                    value: values,
                    at: at.clone(),
                });
            }
        }
        if let Some(properties) = object.get("properties").and_then(Value::as_object) {
            let base = format!("{at}/properties");
            for (name, schema) in properties {
                self.properties
                    .entry(name.clone())
                    .or_insert_with(|| (schema, child(&base, name)));
            }
        }
        if let Some(required) = object.get("required").and_then(Value::as_array) {
            self.required
                .extend(required.iter().filter_map(Value::as_str).map(String::from));
        }
        if let Some(additional) = object.get("additionalProperties")
            && self.additional.is_none()
        {
            let extra = match additional {
                Value::Bool(false) => Extra::Never,
                Value::Object(_) => Extra::Schema(additional),
                _ => Extra::Any,
            };
            self.additional = Some((extra, format!("{at}/additionalProperties")));
        }
        if let Some(items) = object.get("items")
            && items.is_object()
            && self.items.is_none()
        {
            self.items = Some((items, format!("{at}/items")));
        }
        for keyword in CONSTRAINTS {
            if let Some(value) = object.get(keyword) {
                self.constraints.entry(keyword).or_insert_with(|| Attr {
                    value: value.clone(),
                    at: at.clone(),
                });
            }
        }
        for keyword in ["oneOf", "anyOf"] {
            let Some(members) = object.get(keyword).and_then(Value::as_array) else {
                continue;
            };
            let mut kept = Vec::new();
            for (index, member) in members.iter().enumerate() {
                let member_at = format!("{at}/{keyword}/{index}");
                if is_null_schema(doc, member) {
                    if outer {
                        self.nullable.get_or_insert_with(|| member_at.clone());
                    }
                } else {
                    kept.push((member, member_at));
                }
            }
            if let [(member, member_at)] = kept.as_slice() {
                self.absorb_ref(doc, member, member_at.clone(), depth + 1);
            } else if let Some((values, types)) = enum_like(doc, &kept) {
                if self.enumeration.is_none() {
                    self.enumeration = Some(Attr {
                        value: values,
                        at: at.clone(),
                    });
                }
                if self.types.is_none() && !types.is_empty() {
                    self.types = Some(Attr {
                        value: types,
                        at: at.clone(),
                    });
                }
            } else {
                self.variants.extend(kept);
            }
        }
        if let Some(members) = object.get("allOf").and_then(Value::as_array) {
            for (index, member) in members.iter().enumerate() {
                self.absorb_ref(doc, member, format!("{at}/allOf/{index}"), depth + 1);
            }
        }
    }
}

/// A `oneOf` whose members are all single-value enums (schemars' form of an
/// enum with documented variants): its values and their types.
fn enum_like(doc: &Value, members: &[(&Value, String)]) -> Option<(Vec<Value>, BTreeSet<String>)> {
    if members.is_empty() {
        return None;
    }
    let mut values = Vec::new();
    let mut types = BTreeSet::new();
    for (member, at) in members {
        let (member, _) = resolve(doc, member, at).ok()?;
        if member.get("properties").is_some() {
            return None;
        }
        let value = match (member.get("enum"), member.get("const")) {
            (Some(Value::Array(vs)), _) if vs.len() == 1 => vs[0].clone(),
            (_, Some(v)) => v.clone(),
            _ => return None,
        };
        types.insert(
            member["type"]
                .as_str()
                .unwrap_or(json_type(&value))
                .to_string(),
        );
        values.push(value);
    }
    Some((values, types))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_null_schema(doc: &Value, node: &Value) -> bool {
    let Ok((node, _)) = resolve(doc, node, "") else {
        return false;
    };
    node.get("type") == Some(&Value::String("null".into()))
        || node.get("enum") == Some(&Value::Array(vec![Value::Null]))
        || node.get("const") == Some(&Value::Null)
}

/// Variants keyed so that old and new can be matched: by `$ref` name, by a
/// tag (a required property with a single value), by the single property
/// of an externally tagged variant, by title, else by position.
fn keyed_variants<'d>(
    doc: &'d Value,
    variants: &[(&'d Value, String)],
) -> BTreeMap<String, (&'d Value, String)> {
    let mut out = BTreeMap::new();
    for (index, (variant, at)) in variants.iter().enumerate() {
        let mut key = variant_key(doc, variant).unwrap_or_else(|| format!("#{index}"));
        if out.contains_key(&key) {
            key = format!("{key} #{index}");
        }
        out.insert(key, (*variant, at.clone()));
    }
    out
}

fn variant_key(doc: &Value, variant: &Value) -> Option<String> {
    if let Some(reference) = variant.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().map(|name| format!("`{name}`"));
    }
    let (node, _) = resolve(doc, variant, "").ok()?;
    let properties = node.get("properties").and_then(Value::as_object);
    let required: BTreeSet<&str> = node
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(properties) = properties {
        for (name, schema) in properties {
            if !required.contains(name.as_str()) {
                continue;
            }
            let Ok((schema, _)) = resolve(doc, schema, "") else {
                continue;
            };
            let single = match (schema.get("enum"), schema.get("const")) {
                (Some(Value::Array(vs)), _) if vs.len() == 1 => Some(&vs[0]),
                (_, Some(v)) => Some(v),
                _ => None,
            };
            if let Some(value) = single {
                return Some(format!("{name}={value}"));
            }
        }
        if properties.len() == 1 && required.len() == 1 {
            return properties.keys().next().map(|name| format!("`{name}`"));
        }
    }
    if let Some(title) = node.get("title").and_then(Value::as_str) {
        return Some(format!("`{title}`"));
    }
    if node.get("enum").is_some() {
        return Some("enum".to_string());
    }
    None
}

// ---- ranges -------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Effect {
    Narrowed,
    Widened,
    Both,
}

struct RangeChange {
    message: String,
    effect: Effect,
    old_at: Option<String>,
    new_at: Option<String>,
}

/// A numeric bound: the value, whether it is exclusive, its text.
#[derive(Clone)]
struct Bound {
    value: f64,
    exclusive: bool,
    text: String,
    at: String,
}

fn constraint<'v>(view: &'v View<'_>, keyword: &str) -> Option<&'v Attr<Value>> {
    view.constraints.get(keyword)
}

fn show_number(value: Option<&Attr<Value>>) -> String {
    value.map_or_else(|| "(none)".to_string(), |a| a.value.to_string())
}

/// The effective lower (`minimum`) or upper (`maximum`) bound, 3.0 boolean
/// and 3.1 numeric `exclusive*` forms included.
fn bound(view: &View<'_>, lower: bool) -> Option<Bound> {
    let (inclusive, exclusive) = if lower {
        ("minimum", "exclusiveMinimum")
    } else {
        ("maximum", "exclusiveMaximum")
    };
    let mut candidates = Vec::new();
    let exclusive_attr = constraint(view, exclusive);
    if let Some(attr) = constraint(view, inclusive)
        && let Some(value) = attr.value.as_f64()
    {
        let flag = exclusive_attr.is_some_and(|e| e.value == Value::Bool(true));
        candidates.push(Bound {
            value,
            exclusive: flag,
            text: format!("{}{}", attr.value, if flag { " (exclusive)" } else { "" }),
            at: attr.at.clone(),
        });
    }
    if let Some(attr) = exclusive_attr
        && let Some(value) = attr.value.as_f64()
    {
        candidates.push(Bound {
            value,
            exclusive: true,
            text: format!("{} (exclusive)", attr.value),
            at: attr.at.clone(),
        });
    }
    candidates.into_iter().reduce(|a, b| {
        let b_tighter = if lower {
            b.value > a.value || (b.value == a.value && b.exclusive)
        } else {
            b.value < a.value || (b.value == a.value && b.exclusive)
        };
        if b_tighter { b } else { a }
    })
}

/// Whether `new` is tighter than `old` (`None` is unbounded).
fn tighter(old: Option<&Bound>, new: Option<&Bound>, lower: bool) -> bool {
    match (old, new) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(o), Some(n)) => {
            let further = if lower {
                n.value > o.value
            } else {
                n.value < o.value
            };
            further || (n.value == o.value && n.exclusive && !o.exclusive)
        }
    }
}

fn range_changes(o: &View<'_>, n: &View<'_>) -> Vec<RangeChange> {
    let mut out = Vec::new();
    for (lower, name) in [(true, "minimum"), (false, "maximum")] {
        let (ob, nb) = (bound(o, lower), bound(n, lower));
        let narrowed = tighter(ob.as_ref(), nb.as_ref(), lower);
        let widened = tighter(nb.as_ref(), ob.as_ref(), lower);
        if narrowed || widened {
            let verb = match (lower, narrowed) {
                (true, true) | (false, false) => "raised",
                (true, false) | (false, true) => "lowered",
            };
            let text =
                |b: &Option<Bound>| b.as_ref().map_or("(none)".to_string(), |b| b.text.clone());
            out.push(RangeChange {
                message: format!("{name} {verb} from {} to {}", text(&ob), text(&nb)),
                effect: if narrowed {
                    Effect::Narrowed
                } else {
                    Effect::Widened
                },
                old_at: ob.map(|b| b.at),
                new_at: nb.map(|b| b.at),
            });
        }
    }
    // Counts: a lower count bound defaults to 0, an upper one to unbounded.
    for (keyword, lower) in [
        ("minLength", true),
        ("minItems", true),
        ("minProperties", true),
        ("maxLength", false),
        ("maxItems", false),
        ("maxProperties", false),
    ] {
        let (oa, na) = (constraint(o, keyword), constraint(n, keyword));
        let value = |a: Option<&Attr<Value>>| a.and_then(|a| a.value.as_f64());
        let (ov, nv) = (value(oa), value(na));
        let (ov, nv) = if lower {
            (ov.unwrap_or(0.0), nv.unwrap_or(0.0))
        } else {
            (ov.unwrap_or(f64::INFINITY), nv.unwrap_or(f64::INFINITY))
        };
        if ov == nv {
            continue;
        }
        let raised = nv > ov;
        out.push(RangeChange {
            message: format!(
                "{keyword} {} from {} to {}",
                if raised { "raised" } else { "lowered" },
                show_number(oa),
                show_number(na)
            ),
            effect: if raised == lower {
                Effect::Narrowed
            } else {
                Effect::Widened
            },
            old_at: oa.map(|a| a.at.clone()),
            new_at: na.map(|a| a.at.clone()),
        });
    }
    // Restrictions that cannot be ordered: adding narrows, removing widens,
    // changing does both.
    for keyword in ["pattern", "multipleOf"] {
        let (oa, na) = (constraint(o, keyword), constraint(n, keyword));
        let effect = match (oa, na) {
            (None, Some(_)) => Effect::Narrowed,
            (Some(_), None) => Effect::Widened,
            (Some(a), Some(b)) if a.value != b.value => Effect::Both,
            _ => continue,
        };
        out.push(RangeChange {
            message: format!(
                "{keyword} changed from {} to {}",
                show_number(oa),
                show_number(na)
            ),
            effect,
            old_at: oa.map(|a| a.at.clone()),
            new_at: na.map(|a| a.at.clone()),
        });
    }
    let unique =
        |v: &View<'_>| constraint(v, "uniqueItems").is_some_and(|a| a.value == Value::Bool(true));
    if unique(o) != unique(n) {
        out.push(RangeChange {
            message: format!("uniqueItems changed from {} to {}", unique(o), unique(n)),
            effect: if unique(n) {
                Effect::Narrowed
            } else {
                Effect::Widened
            },
            old_at: constraint(o, "uniqueItems").map(|a| a.at.clone()),
            new_at: constraint(n, "uniqueItems").map(|a| a.at.clone()),
        });
    }
    out
}

// ---- helpers ------------------------------------------------------------

/// Where to report a change of an attribute declared at `old_at` in the
/// baseline and `new_at` in the candidate: where it is declared when that
/// did not move, else where the candidate uses the schema.
fn place(old_at: Option<&str>, new_at: Option<&str>, n: &View<'_>) -> String {
    match (old_at, new_at) {
        (Some(a), Some(b)) if a == b => b.to_string(),
        (None, Some(b)) => b.to_string(),
        (Some(a), None) if n.sources.iter().any(|s| s == a) => a.to_string(),
        _ => n.site.clone(),
    }
}

fn show_types(types: Option<&BTreeSet<String>>) -> String {
    match types {
        None => "any".to_string(),
        Some(types) => types.iter().cloned().collect::<Vec<_>>().join(" or "),
    }
}

/// Follows `$ref` (local JSON pointers) until a node that is not one.
fn resolve<'d>(doc: &'d Value, node: &'d Value, site: &str) -> Result<(&'d Value, String), String> {
    let mut node = node;
    let mut at = site.to_string();
    for _ in 0..MAX_REF_HOPS {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            return Ok((node, at));
        };
        node = reference
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
            .ok_or_else(|| reference.to_string())?;
        at = reference.to_string();
    }
    Err(format!("{at} (a $ref loop)"))
}

/// `base/key` with `key` escaped as a JSON pointer token.
fn child(base: &str, key: &str) -> String {
    format!("{base}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// Paths keyed by their template with variable names erased, so renaming a
/// path variable is not a removed path.
fn paths(doc: &Value) -> BTreeMap<String, (&str, &Value)> {
    let mut out = BTreeMap::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            out.insert(template_key(path), (path.as_str(), item));
        }
    }
    out
}

fn template_key(path: &str) -> String {
    let mut out = String::new();
    let mut in_var = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_var = true;
                out.push_str("{}");
            }
            '}' => in_var = false,
            _ if !in_var => out.push(c),
            _ => {}
        }
    }
    out
}

fn template_vars(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// The members of an object, in order (none for anything else).
fn entries(value: &Value) -> Vec<(&str, &Value)> {
    value
        .as_object()
        .map(|map| map.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

/// Whether a status range (`4XX`) covers a status (`404`).
fn covers(range: &str, status: &str) -> bool {
    range.len() == 3
        && range.ends_with("XX")
        && status.len() == 3
        && status != range
        && range.as_bytes()[0] == status.as_bytes()[0]
}

fn has_content(doc: &Value, response: &Value) -> bool {
    resolve(doc, response, "")
        .ok()
        .and_then(|(r, _)| r.get("content"))
        .and_then(Value::as_object)
        .is_some_and(|c| !c.is_empty())
}

/// The security alternatives of an operation (its own, else the
/// document's), each a scheme name to sorted scopes.
fn requirements(doc: &Value, op: &Value) -> Vec<BTreeMap<String, Vec<String>>> {
    let list = op.get("security").or_else(|| doc.get("security"));
    list.and_then(Value::as_array)
        .map(|alternatives| {
            alternatives
                .iter()
                .filter_map(Value::as_object)
                .map(|alternative| {
                    alternative
                        .iter()
                        .map(|(name, scopes)| {
                            let mut scopes: Vec<String> = scopes
                                .as_array()
                                .map(|s| {
                                    s.iter()
                                        .filter_map(Value::as_str)
                                        .map(String::from)
                                        .collect()
                                })
                                .unwrap_or_default();
                            scopes.sort();
                            (name.clone(), scopes)
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every schema node reached from an operation, with the directions it is
/// used in.
#[cfg(test)]
fn usage(doc: &Value) -> BTreeMap<String, BTreeSet<Dir>> {
    let mut checker = Checker::new(doc, doc);
    checker.document();
    checker.usage
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::Index;
    use serde_json::json;

    // ---- helpers --------------------------------------------------------

    /// A small document exercising every rule: a response-only schema
    /// (`Item`, `ItemList`, `Status`), a request-only one (`NewItem`,
    /// `Kind`), one used both ways (`Shared`, `Circle`, `Square`), a cycle
    /// (`Item.parent`, `Item.children`), a map, arrays, a documented enum
    /// (`Item.mood`), `oneOf` variants, parameters, an optional inline
    /// request body, a response header and the shared error response.
    fn base() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "Items", "version": "1.0.0", "description": "Items API."},
            "paths": {
                "/items": {
                    "get": {
                        "operationId": "item_list",
                        "summary": "List items",
                        "tags": ["items"],
                        "parameters": [
                            {"in": "query", "name": "limit", "required": false, "description": "At most this many.",
                             "schema": {"type": "integer", "format": "uint32", "minimum": 1, "maximum": 100}},
                            {"in": "header", "name": "X-Trace", "required": false, "schema": {"type": "string"}}
                        ],
                        "responses": {
                            "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemList"}}}},
                            "4XX": {"$ref": "#/components/responses/Error"},
                            "5XX": {"$ref": "#/components/responses/Error"}
                        },
                        "security": [{"bearerAuth": []}]
                    },
                    "post": {
                        "operationId": "item_create",
                        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}}},
                        "responses": {
                            "201": {"description": "created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                            "4XX": {"$ref": "#/components/responses/Error"}
                        },
                        "security": [{"bearerAuth": []}]
                    }
                },
                "/items/{id}": {
                    "get": {
                        "operationId": "item_view",
                        "parameters": [{"in": "path", "name": "id", "required": true, "schema": {"type": "integer", "format": "int64"}}],
                        "responses": {
                            "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                            "4XX": {"$ref": "#/components/responses/Error"}
                        }
                    },
                    "delete": {
                        "operationId": "item_delete",
                        "parameters": [{"in": "path", "name": "id", "required": true, "schema": {"type": "integer", "format": "int64"}}],
                        "responses": {"204": {"description": "deleted"}, "4XX": {"$ref": "#/components/responses/Error"}},
                        "security": [{"bearerAuth": []}]
                    }
                },
                "/login": {
                    "post": {
                        "operationId": "login",
                        "requestBody": {"content": {"application/json": {"schema": {
                            "type": "object", "properties": {"user": {"type": "string"}}
                        }}}},
                        "responses": {"200": {"description": "ok", "headers": {"X-Rate": {"schema": {"type": "integer"}}}}}
                    }
                }
            },
            "components": {
                "responses": {
                    "Error": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                },
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
                "schemas": {
                    "Error": {"type": "object", "required": ["message"], "properties": {
                        "message": {"type": "string"},
                        "errors": {"type": "object", "nullable": true,
                                   "additionalProperties": {"type": "array", "items": {"type": "string"}}}
                    }},
                    "Item": {"type": "object", "required": ["id", "name", "status", "tags"], "properties": {
                        "id": {"type": "integer", "format": "int64"},
                        "name": {"type": "string", "maxLength": 120, "description": "Name."},
                        "status": {"$ref": "#/components/schemas/Status"},
                        "mood": {"oneOf": [
                            {"type": "string", "enum": ["happy"], "description": "Happy."},
                            {"type": "string", "enum": ["sad"], "description": "Sad."}
                        ]},
                        "note": {"type": "string", "nullable": true},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "parent": {"allOf": [{"$ref": "#/components/schemas/Item"}], "nullable": true},
                        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                        "attrs": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "shared": {"$ref": "#/components/schemas/Shared"},
                        "shape": {"oneOf": [{"$ref": "#/components/schemas/Circle"}, {"$ref": "#/components/schemas/Square"}]}
                    }},
                    "ItemList": {"type": "object", "required": ["data"], "properties": {
                        "data": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}
                    }},
                    "NewItem": {"type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 120},
                        "note": {"type": "string", "nullable": true},
                        "priority": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 10},
                        "labels": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
                        "kind": {"$ref": "#/components/schemas/Kind"},
                        "shared": {"$ref": "#/components/schemas/Shared"},
                        "shape": {"oneOf": [{"$ref": "#/components/schemas/Circle"}, {"$ref": "#/components/schemas/Square"}]}
                    }},
                    "Status": {"type": "string", "enum": ["active", "archived"]},
                    "Kind": {"type": "string", "enum": ["a", "b"]},
                    "Shared": {"type": "object", "properties": {"x": {"type": "integer", "maximum": 10}}},
                    "Circle": {"type": "object", "required": ["kind", "r"], "properties": {
                        "kind": {"type": "string", "enum": ["circle"]}, "r": {"type": "number"}
                    }},
                    "Square": {"type": "object", "required": ["kind", "side"], "properties": {
                        "kind": {"type": "string", "enum": ["square"]}, "side": {"type": "number"}
                    }},
                    "Triangle": {"type": "object", "required": ["kind"], "properties": {
                        "kind": {"type": "string", "enum": ["triangle"]}
                    }}
                }
            }
        })
    }

    /// The base document against a changed copy of it.
    fn changed(change: impl FnOnce(&mut Value)) -> Report {
        let old = base();
        let mut new = base();
        change(&mut new);
        compare(&old, &new)
    }

    fn at<'v>(doc: &'v mut Value, pointer: &str) -> &'v mut Value {
        doc.pointer_mut(pointer.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("no {pointer}"))
    }

    /// Removes the element at `pointer` (an object key or an array index).
    fn remove(doc: &mut Value, pointer: &str) -> Value {
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        let last = last.replace("~1", "/").replace("~0", "~");
        match at(doc, parent) {
            Value::Object(map) => map.remove(&last).unwrap(),
            Value::Array(list) => list.remove(last.parse::<usize>().unwrap()),
            other => panic!("{parent} is {other}"),
        }
    }

    fn shown(report: &Report) -> String {
        if report.findings.is_empty() {
            return "(no findings)".to_string();
        }
        report
            .findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[track_caller]
    fn fails(report: &Report, pointer: &str, message: &str) {
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.pointer == pointer && f.message.contains(message)),
            "expected `{pointer}: ...{message}...`, got:\n{}",
            shown(report)
        );
    }

    #[track_caller]
    fn passes(report: &Report) {
        assert!(
            report.findings.is_empty(),
            "expected no breaking change, got:\n{}",
            shown(report)
        );
    }

    const ITEM: &str = "#/components/schemas/Item";
    const NEW_ITEM: &str = "#/components/schemas/NewItem";
    const LIST: &str = "#/paths/~1items/get";
    const CREATE: &str = "#/paths/~1items/post";
    const VIEW: &str = "#/paths/~1items~1{id}/get";
    const LOGIN: &str = "#/paths/~1login/post";

    // ---- whole documents ------------------------------------------------

    #[test]
    fn identical_documents_pass() {
        let report = compare(&base(), &base());
        passes(&report);
        assert_eq!((report.kept, report.added), (5, 0));
        assert!(report.schemas > 20, "{}", report.schemas);
    }

    #[test]
    fn the_real_document_against_itself_passes() {
        let doc = real_document();
        let report = compare(&doc, &doc);
        passes(&report);
        assert!(report.kept >= 5);
    }

    #[test]
    fn the_baseline_against_itself_passes() {
        let text = std::fs::read_to_string(workspace::root().join(BASELINE_PATH)).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        passes(&compare(&doc, &doc));
    }

    #[test]
    fn documentation_changes_pass() {
        passes(&changed(|d| {
            *at(d, "#/info/description") = json!("Changed.");
            *at(d, "#/info/title") = json!("Other title");
            *at(d, &format!("{LIST}/summary")) = json!("Changed");
            *at(d, &format!("{LIST}/tags")) = json!(["other"]);
            *at(d, &format!("{LIST}/parameters/0/description")) = json!("Changed.");
            *at(d, &format!("{ITEM}/properties/name/description")) = json!("Changed.");
            *at(d, &format!("{ITEM}/properties/mood/oneOf/0/description")) = json!("Glad.");
            at(d, &format!("{ITEM}/properties/name"))["example"] = json!("Bob");
            at(d, ITEM)["description"] = json!("An item.");
            at(d, "#/components/securitySchemes/bearerAuth")["description"] = json!("Bearer.");
            *at(d, &format!("{VIEW}/responses/200/description")) = json!("The item.");
        }));
    }

    // ---- paths and operations ---------------------------------------------

    #[test]
    fn a_removed_path_fails_for_each_of_its_operations() {
        let report = changed(|d| {
            remove(d, "#/paths/~1items~1{id}");
        });
        fails(&report, VIEW, "operation removed (its path is gone)");
        fails(&report, "#/paths/~1items~1{id}/delete", "operation removed");
        assert_eq!(report.findings.len(), 2, "{}", shown(&report));
        assert_eq!(report.findings[0].used_by, ["DELETE /items/{id}"]);
    }

    #[test]
    fn a_removed_operation_fails() {
        let report = changed(|d| {
            remove(d, "#/paths/~1items~1{id}/delete");
        });
        fails(&report, "#/paths/~1items~1{id}/delete", "operation removed");
        assert_eq!(report.kept, 4);
    }

    #[test]
    fn new_paths_and_operations_pass() {
        let report = changed(|d| {
            d["paths"]["/tags"] = json!({"get": {"operationId": "tag_list", "responses": {"200": {"description": "ok"}}}});
            d["paths"]["/items/{id}"]["put"] = json!({
                "operationId": "item_update",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}}},
                "responses": {"200": {"description": "ok"}}
            });
        });
        passes(&report);
        assert_eq!(report.added, 2);
    }

    #[test]
    fn a_renamed_path_variable_passes() {
        passes(&changed(|d| {
            let item = remove(d, "#/paths/~1items~1{id}");
            d["paths"]["/items/{item_id}"] = item;
            for method in ["get", "delete"] {
                d["paths"]["/items/{item_id}"][method]["parameters"][0]["name"] = json!("item_id");
            }
        }));
    }

    #[test]
    fn a_changed_operation_id_fails() {
        let report = changed(|d| *at(d, &format!("{LIST}/operationId")) = json!("items_list"));
        fails(
            &report,
            &format!("{LIST}/operationId"),
            "operationId changed from item_list to items_list",
        );
    }

    // ---- parameters -----------------------------------------------------

    #[test]
    fn a_removed_parameter_fails() {
        let report = changed(|d| {
            remove(d, &format!("{LIST}/parameters/0"));
        });
        fails(
            &report,
            &format!("{LIST}/parameters/0"),
            "query parameter `limit` removed",
        );
        let report = changed(|d| {
            remove(d, &format!("{VIEW}/parameters/0"));
        });
        fails(
            &report,
            &format!("{VIEW}/parameters/0"),
            "path parameter `id` removed",
        );
    }

    #[test]
    fn a_parameter_made_required_fails() {
        let report = changed(|d| *at(d, &format!("{LIST}/parameters/0/required")) = json!(true));
        fails(
            &report,
            &format!("{LIST}/parameters/0"),
            "query parameter `limit` became required",
        );
    }

    #[test]
    fn a_new_required_parameter_fails_and_an_optional_one_passes() {
        let report = changed(|d| {
            d["paths"]["/items"]["get"]["parameters"]
                .as_array_mut()
                .unwrap()
                .push(json!({"in": "query", "name": "page", "required": true, "schema": {"type": "string"}}));
        });
        fails(
            &report,
            &format!("{LIST}/parameters/2"),
            "new required query parameter `page`",
        );
        passes(&changed(|d| {
            d["paths"]["/items"]["get"]["parameters"]
                .as_array_mut()
                .unwrap()
                .push(json!({"in": "query", "name": "page", "schema": {"type": "string"}}));
            d["paths"]["/items"]["post"]["parameters"] = json!([{"in": "header", "name": "Idempotency-Key", "required": false, "schema": {"type": "string"}}]);
        }));
    }

    #[test]
    fn a_parameter_moved_elsewhere_fails() {
        let report = changed(|d| *at(d, &format!("{LIST}/parameters/0/in")) = json!("header"));
        fails(
            &report,
            &format!("{LIST}/parameters/0"),
            "query parameter `limit` moved to header",
        );
    }

    #[test]
    fn a_parameter_type_or_format_change_fails() {
        let report =
            changed(|d| *at(d, &format!("{LIST}/parameters/0/schema/type")) = json!("string"));
        fails(
            &report,
            &format!("{LIST}/parameters/0/schema"),
            "type changed from integer to string",
        );
        let report =
            changed(|d| *at(d, &format!("{VIEW}/parameters/0/schema/format")) = json!("int32"));
        fails(
            &report,
            &format!("{VIEW}/parameters/0/schema"),
            "format changed from int64 to int32",
        );
    }

    #[test]
    fn a_narrowed_parameter_range_fails_and_a_widened_one_passes() {
        let schema = format!("{LIST}/parameters/0/schema");
        let report = changed(|d| *at(d, &format!("{schema}/maximum")) = json!(50));
        fails(
            &report,
            &schema,
            "maximum lowered from 100 to 50 (narrows an input",
        );
        let report = changed(|d| *at(d, &format!("{schema}/minimum")) = json!(2));
        fails(&report, &schema, "minimum raised from 1 to 2");
        let report = changed(|d| at(d, &schema)["exclusiveMinimum"] = json!(true));
        fails(&report, &schema, "minimum raised from 1 to 1 (exclusive)");
        passes(&changed(|d| {
            *at(d, &format!("{schema}/maximum")) = json!(1000);
            *at(d, &format!("{schema}/minimum")) = json!(0);
        }));
        passes(&changed(|d| {
            remove(d, &format!("{schema}/maximum"));
        }));
    }

    #[test]
    fn parameter_spelling_that_does_not_reach_the_wire_passes() {
        passes(&changed(|d| {
            // Header names are case-insensitive.
            *at(d, &format!("{LIST}/parameters/1/name")) = json!("x-trace");
            // A parameter shared by every operation of a path.
            let id = remove(d, &format!("{VIEW}/parameters/0"));
            remove(d, "#/paths/~1items~1{id}/delete/parameters/0");
            d["paths"]["/items/{id}"]["parameters"] = json!([id]);
        }));
    }

    #[test]
    fn parameter_nullability_does_not_matter() {
        let mut old = base();
        at(&mut old, &format!("{LIST}/parameters/0/schema"))["nullable"] = json!(true);
        passes(&compare(&old, &base()));
        passes(&compare(&base(), &old));
    }

    #[test]
    fn a_changed_parameter_serialization_fails() {
        let report = changed(|d| at(d, &format!("{LIST}/parameters/0"))["explode"] = json!(false));
        fails(
            &report,
            &format!("{LIST}/parameters/0"),
            "serialization changed",
        );
    }

    // ---- request bodies -----------------------------------------------------

    #[test]
    fn a_new_required_request_property_fails_and_an_optional_one_passes() {
        let report = changed(|d| {
            at(d, &format!("{NEW_ITEM}/properties"))["color"] = json!({"type": "string"});
            at(d, &format!("{NEW_ITEM}/required"))
                .as_array_mut()
                .unwrap()
                .push(json!("color"));
        });
        fails(
            &report,
            &format!("{NEW_ITEM}/properties/color"),
            "new required request property",
        );
        assert_eq!(report.findings[0].used_by, ["POST /items request body"]);
        passes(&changed(|d| {
            at(d, &format!("{NEW_ITEM}/properties"))["color"] = json!({"type": "string"});
        }));
        // The same rule in an inline request schema.
        let report = changed(|d| {
            let schema = at(
                d,
                &format!("{LOGIN}/requestBody/content/application~1json/schema"),
            );
            schema["properties"]["password"] = json!({"type": "string"});
            schema["required"] = json!(["password"]);
        });
        fails(
            &report,
            &format!("{LOGIN}/requestBody/content/application~1json/schema/properties/password"),
            "new required request property",
        );
    }

    #[test]
    fn an_optional_request_property_made_required_fails() {
        let report = changed(|d| {
            at(d, &format!("{NEW_ITEM}/required"))
                .as_array_mut()
                .unwrap()
                .push(json!("note"));
        });
        fails(
            &report,
            &format!("{NEW_ITEM}/properties/note"),
            "optional request property became required",
        );
    }

    #[test]
    fn a_removed_request_property_fails() {
        let report = changed(|d| {
            remove(d, &format!("{NEW_ITEM}/properties/priority"));
        });
        fails(
            &report,
            &format!("{NEW_ITEM}/properties/priority"),
            "property removed from a request",
        );
    }

    #[test]
    fn a_request_property_type_or_format_change_fails() {
        let priority = format!("{NEW_ITEM}/properties/priority");
        let report = changed(|d| *at(d, &format!("{priority}/type")) = json!("string"));
        fails(&report, &priority, "type changed from integer to string");
        // Even a widening format change: generated clients change type.
        let report = changed(|d| *at(d, &format!("{priority}/format")) = json!("int64"));
        fails(&report, &priority, "format changed from int32 to int64");
        let report = changed(|d| {
            at(d, &format!("{NEW_ITEM}/properties/name"))["format"] = json!("email");
        });
        fails(
            &report,
            &format!("{NEW_ITEM}/properties/name"),
            "format changed from (none) to email",
        );
    }

    #[test]
    fn request_body_presence_changes() {
        let report = changed(|d| at(d, &format!("{LOGIN}/requestBody"))["required"] = json!(true));
        fails(
            &report,
            &format!("{LOGIN}/requestBody/required"),
            "optional request body became required",
        );
        let report = changed(|d| {
            remove(d, &format!("{CREATE}/requestBody"));
        });
        fails(
            &report,
            &format!("{CREATE}/requestBody"),
            "request body removed",
        );
        let body = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
        let report = changed(|d| d["paths"]["/items/{id}"]["delete"]["requestBody"] = body.clone());
        fails(
            &report,
            "#/paths/~1items~1{id}/delete/requestBody",
            "new required request body",
        );
        passes(&changed(|d| {
            d["paths"]["/items/{id}"]["delete"]["requestBody"] =
                json!({"content": {"application/json": {"schema": {"type": "object"}}}});
        }));
        let report = changed(|d| {
            let content = at(d, &format!("{CREATE}/requestBody/content"))
                .as_object_mut()
                .unwrap();
            let json = content.remove("application/json").unwrap();
            content.insert("application/x-www-form-urlencoded".into(), json);
        });
        fails(
            &report,
            &format!("{CREATE}/requestBody/content/application~1json"),
            "request media type application/json no longer accepted",
        );
        // A new media type beside the old one is additive.
        passes(&changed(|d| {
            let content = at(d, &format!("{CREATE}/requestBody/content"));
            content["application/x-www-form-urlencoded"] = content["application/json"].clone();
        }));
    }

    #[test]
    fn request_nullability() {
        let report = changed(|d| {
            remove(d, &format!("{NEW_ITEM}/properties/note/nullable"));
        });
        fails(
            &report,
            &format!("{NEW_ITEM}/properties/note"),
            "no longer accepts null",
        );
        passes(&changed(|d| {
            at(d, &format!("{NEW_ITEM}/properties/name"))["nullable"] = json!(true);
        }));
    }

    #[test]
    fn narrowed_request_ranges_fail_and_widened_ones_pass() {
        let name = format!("{NEW_ITEM}/properties/name");
        let labels = format!("{NEW_ITEM}/properties/labels");
        let priority = format!("{NEW_ITEM}/properties/priority");
        for (pointer, keyword, value, message) in [
            (
                &name,
                "maxLength",
                json!(100),
                "maxLength lowered from 120 to 100",
            ),
            (&name, "minLength", json!(2), "minLength raised from 1 to 2"),
            (
                &name,
                "pattern",
                json!("^[a-z]+$"),
                "pattern changed from (none) to \"^[a-z]+$\"",
            ),
            (
                &labels,
                "maxItems",
                json!(3),
                "maxItems lowered from 5 to 3",
            ),
            (
                &labels,
                "minItems",
                json!(1),
                "minItems raised from (none) to 1",
            ),
            (
                &labels,
                "uniqueItems",
                json!(true),
                "uniqueItems changed from false to true",
            ),
            (
                &priority,
                "maximum",
                json!(9),
                "maximum lowered from 10 to 9",
            ),
            (&priority, "minimum", json!(1), "minimum raised from 0 to 1"),
            (
                &priority,
                "multipleOf",
                json!(2),
                "multipleOf changed from (none) to 2",
            ),
        ] {
            let report = changed(|d| at(d, pointer)[keyword] = value.clone());
            fails(&report, pointer, message);
        }
        passes(&changed(|d| {
            at(d, &name)["maxLength"] = json!(200);
            remove(d, &format!("{name}/minLength"));
            at(d, &labels)["maxItems"] = json!(50);
            at(d, &priority)["maximum"] = json!(100);
            at(d, &priority)["minimum"] = json!(-5);
        }));
    }

    // ---- responses ------------------------------------------------------

    #[test]
    fn a_removed_response_property_fails() {
        let report = changed(|d| {
            remove(d, &format!("{ITEM}/properties/name"));
        });
        fails(
            &report,
            &format!("{ITEM}/properties/name"),
            "property removed from a response",
        );
    }

    #[test]
    fn a_response_property_no_longer_required_fails() {
        let report = changed(|d| {
            at(d, &format!("{ITEM}/required"))
                .as_array_mut()
                .unwrap()
                .retain(|n| n != "name");
        });
        fails(
            &report,
            &format!("{ITEM}/properties/name"),
            "property no longer required in a response",
        );
    }

    #[test]
    fn new_response_properties_pass_required_or_not() {
        passes(&changed(|d| {
            at(d, &format!("{ITEM}/properties"))["rating"] = json!({"type": "number"});
            at(d, &format!("{ITEM}/properties"))["rank"] = json!({"type": "integer"});
            at(d, &format!("{ITEM}/required"))
                .as_array_mut()
                .unwrap()
                .push(json!("rank"));
            at(d, "#/components/schemas/Error/properties")["request_id"] =
                json!({"type": "string"});
        }));
    }

    #[test]
    fn a_response_type_or_format_change_fails() {
        let id = format!("{ITEM}/properties/id");
        let report = changed(|d| *at(d, &format!("{id}/type")) = json!("string"));
        fails(&report, &id, "type changed from integer to string");
        let report = changed(|d| *at(d, &format!("{id}/format")) = json!("int32"));
        fails(&report, &id, "format changed from int64 to int32");
        // A $ref replaced by an inline schema of another type is reported
        // where it is used.
        let report =
            changed(|d| *at(d, &format!("{ITEM}/properties/status")) = json!({"type": "integer"}));
        fails(
            &report,
            &format!("{ITEM}/properties/status"),
            "type changed from string to integer",
        );
    }

    #[test]
    fn a_response_property_becoming_nullable_fails() {
        let report =
            changed(|d| at(d, &format!("{ITEM}/properties/name"))["nullable"] = json!(true));
        fails(
            &report,
            &format!("{ITEM}/properties/name"),
            "became nullable in a response",
        );
        let report = changed(|d| {
            *at(d, &format!("{ITEM}/properties/status")) =
                json!({"allOf": [{"$ref": "#/components/schemas/Status"}], "nullable": true});
        });
        fails(
            &report,
            &format!("{ITEM}/properties/status"),
            "became nullable in a response",
        );
        // The 3.1 spelling is recognised too.
        let report =
            changed(|d| *at(d, &format!("{ITEM}/properties/id/type")) = json!(["integer", "null"]));
        fails(
            &report,
            &format!("{ITEM}/properties/id"),
            "became nullable in a response",
        );
        passes(&changed(|d| {
            remove(d, &format!("{ITEM}/properties/note/nullable"));
        }));
    }

    #[test]
    fn equivalent_schema_spellings_pass() {
        passes(&changed(|d| {
            // The $ref inlined.
            *at(d, &format!("{ITEM}/properties/status")) =
                json!({"type": "string", "enum": ["active", "archived"]});
            // A component renamed.
            let kind = remove(d, "#/components/schemas/Kind");
            d["components"]["schemas"]["ItemKind"] = kind;
            *at(d, &format!("{NEW_ITEM}/properties/kind")) =
                json!({"$ref": "#/components/schemas/ItemKind"});
            // Wrapped in a one-member allOf, as schemars does for documented refs.
            *at(d, &format!("{ITEM}/properties/shared")) = json!({"allOf": [{"$ref": "#/components/schemas/Shared"}], "description": "Shared."});
            // `type: object` left implicit.
            remove(d, "#/components/schemas/ItemList/type");
        }));
    }

    #[test]
    fn success_status_changes_fail() {
        let report = changed(|d| {
            let responses = at(d, &format!("{VIEW}/responses")).as_object_mut().unwrap();
            let ok = responses.remove("200").unwrap();
            responses.insert("201".into(), ok);
        });
        fails(
            &report,
            &format!("{VIEW}/responses/200"),
            "success status 200 removed",
        );
        fails(
            &report,
            &format!("{VIEW}/responses/201"),
            "new success status 201",
        );
        let report = changed(|d| {
            let responses = at(d, &format!("{VIEW}/responses"));
            responses["202"] = json!({"description": "accepted"});
        });
        fails(
            &report,
            &format!("{VIEW}/responses/202"),
            "new success status 202",
        );
        // A range where v1 had one status: the server may answer others.
        let report = changed(|d| {
            let responses = at(d, &format!("{VIEW}/responses")).as_object_mut().unwrap();
            let ok = responses.remove("200").unwrap();
            responses.insert("2XX".into(), ok);
        });
        fails(
            &report,
            &format!("{VIEW}/responses/2XX"),
            "new success status 2XX",
        );
        // One status where v1 had a range: v1 clients handle it.
        let mut old = base();
        let responses = at(&mut old, &format!("{VIEW}/responses"))
            .as_object_mut()
            .unwrap();
        let ok = responses.remove("200").unwrap();
        responses.insert("2XX".into(), ok);
        passes(&compare(&old, &base()));
        // A specific error status beside the range is additive.
        passes(&changed(|d| {
            at(d, &format!("{VIEW}/responses"))["404"] =
                json!({"$ref": "#/components/responses/Error"});
        }));
    }

    #[test]
    fn a_removed_response_body_or_media_type_fails() {
        let report = changed(|d| {
            remove(d, &format!("{VIEW}/responses/200/content"));
        });
        fails(
            &report,
            &format!("{VIEW}/responses/200/content/application~1json"),
            "response 200 body removed",
        );
        let report = changed(|d| {
            let content = at(d, &format!("{VIEW}/responses/200/content"))
                .as_object_mut()
                .unwrap();
            let json = content.remove("application/json").unwrap();
            content.insert("application/cbor".into(), json);
        });
        fails(
            &report,
            &format!("{VIEW}/responses/200/content/application~1json"),
            "media type application/json removed",
        );
    }

    #[test]
    fn error_schema_changes_fail() {
        let report = changed(|d| {
            remove(d, "#/components/schemas/Error/properties/message");
        });
        fails(
            &report,
            "#/components/schemas/Error/properties/message",
            "property removed from a response",
        );
        // Reported once, with every operation that can answer it.
        assert_eq!(report.findings.len(), 1, "{}", shown(&report));
        assert_eq!(
            report.findings[0].used_by.len(),
            5,
            "{:?}",
            report.findings[0].used_by
        );
        assert!(report.findings[0].to_string().contains("; and 2 more]"));
        let report = changed(|d| {
            *at(
                d,
                "#/components/schemas/Error/properties/errors/additionalProperties/items/type",
            ) = json!("integer");
        });
        fails(
            &report,
            "#/components/schemas/Error/properties/errors/additionalProperties/items",
            "type changed from string to integer",
        );
        let report = changed(|d| {
            remove(d, &format!("{VIEW}/responses/4XX"));
        });
        fails(
            &report,
            &format!("{VIEW}/responses/4XX"),
            "response 4XX removed",
        );
    }

    #[test]
    fn response_header_changes_fail() {
        let header = format!("{LOGIN}/responses/200/headers/X-Rate");
        let report = changed(|d| {
            remove(d, &header);
        });
        fails(&report, &header, "response 200 header X-Rate removed");
        let report = changed(|d| *at(d, &format!("{header}/schema/type")) = json!("string"));
        fails(
            &report,
            &format!("{header}/schema"),
            "type changed from integer to string",
        );
    }

    #[test]
    fn widened_response_ranges_fail_and_narrowed_ones_pass() {
        let name = format!("{ITEM}/properties/name");
        let report = changed(|d| at(d, &name)["maxLength"] = json!(200));
        fails(
            &report,
            &name,
            "maxLength raised from 120 to 200 (widens an output",
        );
        let report = changed(|d| {
            remove(d, &format!("{name}/maxLength"));
        });
        fails(&report, &name, "maxLength raised from 120 to (none)");
        passes(&changed(|d| at(d, &name)["maxLength"] = json!(100)));
    }

    #[test]
    fn a_new_property_of_a_closed_response_object_fails() {
        let mut old = base();
        at(&mut old, ITEM)["additionalProperties"] = json!(false);
        let mut new = old.clone();
        at(&mut new, &format!("{ITEM}/properties"))["rating"] = json!({"type": "number"});
        fails(
            &compare(&old, &new),
            &format!("{ITEM}/properties/rating"),
            "closed with additionalProperties: false",
        );
        let mut new = old.clone();
        remove(&mut new, &format!("{ITEM}/additionalProperties"));
        fails(
            &compare(&old, &new),
            ITEM,
            "additionalProperties widened from false to any in a response",
        );
    }

    // ---- enums and variants ---------------------------------------------

    #[test]
    fn a_new_response_enum_value_fails_and_a_removed_one_passes() {
        let status = "#/components/schemas/Status";
        let report = changed(|d| {
            at(d, &format!("{status}/enum"))
                .as_array_mut()
                .unwrap()
                .push(json!("deleted"))
        });
        fails(
            &report,
            status,
            "enum value \"deleted\" added to a response",
        );
        passes(&changed(|d| {
            *at(d, &format!("{status}/enum")) = json!(["active"])
        }));
        // The documented-enum spelling (oneOf of single values).
        let mood = format!("{ITEM}/properties/mood");
        let report = changed(|d| {
            at(d, &format!("{mood}/oneOf"))
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "string", "enum": ["angry"]}));
        });
        fails(&report, &mood, "enum value \"angry\" added to a response");
        // An enum restriction dropped from a response.
        let report = changed(|d| {
            remove(d, &format!("{status}/enum"));
        });
        fails(&report, status, "enum restriction removed from a response");
    }

    #[test]
    fn a_new_request_enum_value_passes_and_a_removed_one_fails() {
        let kind = "#/components/schemas/Kind";
        passes(&changed(|d| {
            at(d, &format!("{kind}/enum"))
                .as_array_mut()
                .unwrap()
                .push(json!("c"))
        }));
        let report = changed(|d| *at(d, &format!("{kind}/enum")) = json!(["a"]));
        fails(&report, kind, "enum value \"b\" removed from a request");
        let report =
            changed(|d| at(d, &format!("{NEW_ITEM}/properties/name"))["enum"] = json!(["x"]));
        fails(
            &report,
            &format!("{NEW_ITEM}/properties/name"),
            "request values newly restricted to an enum",
        );
    }

    #[test]
    fn one_of_variants_follow_the_direction() {
        let triangle = json!({"$ref": "#/components/schemas/Triangle"});
        let report = changed(|d| {
            at(d, &format!("{ITEM}/properties/shape/oneOf"))
                .as_array_mut()
                .unwrap()
                .push(triangle.clone());
        });
        fails(
            &report,
            &format!("{ITEM}/properties/shape/oneOf/2"),
            "new variant `Triangle` in a response",
        );
        passes(&changed(|d| {
            at(d, &format!("{NEW_ITEM}/properties/shape/oneOf"))
                .as_array_mut()
                .unwrap()
                .push(triangle.clone());
        }));
        let report = changed(|d| {
            remove(d, &format!("{NEW_ITEM}/properties/shape/oneOf/1"));
            remove(d, &format!("{NEW_ITEM}/properties/shape/oneOf/0"));
            at(d, &format!("{NEW_ITEM}/properties/shape"))["oneOf"] =
                json!([{"$ref": "#/components/schemas/Circle"}, triangle]);
        });
        fails(
            &report,
            &format!("{NEW_ITEM}/properties/shape/oneOf/1"),
            "variant `Square` removed from a request",
        );
        // A variant dropped from a response is not decoded any more.
        let mut old = base();
        at(&mut old, &format!("{ITEM}/properties/shape/oneOf"))
            .as_array_mut()
            .unwrap()
            .push(triangle.clone());
        let mut new = old.clone();
        remove(&mut new, &format!("{ITEM}/properties/shape/oneOf/1"));
        passes(&compare(&old, &new));
        // Inside a matched variant the usual rules apply, on both sides.
        let report =
            changed(|d| *at(d, "#/components/schemas/Circle/properties/r/type") = json!("integer"));
        fails(
            &report,
            "#/components/schemas/Circle/properties/r",
            "type changed from number to integer",
        );
        let used_by = &report.findings[0].used_by;
        assert!(
            used_by.iter().any(|u| u.contains("request body")),
            "{used_by:?}"
        );
        assert!(
            used_by.iter().any(|u| u.contains("response 200")),
            "{used_by:?}"
        );
    }

    // ---- schemas used both ways ---------------------------------------------

    #[test]
    fn a_schema_used_both_ways_gets_both_sets_of_rules() {
        let shared = "#/components/schemas/Shared";
        let report = changed(|d| {
            at(d, shared)["properties"]["y"] = json!({"type": "integer"});
            at(d, shared)["required"] = json!(["y"]);
        });
        fails(
            &report,
            &format!("{shared}/properties/y"),
            "new required request property",
        );
        passes(&changed(|d| {
            at(d, shared)["properties"]["y"] = json!({"type": "integer"})
        }));
        let x = format!("{shared}/properties/x");
        let report = changed(|d| *at(d, &format!("{x}/maximum")) = json!(20));
        fails(
            &report,
            &x,
            "maximum raised from 10 to 20 (widens an output",
        );
        let report = changed(|d| *at(d, &format!("{x}/maximum")) = json!(5));
        fails(
            &report,
            &x,
            "maximum lowered from 10 to 5 (narrows an input",
        );
        let report = changed(|d| {
            remove(d, &x);
        });
        fails(&report, &x, "property removed from a request");
        fails(&report, &x, "property removed from a response");
    }

    // ---- maps, arrays, cycles -------------------------------------------------

    #[test]
    fn maps_and_array_items_are_checked_recursively() {
        let attrs = format!("{ITEM}/properties/attrs/additionalProperties");
        let report = changed(|d| *at(d, &format!("{attrs}/type")) = json!("string"));
        fails(&report, &attrs, "type changed from integer to string");
        let report = changed(|d| {
            *at(d, &attrs) = json!(true);
        });
        fails(
            &report,
            &attrs,
            "additionalProperties widened from a schema to any in a response",
        );
        let tags = format!("{ITEM}/properties/tags/items");
        let report = changed(|d| *at(d, &format!("{tags}/type")) = json!("integer"));
        fails(&report, &tags, "type changed from string to integer");
        let labels = format!("{NEW_ITEM}/properties/labels/items");
        let report = changed(|d| at(d, &labels)["maxLength"] = json!(10));
        fails(&report, &labels, "maxLength lowered from (none) to 10");
        let report = changed(|d| at(d, NEW_ITEM)["additionalProperties"] = json!(false));
        fails(
            &report,
            &format!("{NEW_ITEM}/additionalProperties"),
            "additionalProperties narrowed from any to false in a request",
        );
    }

    #[test]
    fn recursive_schemas_terminate_and_report_once() {
        let report =
            changed(|d| *at(d, &format!("{ITEM}/properties/name/type")) = json!("integer"));
        assert_eq!(report.findings.len(), 1, "{}", shown(&report));
        fails(
            &report,
            &format!("{ITEM}/properties/name"),
            "type changed from string to integer",
        );
        assert_eq!(
            report.findings[0].used_by,
            [
                "GET /items response 200",
                "GET /items/{id} response 200",
                "POST /items response 201"
            ]
        );
        // Mutual recursion through allOf.
        let mut old = base();
        old["components"]["schemas"]["A"] = json!({"allOf": [{"$ref": "#/components/schemas/B"}], "properties": {"a": {"type": "string"}}});
        old["components"]["schemas"]["B"] = json!({"type": "object", "properties": {"next": {"allOf": [{"$ref": "#/components/schemas/A"}]}}});
        old["paths"]["/a"] = json!({"get": {"operationId": "a", "responses": {"200": {"description": "ok",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}});
        passes(&compare(&old, &old));
        let mut new = old.clone();
        remove(&mut new, "#/components/schemas/A/properties/a");
        fails(
            &compare(&old, &new),
            "#/components/schemas/A/properties/a",
            "property removed",
        );
    }

    #[test]
    fn unresolvable_references_fail_closed() {
        let report = changed(|d| {
            *at(d, &format!("{ITEM}/properties/status")) =
                json!({"$ref": "#/components/schemas/Missing"});
        });
        fails(
            &report,
            &format!("{ITEM}/properties/status"),
            "cannot resolve `#/components/schemas/Missing`",
        );
        let report = changed(|d| {
            d["components"]["schemas"]["Status"] = json!({"$ref": "#/components/schemas/Loop"});
            d["components"]["schemas"]["Loop"] = json!({"$ref": "#/components/schemas/Status"});
        });
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.message.contains("a $ref loop")),
            "{}",
            shown(&report)
        );
    }

    // ---- security ---------------------------------------------------------

    #[test]
    fn security_changes() {
        let report = changed(|d| at(d, VIEW)["security"] = json!([{"bearerAuth": []}]));
        fails(
            &report,
            &format!("{VIEW}/security"),
            "operation now requires authentication",
        );
        passes(&changed(|d| {
            remove(d, &format!("{LIST}/security"));
        }));
        passes(&changed(|d| {
            at(d, LIST)["security"] = json!([{"bearerAuth": []}, {"apiKey": []}]);
        }));
        let report = changed(|d| at(d, LIST)["security"] = json!([{"apiKey": []}]));
        fails(
            &report,
            &format!("{LIST}/security"),
            "security requirement {bearerAuth} no longer accepted",
        );
        let report =
            changed(|d| *at(d, "#/components/securitySchemes/bearerAuth/scheme") = json!("basic"));
        fails(
            &report,
            "#/components/securitySchemes/bearerAuth",
            "security scheme bearerAuth changed",
        );
    }

    // ---- report format ------------------------------------------------------

    #[test]
    fn findings_read_as_one_line_each() {
        let report = changed(|d| {
            remove(d, &format!("{ITEM}/properties/name"));
        });
        assert_eq!(
            report.findings[0].to_string(),
            "BREAKING #/components/schemas/Item/properties/name: property removed from a response \
             (v1 clients expect it) [GET /items response 200; GET /items/{id} response 200; \
             POST /items response 201]"
        );
    }

    #[test]
    fn template_helpers() {
        assert_eq!(template_key("/a/{id}/b/{x}"), "/a/{}/b/{}");
        assert_eq!(template_vars("/a/{id}/b/{x}"), ["id", "x"]);
        assert!(covers("4XX", "404"));
        assert!(!covers("4XX", "500") && !covers("404", "4XX") && !covers("4XX", "4XX"));
        assert_eq!(child("#/paths", "/a/{b}~c"), "#/paths/~1a~1{b}~0c");
    }

    // ---- mutations of the real document ---------------------------------------

    /// The committed document, read at test time: it grows as operations
    /// are added.
    fn real_document() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/openapi.json");
        let text = std::fs::read_to_string(path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Mutation {
        // Additive.
        AddOptionalProperty,
        AddRequiredResponseProperty,
        AddPath,
        AddOptionalQueryParameter,
        ChangeDocumentation,
        ChangeTags,
        WidenRequestRange,
        AddRequestEnumValue,
        // Breaking.
        RemoveResponseProperty,
        RenameProperty,
        ChangePropertyType,
        AddRequiredRequestProperty,
        RemoveOperation,
        ChangeOperationId,
        AddResponseEnumValue,
        MakeRequestPropertyRequired,
        MakeParameterRequired,
        RemoveParameter,
        NarrowRequestRange,
        RemoveRequestEnumValue,
    }

    const ADDITIVE: [Mutation; 8] = [
        Mutation::AddOptionalProperty,
        Mutation::AddRequiredResponseProperty,
        Mutation::AddPath,
        Mutation::AddOptionalQueryParameter,
        Mutation::ChangeDocumentation,
        Mutation::ChangeTags,
        Mutation::WidenRequestRange,
        Mutation::AddRequestEnumValue,
    ];

    const BREAKING: [Mutation; 12] = [
        Mutation::RemoveResponseProperty,
        Mutation::RenameProperty,
        Mutation::ChangePropertyType,
        Mutation::AddRequiredRequestProperty,
        Mutation::RemoveOperation,
        Mutation::ChangeOperationId,
        Mutation::AddResponseEnumValue,
        Mutation::MakeRequestPropertyRequired,
        Mutation::MakeParameterRequired,
        Mutation::RemoveParameter,
        Mutation::NarrowRequestRange,
        Mutation::RemoveRequestEnumValue,
    ];

    /// What a mutation applies to: JSON pointers into the document.
    #[derive(Clone, Debug)]
    enum Target {
        Node(String),
        Property(String, String),
        Operation(String),
        Parameter(String),
        Text(String),
        Nothing,
    }

    fn node<'v>(doc: &'v Value, pointer: &str) -> &'v Value {
        doc.pointer(pointer.trim_start_matches('#'))
            .unwrap_or(&Value::Null)
    }

    fn is_closed(schema: &Value) -> bool {
        schema.get("additionalProperties") == Some(&Value::Bool(false))
    }

    fn enum_values(schema: &Value) -> Vec<Value> {
        schema["enum"]
            .as_array()
            .map(|v| v.iter().filter(|v| !v.is_null()).cloned().collect())
            .unwrap_or_default()
    }

    /// Every schema node with properties, with the directions it is used in.
    fn objects(doc: &Value) -> Vec<(String, BTreeSet<Dir>)> {
        usage(doc)
            .into_iter()
            .filter(|(pointer, _)| node(doc, pointer)["properties"].is_object())
            .collect()
    }

    fn operations(doc: &Value) -> Vec<String> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in METHODS {
                if item.get(method).is_some() {
                    out.push(child(&child("#/paths", path), method));
                }
            }
        }
        out
    }

    fn properties(doc: &Value, pointer: &str) -> Vec<Target> {
        node(doc, pointer)["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, _)| Target::Property(pointer.to_string(), name.clone()))
            .collect()
    }

    fn text_pointers(value: &Value, at: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child_value) in map {
                    let pointer = child(at, key);
                    if matches!(key.as_str(), "description" | "summary") && child_value.is_string()
                    {
                        out.push(pointer);
                    } else {
                        text_pointers(child_value, &pointer, out);
                    }
                }
            }
            Value::Array(list) => {
                for (index, item) in list.iter().enumerate() {
                    text_pointers(item, &format!("{at}/{index}"), out);
                }
            }
            _ => {}
        }
    }

    const RANGE_KEYWORDS: [&str; 6] = [
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
    ];

    fn targets(doc: &Value, mutation: Mutation) -> Vec<Target> {
        let only = |dirs: &BTreeSet<Dir>, dir: Dir| dirs.len() == 1 && dirs.contains(&dir);
        let used = usage(doc);
        let nodes = |keep: &dyn Fn(&Value, &BTreeSet<Dir>) -> bool| -> Vec<Target> {
            used.iter()
                .filter(|(pointer, dirs)| keep(node(doc, pointer), dirs))
                .map(|(pointer, _)| Target::Node(pointer.clone()))
                .collect()
        };
        let parameters = |keep: &dyn Fn(&Value) -> bool| -> Vec<Target> {
            operations(doc)
                .into_iter()
                .flat_map(|op| {
                    let list = node(doc, &op)["parameters"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    list.into_iter()
                        .enumerate()
                        .filter(|(_, p)| p.get("$ref").is_none() && keep(p))
                        .map(move |(i, _)| Target::Parameter(format!("{op}/parameters/{i}")))
                })
                .collect()
        };
        match mutation {
            Mutation::AddOptionalProperty => objects(doc)
                .into_iter()
                .filter(|(p, dirs)| !(dirs.contains(&Dir::Response) && is_closed(node(doc, p))))
                .map(|(p, _)| Target::Node(p))
                .collect(),
            Mutation::AddRequiredResponseProperty => objects(doc)
                .into_iter()
                .filter(|(p, dirs)| only(dirs, Dir::Response) && !is_closed(node(doc, p)))
                .map(|(p, _)| Target::Node(p))
                .collect(),
            Mutation::AddPath => vec![Target::Nothing],
            Mutation::AddOptionalQueryParameter
            | Mutation::ChangeTags
            | Mutation::RemoveOperation => {
                operations(doc).into_iter().map(Target::Operation).collect()
            }
            Mutation::ChangeOperationId => operations(doc)
                .into_iter()
                .filter(|op| node(doc, op)["operationId"].is_string())
                .map(Target::Operation)
                .collect(),
            Mutation::ChangeDocumentation => {
                let mut out = Vec::new();
                text_pointers(doc, "#", &mut out);
                out.into_iter().map(Target::Text).collect()
            }
            Mutation::WidenRequestRange => nodes(&|n, dirs| {
                only(dirs, Dir::Request) && RANGE_KEYWORDS.iter().any(|k| n.get(*k).is_some())
            }),
            Mutation::AddRequestEnumValue => {
                nodes(&|n, dirs| only(dirs, Dir::Request) && !enum_values(n).is_empty())
            }
            Mutation::RemoveResponseProperty => objects(doc)
                .into_iter()
                .filter(|(_, dirs)| dirs.contains(&Dir::Response))
                .flat_map(|(p, _)| properties(doc, &p))
                .collect(),
            Mutation::RenameProperty | Mutation::ChangePropertyType => objects(doc)
                .into_iter()
                .flat_map(|(p, _)| properties(doc, &p))
                .collect(),
            Mutation::AddRequiredRequestProperty => objects(doc)
                .into_iter()
                .filter(|(_, dirs)| dirs.contains(&Dir::Request))
                .map(|(p, _)| Target::Node(p))
                .collect(),
            Mutation::MakeRequestPropertyRequired => objects(doc)
                .into_iter()
                .filter(|(_, dirs)| dirs.contains(&Dir::Request))
                .flat_map(|(p, _)| properties(doc, &p))
                .filter(|t| match t {
                    Target::Property(p, name) => !node(doc, p)["required"]
                        .as_array()
                        .is_some_and(|r| r.contains(&json!(name))),
                    _ => false,
                })
                .collect(),
            Mutation::AddResponseEnumValue => nodes(&|n, dirs| {
                dirs.contains(&Dir::Response)
                    && (!enum_values(n).is_empty()
                        || n["oneOf"].as_array().is_some_and(|m| {
                            !m.is_empty() && m.iter().all(|v| enum_values(v).len() == 1)
                        }))
            }),
            Mutation::MakeParameterRequired => {
                parameters(&|p| p["in"] != "path" && p["required"].as_bool() != Some(true))
            }
            Mutation::RemoveParameter => parameters(&|_| true),
            Mutation::NarrowRequestRange => nodes(&|n, dirs| {
                dirs.contains(&Dir::Request)
                    && matches!(n["type"].as_str(), Some("integer" | "number" | "string"))
            }),
            Mutation::RemoveRequestEnumValue => {
                nodes(&|n, dirs| dirs.contains(&Dir::Request) && enum_values(n).len() >= 2)
            }
        }
    }

    /// Applies a mutation to `doc` (`original` is the unmutated document,
    /// for mutations that must move away from its values). Returns the
    /// pointer a breaking mutation must be reported at.
    fn apply(
        original: &Value,
        doc: &mut Value,
        mutation: Mutation,
        target: &Target,
        tag: usize,
    ) -> Option<String> {
        let pointer = match target {
            Target::Node(p) | Target::Operation(p) | Target::Parameter(p) | Target::Text(p) => {
                p.clone()
            }
            Target::Property(p, _) => p.clone(),
            Target::Nothing => String::new(),
        };
        match (mutation, target) {
            (Mutation::AddOptionalProperty, _) => {
                at(doc, &pointer)["properties"][format!("zz_added_{tag}")] =
                    json!({"type": "string", "description": "Added."});
                None
            }
            (Mutation::AddRequiredResponseProperty, _) => {
                let schema = at(doc, &pointer);
                let name = format!("zz_required_{tag}");
                schema["properties"][&name] = json!({"type": "integer", "format": "int64"});
                match schema["required"].as_array_mut() {
                    Some(required) => required.push(json!(name)),
                    None => schema["required"] = json!([name]),
                }
                None
            }
            (Mutation::AddPath, _) => {
                doc["paths"][format!("/api/v1/zz-new-{tag}/{{id}}")] = json!({"get": {
                    "operationId": format!("zz_new_{tag}"),
                    "parameters": [{"in": "path", "name": "id", "required": true, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}
                    }}}}}
                }});
                None
            }
            (Mutation::AddOptionalQueryParameter, _) => {
                let op = at(doc, &pointer);
                let parameter = json!({"in": "query", "name": format!("zz_q_{tag}"), "required": false,
                                       "schema": {"type": "string", "maxLength": 10}});
                match op["parameters"].as_array_mut() {
                    Some(list) => list.push(parameter),
                    None => op["parameters"] = json!([parameter]),
                }
                None
            }
            (Mutation::ChangeDocumentation, _) => {
                *at(doc, &pointer) = json!(format!("Changed documentation {tag}."));
                None
            }
            (Mutation::ChangeTags, _) => {
                at(doc, &pointer)["tags"] = json!([format!("zz-tag-{tag}")]);
                None
            }
            (Mutation::WidenRequestRange, _) => {
                let schema = at(doc, &pointer).as_object_mut().unwrap();
                for keyword in RANGE_KEYWORDS {
                    let Some(value) = schema.get(keyword).and_then(Value::as_i64) else {
                        continue;
                    };
                    if keyword.starts_with("min") && value > 0 || keyword == "minimum" {
                        schema.insert(keyword.into(), json!(value - 1));
                    } else if keyword.starts_with("max") {
                        schema.insert(keyword.into(), json!(value + 1));
                    } else {
                        schema.remove(keyword);
                    }
                    break;
                }
                None
            }
            (Mutation::AddRequestEnumValue, _) => {
                at(doc, &pointer)["enum"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(format!("zz_value_{tag}")));
                None
            }
            (Mutation::RemoveResponseProperty, Target::Property(p, name)) => {
                let schema = at(doc, p);
                schema["properties"].as_object_mut().unwrap().remove(name);
                if let Some(required) = schema["required"].as_array_mut() {
                    required.retain(|r| r != name);
                }
                Some(child(&format!("{p}/properties"), name))
            }
            (Mutation::RenameProperty, Target::Property(p, name)) => {
                let schema = at(doc, p);
                let renamed = format!("{name}_renamed");
                let value = schema["properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove(name)
                    .unwrap();
                schema["properties"][&renamed] = value;
                if let Some(required) = schema["required"].as_array_mut() {
                    for r in required.iter_mut().filter(|r| *r == name) {
                        *r = json!(renamed);
                    }
                }
                Some(child(&format!("{p}/properties"), name))
            }
            (Mutation::ChangePropertyType, Target::Property(p, name)) => {
                let property = child(&format!("{p}/properties"), name);
                let view = View::of(original, node(original, &property), &property);
                let is_string = view.types.is_some_and(|t| t.value.contains("string"));
                *at(doc, &property) = json!({"type": if is_string { "integer" } else { "string" }});
                Some(property)
            }
            (Mutation::AddRequiredRequestProperty, _) => {
                let schema = at(doc, &pointer);
                let name = format!("zz_required_{tag}");
                schema["properties"][&name] = json!({"type": "string"});
                match schema["required"].as_array_mut() {
                    Some(required) => required.push(json!(name)),
                    None => schema["required"] = json!([name]),
                }
                Some(child(&format!("{pointer}/properties"), &name))
            }
            (Mutation::RemoveOperation, _) => {
                remove(doc, &pointer);
                Some(pointer)
            }
            (Mutation::ChangeOperationId, _) => {
                let op = at(doc, &pointer);
                op["operationId"] =
                    json!(format!("{}_renamed", op["operationId"].as_str().unwrap()));
                Some(format!("{pointer}/operationId"))
            }
            (Mutation::AddResponseEnumValue, _) => {
                let schema = at(doc, &pointer);
                match schema["enum"].as_array_mut() {
                    Some(values) => values.push(json!("zz_value")),
                    None => schema["oneOf"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"type": "string", "enum": ["zz_value"]})),
                }
                Some(pointer)
            }
            (Mutation::MakeRequestPropertyRequired, Target::Property(p, name)) => {
                let schema = at(doc, p);
                match schema["required"].as_array_mut() {
                    Some(required) => required.push(json!(name)),
                    None => schema["required"] = json!([name]),
                }
                Some(child(&format!("{p}/properties"), name))
            }
            (Mutation::MakeParameterRequired, _) => {
                at(doc, &pointer)["required"] = json!(true);
                Some(pointer)
            }
            (Mutation::RemoveParameter, _) => {
                remove(doc, &pointer);
                Some(pointer)
            }
            (Mutation::NarrowRequestRange, _) => {
                let before = node(original, &pointer);
                let (keyword, value) = match before["type"].as_str() {
                    Some("string") => match before["maxLength"].as_u64() {
                        Some(max) if max > 0 => ("maxLength", json!(max - 1)),
                        Some(_) => ("pattern", json!("^never$")),
                        None => ("maxLength", json!(1000)),
                    },
                    _ => match before["maximum"].as_f64() {
                        Some(max) => ("maximum", json!(max - 1.0)),
                        None => ("maximum", json!(1_000_000)),
                    },
                };
                at(doc, &pointer)[keyword] = value;
                Some(pointer)
            }
            (Mutation::RemoveRequestEnumValue, _) => {
                let gone = enum_values(node(original, &pointer))[0].clone();
                at(doc, &pointer)["enum"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|v| *v != gone);
                Some(pointer)
            }
            (mutation, target) => panic!("{mutation:?} does not apply to {target:?}"),
        }
    }

    fn names(report: &Report, pointer: &str) -> bool {
        let prefix = format!("{pointer}/");
        report
            .findings
            .iter()
            .any(|f| f.pointer == pointer || f.pointer.starts_with(&prefix))
    }

    /// Every mutation of the catalogue, on every target the real document
    /// offers, alone.
    #[test]
    fn every_catalogue_mutation_of_the_real_document_is_classified() {
        let original = real_document();
        let mut exercised = BTreeSet::new();
        for mutation in ADDITIVE.iter().chain(&BREAKING) {
            for target in targets(&original, *mutation) {
                let mut doc = original.clone();
                let expected = apply(&original, &mut doc, *mutation, &target, 0);
                let report = compare(&original, &doc);
                match &expected {
                    None => assert!(
                        report.findings.is_empty(),
                        "additive {mutation:?} on {target:?} was reported:\n{}",
                        shown(&report)
                    ),
                    Some(pointer) => assert!(
                        names(&report, pointer),
                        "breaking {mutation:?} on {target:?} not reported at {pointer}:\n{}",
                        shown(&report)
                    ),
                }
                exercised.insert(format!("{mutation:?}"));
            }
        }
        // The core of the catalogue applies to any document with an object
        // in a request and in a response.
        for mutation in [
            "AddOptionalProperty",
            "AddPath",
            "AddOptionalQueryParameter",
            "ChangeDocumentation",
            "ChangeTags",
            "RemoveResponseProperty",
            "RenameProperty",
            "ChangePropertyType",
            "AddRequiredRequestProperty",
            "RemoveOperation",
            "ChangeOperationId",
            "NarrowRequestRange",
        ] {
            assert!(
                exercised.contains(mutation),
                "{mutation} had no target: {exercised:?}"
            );
        }
    }

    fn available(doc: &Value, catalogue: &[Mutation]) -> Vec<(Mutation, Vec<Target>)> {
        catalogue
            .iter()
            .map(|m| (*m, targets(doc, *m)))
            .filter(|(_, t)| !t.is_empty())
            .collect()
    }

    /// The real document and the targets of both catalogues in it, read
    /// once per test run. Additive mutations only add, so targets found in
    /// the original stay valid after any number of them.
    struct Catalogue {
        original: Value,
        additive: Vec<(Mutation, Vec<Target>)>,
        breaking: Vec<(Mutation, Vec<Target>)>,
    }

    fn catalogue() -> &'static Catalogue {
        static CATALOGUE: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
        CATALOGUE.get_or_init(|| {
            let original = real_document();
            Catalogue {
                additive: available(&original, &ADDITIVE),
                breaking: available(&original, &BREAKING),
                original,
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 64,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Up to three additive mutations, then maybe one breaking one: the
        /// additive ones alone pass, and the breaking one is reported at
        /// the element it changed.
        #[test]
        fn random_mutations_of_the_real_document(
            additive in prop::collection::vec((any::<Index>(), any::<Index>()), 0..4),
            breaking in prop::option::of((any::<Index>(), any::<Index>())),
        ) {
            let Catalogue { original, additive: additive_choices, breaking: breaking_choices } =
                catalogue();
            let mut doc = original.clone();
            let mut applied = Vec::new();
            for (step, (mutation, target)) in additive.iter().enumerate() {
                let (mutation, targets) = &additive_choices[mutation.index(additive_choices.len())];
                let target = &targets[target.index(targets.len())];
                apply(original, &mut doc, *mutation, target, step);
                applied.push(format!("{mutation:?} {target:?}"));
            }
            let expected = breaking.and_then(|(mutation, target)| {
                let (mutation, targets) = &breaking_choices[mutation.index(breaking_choices.len())];
                let target = &targets[target.index(targets.len())];
                applied.push(format!("{mutation:?} {target:?}"));
                apply(original, &mut doc, *mutation, target, 99)
            });
            let report = compare(original, &doc);
            match expected {
                None => prop_assert!(
                    report.findings.is_empty(),
                    "additive {applied:?} reported:\n{}", shown(&report)
                ),
                Some(pointer) => prop_assert!(
                    names(&report, &pointer),
                    "{applied:?} not reported at {pointer}:\n{}", shown(&report)
                ),
            }
        }
    }
}
