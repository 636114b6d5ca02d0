//! Paths and operations: pairs every baseline operation with the
//! candidate's and compares what a client sends and decodes through it.

mod bodies;
mod parameters;
mod security;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Kind;
use crate::checker::Checker;
use crate::pointer::child;

pub(crate) const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// An operation of one side.
struct Op<'d> {
    path: &'d str,
    item: &'d Value,
    item_ptr: String,
    op: &'d Value,
    ptr: String,
}

impl<'d> Checker<'d> {
    pub(crate) fn document(&mut self) {
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
                        if new_path != old_path {
                            self.additive(
                                Kind::Operation,
                                new_ptr.clone(),
                                format!("path variables renamed (was {old_path})"),
                            );
                        }
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
        self.context.clear();
        for (template, (new_path, new_item)) in &new_paths {
            let old_item = old_paths.get(template).map(|(_, item)| *item);
            for method in METHODS
                .iter()
                .filter(|m| new_item.get(**m).is_some())
                .filter(|m| old_item.and_then(|item| item.get(**m)).is_none())
            {
                self.added += 1;
                let pointer = child(&child("#/paths", new_path), method);
                self.additive(Kind::Operation, pointer, "operation added");
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_templates_are_matched_without_their_variable_names() {
        assert_eq!(template_key("/a/{id}/b/{x}"), "/a/{}/b/{}");
        assert_eq!(template_vars("/a/{id}/b/{x}"), ["id", "x"]);
    }
}
