//! Security: the schemes an operation accepts, each alternative and its
//! essential settings.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Op;
use crate::Kind;
use crate::checker::Checker;
use crate::pointer::child;

impl<'d> Checker<'d> {
    pub(super) fn security(&mut self, o: &Op<'d>, n: &Op<'d>) {
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
            self.additive(
                Kind::Security,
                pointer,
                "operation no longer requires authentication",
            );
            return;
        }
        for alternative in new_alternatives
            .iter()
            .filter(|a| !old_alternatives.contains(a))
        {
            let names: Vec<&str> = alternative.keys().map(String::as_str).collect();
            self.additive(
                Kind::Security,
                pointer.clone(),
                format!("security requirement {{{}}} accepted", names.join(", ")),
            );
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
