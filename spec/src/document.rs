//! Emits the published OpenAPI document from the API trait.
//!
//! dropshot produces the operations, schemas and error responses; this module
//! adds what dropshot cannot express and the contract needs: the bearer
//! `securityScheme` on every operation but `token_issue`, the published
//! literal paths ([`crate::routes`]), and the decisions that fill the gaps of
//! the public docs, in the document's description.

use serde_json::{Value, json};

use crate::api::ani_track_api_mod;
use crate::routes;

/// Path of the committed document, relative to the workspace root.
pub const COMMITTED_PATH: &str = "spec/openapi.json";

/// The only operation that takes no bearer token.
pub const UNAUTHENTICATED_OPERATIONS: &[&str] = &["token_issue"];

/// Name of the bearer scheme in `components.securitySchemes`.
pub const BEARER_SCHEME: &str = "bearerAuth";

const DESCRIPTION: &str = include_str!("description.md");

/// The document as a JSON value.
pub fn openapi() -> Result<Value, String> {
    let api = ani_track_api_mod::stub_api_description()
        .map_err(|e| format!("the API description is invalid: {e}"))?;
    let mut definition = api.openapi("AniTrack API", dropshot::semver::Version::new(1, 0, 0));
    definition
        .description(DESCRIPTION)
        .contact_name("AniTrack")
        .contact_url("https://anitrack.app")
        .license("MIT", "https://opensource.org/licenses/MIT");
    let mut document = definition.json().map_err(|e| e.to_string())?;
    routes::publish_paths(&mut document, routes::ALIASES)?;
    add_bearer_security(&mut document)?;
    add_error_responses(&mut document)?;
    add_sync_responses(&mut document)?;
    document["servers"] = json!([{
        "url": "https://anitrack.app",
        "description": "Production; every path already carries the `/api/v1` prefix."
    }]);
    Ok(document)
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn openapi_text() -> Result<String, String> {
    let document = openapi()?;
    let mut text = serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

fn add_bearer_security(document: &mut Value) -> Result<(), String> {
    let components = document
        .as_object_mut()
        .ok_or("document is not an object")?
        .entry("components")
        .or_insert_with(|| json!({}));
    components["securitySchemes"] = json!({
        BEARER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <token>`. Tokens look like `atk_` followed by 36 base62 characters (the last 6 are a CRC32 checksum). Missing, malformed, unknown or revoked tokens get 401 `{\"message\": \"Unauthenticated.\"}` with `WWW-Authenticate: Bearer`. A token in the query string is never accepted."
        }
    });
    let paths = document["paths"]
        .as_object_mut()
        .ok_or("document has no paths")?;
    for item in paths.values_mut() {
        let operations = item.as_object_mut().ok_or("path item is not an object")?;
        for operation in operations.values_mut() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            // An explicit empty list says "no authentication" to readers
            // and linters (OpenAPI 3.0 §4.7.10: an empty array removes any
            // top-level security); leaving it out says nothing.
            operation["security"] = if UNAUTHENTICATED_OPERATIONS.contains(&id) {
                json!([])
            } else {
                json!([{ BEARER_SCHEME: [] }])
            };
        }
    }
    Ok(())
}

/// Whether an operation of the document takes the bearer token (its
/// `security` lists a requirement; `[]` is none).
pub fn requires_bearer(operation: &Value) -> bool {
    operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|requirements| !requirements.is_empty())
}

/// A header object of the document.
fn header(description: &str, schema: Value) -> Value {
    json!({"description": description, "schema": schema, "required": true})
}

