//! JSON pointers: following `$ref`s and naming the nodes findings point at.

use serde_json::Value;

const MAX_REF_HOPS: usize = 64;

/// Follows `$ref` (local JSON pointers) until a node that is not one.
pub(crate) fn resolve<'d>(
    doc: &'d Value,
    node: &'d Value,
    site: &str,
) -> Result<(&'d Value, String), String> {
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
pub(crate) fn child(base: &str, key: &str) -> String {
    format!("{base}/{}", key.replace('~', "~0").replace('/', "~1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn child_pointers_escape_their_token() {
        assert_eq!(child("#/paths", "/a/{b}~c"), "#/paths/~1a~1{b}~0c");
    }

    #[test]
    fn references_are_followed_to_the_node_they_name() {
        let doc = json!({"a": {"$ref": "#/b"}, "b": {"$ref": "#/c"}, "c": {"type": "string"}});
        let (node, at) = resolve(&doc, &doc["a"], "#/a").unwrap();
        assert_eq!((node, at.as_str()), (&json!({"type": "string"}), "#/c"));
        assert_eq!(
            resolve(&doc, &json!({"$ref": "#/d"}), "#/x"),
            Err("#/d".to_string())
        );
        let looped = json!({"a": {"$ref": "#/a"}});
        assert!(
            resolve(&looped, &looped["a"], "#/a")
                .unwrap_err()
                .ends_with("(a $ref loop)")
        );
    }
}
