//! Valid inputs generated from the published document are accepted: the
//! strategies below read the request schemas of spec/openapi.json (a body's
//! `$ref`, each property's type, `enum`, `format: date`, `minimum` and
//! `maximum`, `minLength`, `maxLength` and `pattern`, `maxItems`, `nullable`,
//! which properties are required) and nothing else, and the live server must
//! answer every generated request with its success status. A constraint the
//! server enforces and the document leaves out fails here.
//!
//! What a schema cannot say is chosen, not generated, and each choice is a
//! rule of the contract's descriptions:
//! - `anime_id` must name an anime of the catalog that is not on the list:
//!   the demo catalog's ONE PIECE, taken off the list again after each case;
//! - `progress` may not pass a known episode count: ONE PIECE's count is
//!   unknown (still airing), which never caps progress;
//! - `completed_at` may not precede `started_at`: when a body has both in
//!   the wrong order, they are swapped (and a PATCH starts from an entry
//!   without dates, so the body's dates are the only ones);
//! - credentials must be an account's: `POST /auth/token` sends the test
//!   account's email and password, and generates `device_name` (16 cases:
//!   an account may create 20 tokens an hour);
//! - ids in queries are positive (said in words: a `minimum` would make
//!   generated clients type them as unsigned), and a `cursor` must be one
//!   the server issued, so queries leave `cursor` out.
//!
//! Bodies and queries are sent raw, as generated: the point is the
//! document, not the Rust client's types.

use anitrack_conformance::harness::{Catalog, workspace_root};
use anitrack_conformance::world::ONE_PIECE;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

use crate::support::{PASSWORD, TestEnv, status_json};

/// Cases per property: well under a minute in all on two cores.
const BODY_CASES: u32 = 120;
const QUERY_CASES: u32 = 60;
/// An account may create 20 tokens an hour.
const TOKEN_CASES: u32 = 16;

fn document() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("spec/openapi.json"))
        .expect("spec/openapi.json");
    serde_json::from_str(&text).expect("the document is JSON")
}

/// `schema` with `$ref`s followed and a one-member `allOf` merged into it
/// (how the document writes a described reference).
fn resolved(doc: &Value, schema: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = doc
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{reference} does not resolve"));
        out.extend(resolved(doc, target));
    }
    for member in schema["allOf"].as_array().into_iter().flatten() {
        out.extend(resolved(doc, member));
    }
    if let Some(own) = schema.as_object() {
        for (key, value) in own {
            if key != "$ref" && key != "allOf" {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

fn number(schema: &Map<String, Value>, key: &str) -> Option<i64> {
    schema.get(key).and_then(Value::as_f64).map(|n| n as i64)
}

fn integer(schema: &Map<String, Value>) -> BoxedStrategy<Value> {
    let (low, high) = match schema.get("format").and_then(Value::as_str) {
        Some("int32") => (i32::MIN as i64, i32::MAX as i64),
        Some("uint32") => (0, u32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    };
    let min = number(schema, "minimum").unwrap_or(low).max(low);
    let max = number(schema, "maximum").unwrap_or(high).min(high);
    prop_oneof![Just(min), Just(max), min..=max]
        .prop_map(Value::from)
        .boxed()
}

/// A calendar date, `YYYY-MM-DD` (RFC 3339 `full-date`: years 0000-9999).
fn date() -> BoxedStrategy<Value> {
    (0..=9999_i32, 1..=12_u32, 1..=31_u32)
        .prop_filter_map("a day of that month", |(y, m, d)| {
            chrono::NaiveDate::from_ymd_opt(y, m, d).map(|_| json!(format!("{y:04}-{m:02}-{d:02}")))
        })
        .boxed()
}

fn string(schema: &Map<String, Value>) -> BoxedStrategy<Value> {
    let min = number(schema, "minLength").unwrap_or(0) as usize;
    let max = number(schema, "maxLength").map_or(usize::MAX, |n| n as usize);
    let text: BoxedStrategy<String> = match schema.get("pattern").and_then(Value::as_str) {
        // The document's patterns are ECMA-262 written with `\uXXXX` and
        // classes only, which the regex crate reads alike, and anchored at
        // both ends: what the unanchored body generates, they match.
        Some(pattern) => {
            let body = pattern
                .strip_prefix('^')
                .and_then(|p| p.strip_suffix('$'))
                .unwrap_or_else(|| panic!("pattern {pattern} is not anchored"));
            proptest::string::string_regex(body)
                .unwrap_or_else(|e| panic!("pattern {pattern}: {e}"))
                .boxed()
        }
        // Unconstrained: any characters at all, control characters too.
        None => proptest::collection::vec(any::<char>(), min..=max.min(min + 64))
            .prop_map(String::from_iter)
            .boxed(),
    };
    text.prop_filter("minLength and maxLength", move |s| {
        (min..=max).contains(&s.chars().count())
    })
    .prop_map(Value::from)
    .boxed()
}

/// A value valid under `schema`.
fn valid(doc: &Value, schema: &Value) -> BoxedStrategy<Value> {
    let schema = resolved(doc, schema);
    let base = if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        proptest::sample::select(values.clone()).boxed()
    } else {
        match schema.get("type").and_then(Value::as_str) {
            Some("string") if schema.get("format") == Some(&json!("date")) => date(),
            Some("string") => string(&schema),
            Some("integer") => integer(&schema),
            Some("boolean") => any::<bool>().prop_map(Value::from).boxed(),
            Some("array") => {
                let items = valid(doc, &schema["items"]);
                let min = number(&schema, "minItems").unwrap_or(0) as usize;
                let max = number(&schema, "maxItems").map_or(8, |n| n as usize);
                proptest::collection::vec(items, min..=max)
                    .prop_map(Value::from)
                    .boxed()
            }
            Some("object") => object(doc, &schema),
            other => panic!("no strategy for a schema of type {other:?}: {schema:?}"),
        }
    };
    if schema.get("nullable") == Some(&Value::Bool(true)) {
        prop_oneof![1 => Just(Value::Null), 3 => base].boxed()
    } else {
        base
    }
}

/// An object: every required property, each optional one or not.
fn object(doc: &Value, schema: &Map<String, Value>) -> BoxedStrategy<Value> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let properties: Vec<BoxedStrategy<Option<(String, Value)>>> = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, property)| {
            let name = name.clone();
            let value = valid(doc, property);
            if required.contains(&name.as_str()) {
                value.prop_map(move |v| Some((name.clone(), v))).boxed()
            } else {
                proptest::option::of(value.prop_map(move |v| (name.clone(), v))).boxed()
            }
        })
        .collect();
    properties
        .prop_map(|fields| Value::Object(fields.into_iter().flatten().collect()))
        .boxed()
}

