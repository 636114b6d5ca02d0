//! A schema as one flat view: `$ref`s followed, `allOf` merged, one-member
//! `oneOf`/`anyOf` unwrapped, documented enums collapsed, so that different
//! spellings of the same wire format compare equal.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::pointer::{child, resolve};
use crate::ranges::CONSTRAINTS;

const MAX_NESTING: usize = 32;

/// A value and the pointer of the node that declared it.
pub(crate) struct Attr<T> {
    pub(crate) value: T,
    pub(crate) at: String,
}

impl<T> Attr<T> {
    pub(crate) fn at(attr: &Option<Attr<T>>) -> Option<&str> {
        attr.as_ref().map(|a| a.at.as_str())
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Extra<'d> {
    Any,
    Never,
    Schema(&'d Value),
}

impl Extra<'_> {
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Extra::Any => "any",
            Extra::Never => "false",
            Extra::Schema(_) => "a schema",
        }
    }
}

/// A schema with `$ref`s followed and `allOf` merged.
#[derive(Default)]
pub(crate) struct View<'d> {
    /// Where the schema is used (before following `$ref`).
    pub(crate) site: String,
    /// Where it is defined (after following `$ref`).
    pub(crate) ptr: String,
    /// Every node merged into this view.
    pub(crate) sources: Vec<String>,
    pub(crate) unresolved: Vec<String>,
    pub(crate) types: Option<Attr<BTreeSet<String>>>,
    /// Where `null` was allowed, if it is.
    pub(crate) nullable: Option<String>,
    pub(crate) format: Option<Attr<String>>,
    pub(crate) enumeration: Option<Attr<Vec<Value>>>,
    pub(crate) properties: BTreeMap<String, (&'d Value, String)>,
    pub(crate) required: BTreeSet<String>,
    pub(crate) additional: Option<(Extra<'d>, String)>,
    pub(crate) items: Option<(&'d Value, String)>,
    pub(crate) variants: Vec<(&'d Value, String)>,
    pub(crate) constraints: BTreeMap<&'static str, Attr<Value>>,
}

impl<'d> View<'d> {
    pub(crate) fn of(doc: &'d Value, node: &'d Value, site: &str) -> View<'d> {
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