/// Documents the error statuses whose headers matter, which dropshot can
/// only describe as one shared `4XX` response: `429` on every operation
/// (with its rate-limit headers) and `401` on bearer operations (with
/// `WWW-Authenticate`). Both reuse the one error schema.
fn add_error_responses(document: &mut Value) -> Result<(), String> {
    let error_body =
        json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
    let too_many = json!({
        "description": "Rate limit exceeded: `{\"message\": \"Too Many Attempts.\"}`. Retry after `Retry-After` seconds.",
        "headers": {
            "Retry-After": header("Seconds until the exceeded window ends.", json!({"type": "integer", "minimum": crate::limits::RETRY_AFTER_MIN})),
            "X-RateLimit-Reset": header("When the exceeded window ends, in Unix seconds.", json!({"type": "integer"})),
            "X-RateLimit-Limit": header("Requests allowed per window.", json!({"type": "integer"})),
            "X-RateLimit-Remaining": header("Requests left in the window (0).", json!({"type": "integer"})),
            "RateLimit-Policy": header("IETF draft policy, e.g. `\"token\";q=60;w=60`.", json!({"type": "string"})),
            "RateLimit": header("IETF draft state, e.g. `\"token\";r=0;t=41`.", json!({"type": "string"})),
        },
        "content": error_body,
    });
    let unauthenticated = json!({
        "description": "Missing, malformed, unknown or revoked token (or a token in the query string): `{\"message\": \"Unauthenticated.\"}`.",
        "headers": {
            "WWW-Authenticate": header("`Bearer`.", json!({"type": "string"})),
        },
        "content": error_body,
    });
    let paths = document["paths"]
        .as_object_mut()
        .ok_or("document has no paths")?;
    for item in paths.values_mut() {
        let operations = item.as_object_mut().ok_or("path item is not an object")?;
        for operation in operations.values_mut() {
            let bearer = requires_bearer(operation);
            let responses = operation["responses"]
                .as_object_mut()
                .ok_or("operation without responses")?;
            responses.insert("429".into(), too_many.clone());
            if bearer {
                responses.insert("401".into(), unauthenticated.clone());
            }
        }
    }
    Ok(())
}

/// Statuses of the sync protocol that dropshot folds into `4XX` (or, for
/// 304, cannot express): documented per operation so generated clients and
/// readers see them.
pub const SYNC_RESPONSES: &[(&str, &[&str])] = &[
    ("list_entries", &["304"]),
    ("list_changes", &["304", "410"]),
    ("list_entry_for_anime", &["304"]),
    ("list_entry_create", &["409"]),
    ("list_entry_update", &["409", "412"]),
    ("list_entry_delete", &["409", "412"]),
];

fn sync_response(status: &str) -> Result<Value, String> {
    let error_body =
        json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
    let described = |description: &str| json!({"description": description, "content": error_body});
    Ok(match status {
        "304" => json!({
            "description": "Not Modified: `If-None-Match` holds the current `ETag`; no body.",
            "headers": {"ETag": header("The current `ETag` (the one sent).", json!({"type": "string"}))},
        }),
        "409" => described(
            "A request with the same `Idempotency-Key` is still being processed: retry after it ends.",
        ),
        "410" => described(
            "The cursor is older than the deletions still kept: start again without a cursor.",
        ),
        "412" => described(
            "`If-Match` does not hold the entry's current `ETag`: it changed since the client saw it.",
        ),
        other => return Err(format!("no description for sync status {other}")),
    })
}