/// The request body schema of `method path`.
fn body_schema(doc: &Value, path: &str, method: &str) -> Value {
    let pointer = format!(
        "/paths/{}/{method}/requestBody/content/application~1json/schema",
        path.replace('~', "~0").replace('/', "~1")
    );
    doc.pointer(&pointer)
        .unwrap_or_else(|| panic!("no request body at {pointer}"))
        .clone()
}

/// Query strings of `GET path`: each query parameter of the document,
/// present or not, as `name=value` pairs (`skip` leaves some out).
fn query(
    doc: &Value,
    path: &str,
    skip: &'static [&'static str],
) -> BoxedStrategy<Vec<(String, String)>> {
    let pointer = format!(
        "/paths/{}/get/parameters",
        path.replace('~', "~0").replace('/', "~1")
    );
    let parameters = doc
        .pointer(&pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let pairs: Vec<BoxedStrategy<Option<(String, String)>>> = parameters
        .iter()
        .filter(|p| p["in"] == "query")
        .filter(|p| !skip.contains(&p["name"].as_str().unwrap_or_default()))
        .map(|p| {
            let name = p["name"].as_str().unwrap_or_default().to_string();
            let mut schema = p["schema"].clone();
            // Query values cannot be null: a parameter is sent or not.
            if let Some(object) = schema.as_object_mut() {
                object.remove("nullable");
            }
            // Ids are positive (see the module's comment).
            if name.ends_with("_id") {
                schema["minimum"] = json!(1);
            }
            let value = valid(doc, &schema).prop_map(move |v| {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (name.clone(), text)
            });
            proptest::option::of(value).boxed()
        })
        .collect();
    pairs
        .prop_map(|pairs| pairs.into_iter().flatten().collect())
        .boxed()
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // Shrunk failures are printed, not kept: the strategies change
        // whenever the document does.
        failure_persistence: None,
        ..Config::default()
    })
}

/// `completed_at` not before `started_at`: swapped when both are given in
/// the wrong order (a rule no schema states).
fn dates_in_order(body: &mut Value) {
    if let (Some(started), Some(completed)) = (
        body["started_at"].as_str().map(String::from),
        body["completed_at"].as_str().map(String::from),
    ) && completed < started
    {
        body["started_at"] = json!(completed);
        body["completed_at"] = json!(started);
    }
}

