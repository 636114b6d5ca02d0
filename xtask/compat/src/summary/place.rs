//! Names for JSON pointers a reviewer reads: `GET /list response 200
//! body.data[].status` for `#/paths/~1list/get/responses/200/content/
//! application~1json/schema/properties/data/items/properties/status`,
//! `ListEntry.status` for a property of a component schema.

use serde_json::Value;

use crate::operations::METHODS;
use crate::pointer::child;

/// How much of a parameter, response or header the name spells out when the
/// pointer ends there.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leaf {
    /// Only the operation: the gate's message already says which parameter,
    /// status or header (`new optional query parameter `cursor``).
    Operation,
    /// The element too: a description is about the element itself.
    Element,
}

/// The reviewer's name of `pointer`, read in `docs` (the candidate first,
/// then the baseline) when a parameter's name must be looked up.
pub(crate) fn place(pointer: &str, docs: [&Value; 2], leaf: Leaf) -> String {
    let Some(rest) = pointer.strip_prefix("#/") else {
        return pointer.to_string();
    };
    let tokens: Vec<String> = rest.split('/').map(unescape).collect();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let named = Named { docs, leaf };
    match tokens.as_slice() {
        ["paths", path, method, rest @ ..] if METHODS.contains(method) => {
            let op = format!("{} {path}", method.to_uppercase());
            named.operation(&op, &child(&child("#/paths", path), method), rest)
        }
        ["paths", path, rest @ ..] => named.operation(path, &child("#/paths", path), rest),
        ["components", "schemas", name, rest @ ..] => format!("{name}{}", schema_path(rest)),
        ["components", "parameters", name, rest @ ..] => {
            format!("parameter `{name}`{}", parameter_schema(rest))
        }
        ["components", "responses", name, rest @ ..] => {
            named.response(&format!("response `{name}`"), rest)
        }
        ["components", "requestBodies", name, rest @ ..] => {
            format!("request body `{name}`{}", media_schema(rest))
        }
        ["components", "headers", name, rest @ ..] => {
            format!("header `{name}`{}", parameter_schema(rest))
        }
        ["components", "securitySchemes", name, ..] => format!("security scheme `{name}`"),
        ["info", ..] => "the document's info".to_string(),
        ["tags", index, ..] => docs
            .iter()
            .find_map(|doc| doc["tags"][index.parse::<usize>().ok()?]["name"].as_str())
            .map_or_else(|| pointer.to_string(), |name| format!("tag `{name}`")),
        _ => pointer.to_string(),
    }
}

struct Named<'d> {
    docs: [&'d Value; 2],
    leaf: Leaf,
}

impl Named<'_> {
    /// `rest` of a pointer below an operation (or a path item) named `op`,
    /// whose own pointer is `op_ptr`.
    fn operation(&self, op: &str, op_ptr: &str, rest: &[&str]) -> String {
        let whole = self.leaf == Leaf::Element;
        match rest {
            ["parameters", index, more @ ..] => {
                if more.is_empty() && !whole {
                    return op.to_string();
                }
                let label = self
                    .parameter(&format!("{op_ptr}/parameters/{index}"))
                    .unwrap_or_else(|| format!("parameter {index}"));
                format!("{op} {label}{}", parameter_schema(more))
            }
            ["requestBody", more @ ..] if more.first() == Some(&"content") || whole => {
                format!("{op} request body{}", media_schema(more))
            }
            ["responses", ..] => self.response(op, &rest[1..]),
            _ => op.to_string(),
        }
    }

    /// Below `responses` (`rest` starts with the status) or below a
    /// component response named `base` (`rest` starts after its name).
    fn response(&self, base: &str, rest: &[&str]) -> String {
        let whole = self.leaf == Leaf::Element;
        let (label, more) = match rest {
            [status, more @ ..] if !base.starts_with("response `") => {
                (format!("{base} response {status}"), more)
            }
            more => (base.to_string(), more),
        };
        match more {
            ["content", _, "schema", schema @ ..] => format!("{label} body{}", schema_path(schema)),
            ["headers", name, header @ ..] if !header.is_empty() || whole => {
                format!("{label} header {name}{}", parameter_schema(header))
            }
            // A header's own change names the response: the same header
            // added to many responses then reads as one line.
            [] if whole => label,
            ["headers", _] => label,
            [] | ["content", ..] => base.to_string(),
            _ => label,
        }
    }

    /// `query `cursor``: where the parameter at `pointer` travels, and its
    /// name, `$ref` followed.
    fn parameter(&self, pointer: &str) -> Option<String> {
        self.docs.iter().find_map(|doc| {
            let node = doc.pointer(pointer.strip_prefix('#')?)?;
            let node = match node.get("$ref").and_then(Value::as_str) {
                Some(reference) => doc.pointer(reference.strip_prefix('#')?)?,
                None => node,
            };
            Some(format!(
                "{} `{}`",
                node["in"].as_str()?,
                node["name"].as_str()?
            ))
        })
    }
}