fn add_sync_responses(document: &mut Value) -> Result<(), String> {
    let paths = document["paths"]
        .as_object_mut()
        .ok_or("document has no paths")?;
    for item in paths.values_mut() {
        let operations = item.as_object_mut().ok_or("path item is not an object")?;
        for operation in operations.values_mut() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            let Some((_, statuses)) = SYNC_RESPONSES.iter().find(|(op, _)| *op == id) else {
                continue;
            };
            let responses = operation["responses"]
                .as_object_mut()
                .ok_or("operation without responses")?;
            for status in *statuses {
                responses.insert((*status).into(), sync_response(status)?);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations(document: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
        out
    }

    #[test]
    fn committed_document_is_current() {
        let committed = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json"),
        )
        .unwrap_or_default();
        let fresh = openapi_text().unwrap();
        assert!(
            committed == fresh,
            "spec/openapi.json is stale: run `cargo xtask openapi generate` and commit the result"
        );
    }

    #[test]
    fn every_operation_but_token_issue_requires_the_bearer_scheme() {
        let document = openapi().unwrap();
        assert_eq!(
            document["components"]["securitySchemes"][BEARER_SCHEME]["scheme"],
            "bearer"
        );
        for (path, method, op) in operations(&document) {
            let id = op["operationId"].as_str().unwrap();
            if id == "token_issue" {
                assert_eq!(op["security"], json!([]), "{method} {path}");
            } else {
                assert_eq!(
                    op["security"],
                    json!([{ BEARER_SCHEME: [] }]),
                    "{method} {path}"
                );
            }
        }
    }

    /// Every bound keyword in `value`, with the JSON pointer of its schema.
    fn bounds(value: &Value, at: &str, out: &mut Vec<(String, String, f64)>) {
        const KEYWORDS: [&str; 6] = [
            "minimum",
            "maximum",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
        ];
        match value {
            Value::Object(map) => {
                // An unsigned format's minimum 0 is the type's, not a rule.
                let unsigned = map
                    .get("format")
                    .and_then(Value::as_str)
                    .is_some_and(|f| f.starts_with("uint"));
                for (key, child) in map {
                    if KEYWORDS.contains(&key.as_str()) {
                        if let Some(number) = child.as_f64()
                            && !(unsigned && key == "minimum" && number == 0.0)
                        {
                            out.push((at.to_string(), key.clone(), number));
                        }
                    } else {
                        bounds(child, &format!("{at}/{key}"), out);
                    }
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    // A parameter is named by its name, not its position.
                    let step = match child.get("name").and_then(Value::as_str) {
                        Some(name) if child.get("in").is_some() => name.to_string(),
                        _ => i.to_string(),
                    };
                    bounds(child, &format!("{at}/{step}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_bound_the_document_publishes_is_its_constant() {
        use crate::limits::*;
        // (the end of the schema's pointer, keyword) → the constant; the
        // first match wins, so a specific pointer comes before a general one.
        let constants: [(&str, &str, f64); 20] = [
            ("/properties/score", "minimum", SCORE_MIN as f64),
            ("/properties/score", "maximum", SCORE_MAX as f64),
            ("/properties/progress", "minimum", PROGRESS_MIN as f64),
            (
                "/properties/rewatch_count",
                "minimum",
                REWATCH_COUNT_MIN as f64,
            ),
            ("/properties/notes", "maxLength", NOTES_MAX as f64),
            ("/properties/tags", "maxItems", TAGS_MAX as f64),
            ("/schemas/Tag", "minLength", TAG_MIN as f64),
            ("/schemas/Tag", "maxLength", TAG_MAX as f64),
            ("/properties/email", "minLength", REQUIRED_TEXT_MIN as f64),
            ("/properties/email", "maxLength", EMAIL_MAX as f64),
            (
                "/properties/password",
                "minLength",
                REQUIRED_TEXT_MIN as f64,
            ),
            ("/properties/password", "maxLength", PASSWORD_MAX as f64),
            (
                "/properties/device_name",
                "minLength",
                REQUIRED_TEXT_MIN as f64,
            ),
            (
                "/properties/device_name",
                "maxLength",
                DEVICE_NAME_MAX as f64,
            ),
            ("/Retry-After/schema", "minimum", RETRY_AFTER_MIN as f64),
            ("/q/schema", "maxLength", SEARCH_Q_MAX as f64),
            (
                "/api/v1/anime/get/parameters/limit/schema",
                "minimum",
                SEARCH_LIMIT_MIN as f64,
            ),
            (
                "/api/v1/anime/get/parameters/limit/schema",
                "maximum",
                SEARCH_LIMIT_MAX as f64,
            ),
            ("/limit/schema", "minimum", PAGE_LIMIT_MIN as f64),
            ("/limit/schema", "maximum", PAGE_LIMIT_MAX as f64),
        ];
        let document = openapi().unwrap();
        let mut found = Vec::new();
        bounds(&document, "", &mut found);
        assert!(found.len() >= constants.len(), "{found:?}");
        for (at, keyword, value) in &found {
            let constant = constants
                .iter()
                .find(|(end, k, _)| at.ends_with(end) && k == keyword)
                .unwrap_or_else(|| panic!("{at} {keyword} {value} has no constant in limits.rs"));
            assert_eq!(*value, constant.2, "{at} {keyword}");
        }
        for (end, keyword, _) in constants {
            assert!(
                found
                    .iter()
                    .any(|(at, k, _)| at.ends_with(end) && k == keyword),
                "the document no longer states {end} {keyword}"
            );
        }
    }

    #[test]
    fn the_list_stream_limit_the_document_states_is_the_enforced_one() {
        let document = openapi().unwrap();
        let list = operations(&document)
            .into_iter()
            .find(|(_, _, op)| op["operationId"] == "list_entries")
            .map(|(_, _, op)| op["description"].as_str().unwrap().to_string())
            .unwrap();
        let stated = format!(
            "at most {} lists at once",
            crate::limits::LIST_STREAMS_PER_ACCOUNT
        );
        assert!(list.contains(&stated), "{list}");
    }

    #[test]
    fn the_token_limits_the_document_states_are_the_enforced_ones() {
        use crate::limits::{TOKEN_CREATIONS_PER_HOUR, TOKENS_ACTIVE_MAX};
        let document = openapi().unwrap();
        let overview = document["info"]["description"].as_str().unwrap();
        let issue = operations(&document)
            .into_iter()
            .find(|(_, _, op)| op["operationId"] == "token_issue")
            .map(|(_, _, op)| op["description"].as_str().unwrap().to_string())
            .unwrap();
        for text in [overview, issue.as_str()] {
            assert!(
                text.contains(&format!("{TOKENS_ACTIVE_MAX} active tokens")),
                "{text}"
            );
            assert!(
                text.contains(&format!(
                    "{TOKEN_CREATIONS_PER_HOUR} token creations per hour"
                )) || text.contains(&format!("to {TOKEN_CREATIONS_PER_HOUR} per hour")),
                "{text}"
            );
        }
    }

    #[test]
    fn rate_limits_and_authentication_errors_are_documented_with_their_headers() {
        let document = openapi().unwrap();
        for (path, method, op) in operations(&document) {
            let responses = &op["responses"];
            let too_many = &responses["429"];
            for name in [
                "Retry-After",
                "X-RateLimit-Reset",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
            ] {
                assert!(
                    too_many["headers"][name].is_object(),
                    "{method} {path} 429 {name}"
                );
            }
            assert_eq!(
                too_many["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/Error"
            );
            let success = responses
                .as_object()
                .unwrap()
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .map(|(_, r)| r)
                .unwrap();
            for name in [
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "RateLimit-Policy",
                "RateLimit",
            ] {
                assert!(
                    success["headers"][name].is_object(),
                    "{method} {path} success {name}"
                );
            }
            let bearer = requires_bearer(&op);
            assert_eq!(
                responses["401"]["headers"]["WWW-Authenticate"].is_object(),
                bearer,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn every_error_response_references_the_one_error_schema() {
        let document = openapi().unwrap();
        let error = &document["components"]["schemas"]["Error"];
        assert_eq!(error["required"], json!(["message"]));
        assert!(error["properties"]["errors"].is_object());
        for (path, method, op) in operations(&document) {
            for range in ["4XX", "5XX"] {
                assert_eq!(
                    op["responses"][range]["$ref"],
                    format!("#/components/responses/Error"),
                    "{method} {path} {range}"
                );
            }
        }
        assert_eq!(
            document["components"]["responses"]["Error"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
    }

    #[test]
    fn operation_ids_are_the_contract_names() {
        let document = openapi().unwrap();
        let mut ids: Vec<(String, String, String)> = operations(&document)
            .into_iter()
            .map(|(path, method, op)| {
                (
                    path,
                    method,
                    op["operationId"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        ids.sort();
        let expected = [
            ("/api/v1/anime", "get", "anime_list"),
            (
                "/api/v1/anime/anilist/{anilistId}",
                "get",
                "anime_view_by_anilist_id",
            ),
            ("/api/v1/anime/{slug}", "get", "anime_view"),
            ("/api/v1/auth/token", "delete", "token_revoke_current"),
            ("/api/v1/auth/token", "post", "token_issue"),
            ("/api/v1/auth/tokens", "get", "token_list"),
            ("/api/v1/auth/tokens/{id}", "delete", "token_revoke"),
            ("/api/v1/list", "get", "list_entries"),
            ("/api/v1/list", "post", "list_entry_create"),
            (
                "/api/v1/list/anime/{animeId}",
                "get",
                "list_entry_for_anime",
            ),
            ("/api/v1/list/changes", "get", "list_changes"),
            ("/api/v1/list/{entryId}", "delete", "list_entry_delete"),
            ("/api/v1/list/{entryId}", "patch", "list_entry_update"),
            ("/api/v1/user", "get", "user_view"),
        ];
        let expected: Vec<(String, String, String)> = expected
            .iter()
            .map(|(p, m, i)| (p.to_string(), m.to_string(), i.to_string()))
            .collect();
        assert_eq!(ids, expected);
    }
}