async fn send(
    env: &TestEnv,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = env
        .http
        .request(method.parse().expect("method"), env.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    status_json(request.send().await.expect("send")).await
}

/// A server far above the rate limits (they have their own tests), an
/// account with a token, and AniTrack's id of ONE PIECE.
async fn world() -> (TestEnv, String, i64) {
    let unthrottled = [
        ("ANITRACK_RATE_LIMIT_PER_MINUTE", "1000000"),
        ("ANITRACK_TOKEN_RATE_LIMIT_PER_MINUTE", "1000000"),
    ];
    let env = TestEnv::start_configured(Catalog::Demo, &unthrottled).await;
    let token = env.user_with_token("document@example.test").await;
    let anime: i64 = env
        .psql_value(&format!(
            "SELECT id FROM anime WHERE anilist_id = {ONE_PIECE}"
        ))
        .parse()
        .expect("ONE PIECE is in the demo catalog");
    (env, token, anime)
}

fn check(result: Result<(), proptest::test_runner::TestError<impl std::fmt::Debug>>) {
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn every_new_list_entry_the_document_allows_is_added() {
    let doc = document();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (env, token, anime) = runtime.block_on(world());
    let bodies = valid(&doc, &body_schema(&doc, "/api/v1/list", "post"));
    check(runner(BODY_CASES).run(&bodies, |mut body| {
        body["anime_id"] = json!(anime);
        dates_in_order(&mut body);
        let (status, answer) =
            runtime.block_on(send(&env, &token, "POST", "/api/v1/list", Some(&body)));
        prop_assert_eq!(status, 201, "{} -> {}", body, answer);
        let id = answer["id"]
            .as_i64()
            .ok_or_else(|| TestCaseError::fail("no id"))?;
        // Off the list again, so that the next case can add it.
        let deleted = runtime.block_on(async {
            env.http
                .delete(env.url(&format!("/api/v1/list/{id}")))
                .bearer_auth(&token)
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        prop_assert_eq!(deleted.ok(), Some(204));
        Ok(())
    }));
}

#[test]
fn every_list_entry_patch_the_document_allows_is_applied() {
    let doc = document();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (env, token, anime) = runtime.block_on(world());
    let (status, entry) = runtime.block_on(send(
        &env,
        &token,
        "POST",
        "/api/v1/list",
        Some(&json!({"anime_id": anime, "status": "watching"})),
    ));
    assert_eq!(status, 201, "{entry}");
    let path = format!("/api/v1/list/{}", entry["id"]);
    let without_dates = json!({"started_at": null, "completed_at": null});
    let bodies = valid(&doc, &body_schema(&doc, "/api/v1/list/{entryId}", "patch"));
    check(runner(BODY_CASES).run(&bodies, |mut body| {
        dates_in_order(&mut body);
        let (reset, _) = runtime.block_on(send(&env, &token, "PATCH", &path, Some(&without_dates)));
        prop_assert_eq!(reset, 200);
        let (status, answer) = runtime.block_on(send(&env, &token, "PATCH", &path, Some(&body)));
        prop_assert_eq!(status, 200, "{} -> {}", body, answer);
        Ok(())
    }));
}

#[test]
fn every_device_name_the_document_allows_gets_a_token() {
    let doc = document();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (env, token, _) = runtime.block_on(world());
    let bodies = valid(&doc, &body_schema(&doc, "/api/v1/auth/token", "post"));
    check(runner(TOKEN_CASES).run(&bodies, |mut body| {
        body["email"] = json!("document@example.test");
        body["password"] = json!(PASSWORD);
        let (status, answer) = runtime.block_on(send(
            &env,
            &token,
            "POST",
            "/api/v1/auth/token",
            Some(&body),
        ));
        prop_assert_eq!(status, 201, "{} -> {}", body, answer);
        Ok(())
    }));
}

#[test]
fn every_query_the_document_allows_is_answered() {
    let doc = document();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (env, token, _) = runtime.block_on(world());
    for (path, skip) in [
        ("/api/v1/anime", &[][..]),
        ("/api/v1/list", &["cursor"][..]),
        ("/api/v1/list/changes", &["cursor"][..]),
    ] {
        check(runner(QUERY_CASES).run(&query(&doc, path, skip), |pairs| {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            let url = format!("{path}?{query}");
            let (status, answer) = runtime.block_on(send(&env, &token, "GET", &url, None));
            prop_assert_eq!(status, 200, "{} -> {}", url, answer);
            Ok(())
        }));
    }
}