/// A parameter's or header's schema, declared directly or by media type.
fn parameter_schema(rest: &[&str]) -> String {
    match rest {
        ["schema", schema @ ..] => schema_path(schema),
        _ => media_schema(rest),
    }
}

fn media_schema(rest: &[&str]) -> String {
    match rest {
        ["content", _, "schema", schema @ ..] => schema_path(schema),
        [] | ["content", ..] => String::new(),
        other => format!("/{}", other.join("/")),
    }
}

/// `.data[].status` for `properties/data/items/properties/status`.
fn schema_path(tokens: &[&str]) -> String {
    let mut out = String::new();
    let mut rest = tokens;
    while let Some((first, tail)) = rest.split_first() {
        rest = tail;
        match (*first, tail.first()) {
            ("properties", Some(name)) => {
                out.push('.');
                out.push_str(name);
                rest = &tail[1..];
            }
            ("items", _) => out.push_str("[]"),
            ("additionalProperties", _) => out.push_str(".*"),
            // A member of allOf is the schema it is merged into.
            ("allOf", Some(_)) => rest = &tail[1..],
            ("oneOf" | "anyOf", Some(index)) => {
                out.push_str(&format!(" ({first} {index})"));
                rest = &tail[1..];
            }
            (keyword, _) => {
                out.push('/');
                out.push_str(keyword);
            }
        }
    }
    out
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn named(pointer: &str, leaf: Leaf) -> String {
        let doc = json!({"paths": {"/list": {"get": {"parameters": [
            {"in": "query", "name": "limit"},
            {"$ref": "#/components/parameters/Cursor"},
        ]}}}, "components": {"parameters": {"Cursor": {"in": "query", "name": "cursor"}}}});
        place(pointer, [&doc, &doc], leaf)
    }

    #[test]
    fn operations_parameters_and_bodies_are_named_as_a_reviewer_says_them() {
        let body = "#/paths/~1list/get/responses/200/content/application~1json/schema";
        for (pointer, leaf, expected) in [
            ("#/paths/~1list/get", Leaf::Operation, "GET /list"),
            (
                "#/paths/~1list/get/parameters/0",
                Leaf::Operation,
                "GET /list",
            ),
            (
                "#/paths/~1list/get/parameters/0",
                Leaf::Element,
                "GET /list query `limit`",
            ),
            (
                "#/paths/~1list/get/parameters/1/schema",
                Leaf::Operation,
                "GET /list query `cursor`",
            ),
            (
                &format!("{body}/properties/data/items/properties/status"),
                Leaf::Operation,
                "GET /list response 200 body.data[].status",
            ),
            (
                "#/paths/~1list/get/responses/200/headers/ETag",
                Leaf::Operation,
                "GET /list response 200",
            ),
            (
                "#/paths/~1list/get/responses/200/headers/ETag/schema",
                Leaf::Operation,
                "GET /list response 200 header ETag",
            ),
            (
                "#/paths/~1list/get/responses/304",
                Leaf::Element,
                "GET /list response 304",
            ),
            (
                "#/components/schemas/ListEntry/allOf/0/properties/notes",
                Leaf::Operation,
                "ListEntry.notes",
            ),
            (
                "#/components/schemas/Error/properties/details/additionalProperties",
                Leaf::Operation,
                "Error.details.*",
            ),
            (
                "#/components/schemas/A/oneOf/1",
                Leaf::Operation,
                "A (oneOf 1)",
            ),
            (
                "#/components/schemas/A/required",
                Leaf::Operation,
                "A/required",
            ),
            ("#/x/y", Leaf::Operation, "#/x/y"),
        ] {
            assert_eq!(named(pointer, leaf), expected, "{pointer}");
        }
    }
}
