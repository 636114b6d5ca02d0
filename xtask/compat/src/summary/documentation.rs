//! What the gate leaves out: descriptions, summaries and deprecations, which
//! break nobody but which a reviewer reads. Both documents are walked
//! together; only what both hold is compared, so a new operation's text is
//! not listed beside the operation.

use serde_json::{Map, Value};

use crate::pointer::child;

/// One changed text (`summary` or `description`) or deprecation, at the
/// pointer of the object that holds it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Note {
    pub(crate) pointer: String,
    pub(crate) what: String,
    /// A deprecation rather than a text.
    pub(crate) deprecation: bool,
}

/// Keys whose values are data, not documentation (an example may hold a
/// `description` of its own).
const DATA: [&str; 5] = ["example", "examples", "default", "enum", "const"];

pub(crate) fn notes(old: &Value, new: &Value) -> Vec<Note> {
    let mut out = Vec::new();
    walk(old, new, "#", &mut out);
    out
}

fn walk(old: &Value, new: &Value, at: &str, out: &mut Vec<Note>) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            texts(o, n, at, out);
            for (key, new_value) in n {
                if DATA.contains(&key.as_str()) {
                    continue;
                }
                if let Some(old_value) = o.get(key) {
                    walk(old_value, new_value, &child(at, key), out);
                }
            }
        }
        (Value::Array(o), Value::Array(n)) => {
            for (index, new_value) in n.iter().enumerate() {
                // Parameters and tags are matched by name, anything else
                // by position.
                let old_value = match identity(new_value) {
                    Some(id) => o.iter().find(|v| identity(v) == Some(id)),
                    None => o.get(index),
                };
                if let Some(old_value) = old_value {
                    walk(old_value, new_value, &format!("{at}/{index}"), out);
                }
            }
        }
        _ => {}
    }
}

fn texts(o: &Map<String, Value>, n: &Map<String, Value>, at: &str, out: &mut Vec<Note>) {
    for field in ["summary", "description"] {
        let how = match (
            o.get(field).and_then(Value::as_str),
            n.get(field).and_then(Value::as_str),
        ) {
            (Some(a), Some(b)) if a != b => "",
            (None, Some(_)) => " added",
            (Some(_), None) => " removed",
            _ => continue,
        };
        out.push(Note {
            pointer: at.to_string(),
            what: format!("{field}{how}"),
            deprecation: false,
        });
    }
    let deprecated = |m: &Map<String, Value>| m.get("deprecated") == Some(&Value::Bool(true));
    if deprecated(o) != deprecated(n) {
        out.push(Note {
            pointer: at.to_string(),
            what: if deprecated(n) {
                "deprecated"
            } else {
                "no longer deprecated"
            }
            .to_string(),
            deprecation: true,
        });
    }
}

fn identity(value: &Value) -> Option<(&str, &str)> {
    let name = value.get("name")?.as_str()?;
    Some((value.get("in").and_then(Value::as_str).unwrap_or(""), name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_are_compared_where_both_documents_have_the_element() {
        let old = json!({"paths": {"/a": {"get": {
            "summary": "A", "parameters": [
                {"in": "query", "name": "x", "description": "x"},
                {"in": "query", "name": "y"}],
            "responses": {"200": {"description": "ok",
                "content": {"application/json": {"example": {"description": "d"}}}}}}}}});
        let new = json!({"paths": {"/a": {"get": {
            "summary": "A", "deprecated": true, "parameters": [
                {"in": "query", "name": "y", "description": "now y"},
                {"in": "query", "name": "x", "description": "x"}],
            "responses": {"200": {"description": "fine",
                "content": {"application/json": {"example": {"description": "e"}}}}}}},
            "/b": {"get": {"summary": "B"}}}});
        let notes: Vec<(String, String)> = notes(&old, &new)
            .into_iter()
            .map(|n| (n.pointer, n.what))
            .collect();
        assert_eq!(
            notes,
            [
                ("#/paths/~1a/get", "deprecated"),
                ("#/paths/~1a/get/parameters/0", "description added"),
                ("#/paths/~1a/get/responses/200", "description"),
            ]
            .map(|(p, w)| (p.to_string(), w.to_string()))
        );
    }
}
