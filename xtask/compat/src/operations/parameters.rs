//! Parameters: matched by where they travel (path position, header name in
//! any case, query or cookie name), wherever they are declared.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Op, template_vars};
use crate::checker::{Checker, Side};
use crate::pointer::{child, resolve};
use crate::{Dir, Kind};

struct Param<'d> {
    name: String,
    location: String,
    required: bool,
    ptr: String,
    schema: Option<(&'d Value, String)>,
    style: String,
    explode: bool,
}

impl<'d> Checker<'d> {
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

    pub(super) fn parameters(&mut self, o: &Op<'d>, n: &Op<'d>) {
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
            } else if old.required && !new.required {
                self.additive(
                    Kind::Parameter,
                    new.ptr.clone(),
                    format!("{label} no longer required"),
                );
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
            if old_params.contains_key(key) {
                continue;
            }
            if new.required {
                self.breaking(
                    new.ptr.clone(),
                    format!("new required {} parameter `{}`", new.location, new.name),
                );
            } else {
                self.additive(
                    Kind::Parameter,
                    new.ptr.clone(),
                    format!("new optional {} parameter `{}`", new.location, new.name),
                );
            }
        }
    }
}
