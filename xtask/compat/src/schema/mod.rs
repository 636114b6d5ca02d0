//! Schema walking: each pair of schemas is resolved into a [`View`] per side
//! and compared with the rules of the side of the wire it is used on.

mod variants;
mod view;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::checker::{Checker, Side};
use crate::ranges::{Effect, range_changes};
use crate::{Dir, Kind};
use view::Extra;
pub(crate) use view::{Attr, View};

impl<'d> Checker<'d> {
    pub(crate) fn schema(
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
            (Dir::Request, Some(at), None) if !self.in_parameter => self.narrowing(
                place(Some(at), None, n),
                "no longer accepts null in a request (v1 clients may send it)",
            ),
            (Dir::Response, Some(at), None) => self.additive(
                Kind::Field,
                place(Some(at), None, n),
                "no longer null in a response",
            ),
            (Dir::Request, None, Some(at)) if !self.in_parameter => {
                self.additive(Kind::Field, at.clone(), "accepts null in a request")
            }
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
                for value in old.value.iter().filter(|v| !new.value.contains(v)) {
                    self.additive(
                        Kind::Enum,
                        pointer.clone(),
                        format!("enum value {value} no longer in responses"),
                    );
                }
            }
            (Dir::Request, Some(old), Some(new)) => {
                for value in old.value.iter().filter(|v| !new.value.contains(v)) {
                    self.narrowing(
                        pointer.clone(),
                        format!(
                            "enum value {value} removed from a request (v1 clients may send it)"
                        ),
                    );
                }
                for value in new.value.iter().filter(|v| !old.value.contains(v)) {
                    self.additive(
                        Kind::Enum,
                        pointer.clone(),
                        format!("enum value {value} accepted in requests"),
                    );
                }
            }
            (Dir::Response, Some(_), None) => self.breaking(
                pointer,
                "enum restriction removed from a response (v1 clients have closed enums)",
            ),
            (Dir::Request, None, Some(_)) => self.narrowing(
                pointer,
                "request values newly restricted to an enum (v1 clients may send others)",
            ),
            (Dir::Response, None, Some(_)) => self.additive(
                Kind::Enum,
                pointer,
                "response values now restricted to an enum",
            ),
            (Dir::Request, Some(_), None) => {
                self.additive(Kind::Enum, pointer, "request enum restriction removed")
            }
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
            let pointer = place(change.old_at.as_deref(), change.new_at.as_deref(), n);
            if !report {
                let what = match dir {
                    Dir::Request => "widens an input",
                    Dir::Response => "narrows an output",
                };
                self.additive(
                    Kind::Constraint,
                    pointer,
                    format!("{} ({what})", change.message),
                );
            } else {
                let suffix = match dir {
                    Dir::Request => "narrows an input: v1 clients may send values now rejected",
                    Dir::Response => "widens an output: v1 clients may validate it",
                };
                let message = format!("{} ({suffix})", change.message);
                if dir == Dir::Request {
                    self.narrowing(pointer, message);
                } else {
                    self.breaking(pointer, message);
                }
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
                Dir::Response if !was_required && is_required => self.additive(
                    Kind::Field,
                    new_ptr.clone(),
                    "now always present in a response",
                ),
                Dir::Request if was_required && !is_required => self.additive(
                    Kind::Field,
                    new_ptr.clone(),
                    "no longer required in a request",
                ),
                _ => {}
            }
            self.schema(old_schema, old_ptr, new_schema, new_ptr, dir);
        }
        for (name, (_, new_ptr)) in &n.properties {
            if o.properties.contains_key(name) {
                continue;
            }
            let required = n.required.contains(name);
            match dir {
                Dir::Request if required => {
                    self.breaking(new_ptr.clone(), "new required request property")
                }
                Dir::Response if matches!(o.additional, Some((Extra::Never, _))) => self.breaking(
                    new_ptr.clone(),
                    "new property in a response object that v1 closed with additionalProperties: false",
                ),
                Dir::Request => {
                    self.additive(Kind::Field, new_ptr.clone(), "new optional request property")
                }
                Dir::Response => self.additive(
                    Kind::Field,
                    new_ptr.clone(),
                    if required {
                        "new response property, always present"
                    } else {
                        "new optional response property"
                    },
                ),
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
            (Dir::Request, false) => self.narrowing(
                new_ptr,
                format!("{message} in a request (v1 clients may send others)"),
            ),
            (Dir::Request, true) => {
                self.additive(Kind::Field, new_ptr, format!("{message} in a request"))
            }
            (Dir::Response, false) => {
                self.additive(Kind::Field, new_ptr, format!("{message} in a response"))
            }
        }
    }

    fn items(&mut self, o: &View<'d>, n: &View<'d>, dir: Dir) {
        match (&o.items, &n.items, dir) {
            (Some((os, op)), Some((ns, np)), _) => self.schema(os, op, ns, np, dir),
            (Some((_, op)), None, Dir::Response) => self.breaking(
                op.clone(),
                "array items schema removed from a response (v1 clients decode items by it)",
            ),
            (None, Some((_, np)), Dir::Request) => self.narrowing(
                np.clone(),
                "array items newly restricted in a request (v1 clients may send others)",
            ),
            (None, Some((_, np)), Dir::Response) => self.additive(
                Kind::Field,
                np.clone(),
                "array items newly described in a response",
            ),
            (Some((_, op)), None, Dir::Request) => self.additive(
                Kind::Field,
                op.clone(),
                "array items no longer restricted in a request",
            ),
            (None, None, _) => {}
        }
    }
}

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
