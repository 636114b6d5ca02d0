//! `oneOf`/`anyOf` variants: matched by name or tag, then compared like any
//! schema; a response may not gain one, a request may not lose one.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::View;
use crate::checker::Checker;
use crate::pointer::resolve;
use crate::{Dir, Kind};

impl<'d> Checker<'d> {
    pub(super) fn variants(&mut self, o: &View<'d>, n: &View<'d>, dir: Dir) {
        if o.variants.is_empty() && n.variants.is_empty() {
            return;
        }
        if o.variants.is_empty() {
            match dir {
                Dir::Request => self.breaking(
                    n.ptr.clone(),
                    "request schema newly restricted to oneOf/anyOf variants",
                ),
                Dir::Response => self.additive(
                    Kind::Field,
                    n.ptr.clone(),
                    "response schema now described by oneOf/anyOf variants",
                ),
            }
            return;
        }
        if n.variants.is_empty() {
            match dir {
                Dir::Response => self.breaking(
                    n.ptr.clone(),
                    "oneOf/anyOf variants of a response replaced by an unconstrained schema",
                ),
                Dir::Request => self.additive(
                    Kind::Field,
                    n.ptr.clone(),
                    "oneOf/anyOf variants of a request replaced by an unconstrained schema",
                ),
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
                None => self.additive(
                    Kind::Field,
                    old_ptr.clone(),
                    format!("variant {key} no longer in responses"),
                ),
            }
        }
        for (key, (_, new_ptr)) in &new_keyed {
            if old_keyed.contains_key(key) {
                continue;
            }
            match dir {
                Dir::Response => self.breaking(
                    new_ptr.clone(),
                    format!("new variant {key} in a response (v1 clients cannot decode it)"),
                ),
                Dir::Request => self.additive(
                    Kind::Field,
                    new_ptr.clone(),
                    format!("new variant {key} accepted in requests"),
                ),
            }
        }
    }
}

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
