//! The error contract at the HTTP level: every error is JSON with a
//! `message`; 400 only for bodies that are not JSON; 413, 415, 404, 405.
//! Snapshots pin status, body and the headers that matter.

use anitrack_conformance::harness::Catalog;
use serde_json::{Value, json};

use crate::support::{TestEnv, status_json};

/// Status, the headers that matter, and the body, with the request id
/// redacted, as one snapshot-able value.
async fn observed(response: reqwest::Response) -> Value {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let headers = json!({
        "content-type": header("content-type"),
        "www-authenticate": header("www-authenticate"),
        "retry-after": header("retry-after"),
    });
    let has_request_id = header("x-request-id").is_some_and(|id| !id.is_empty());
    let mut body: Value = response.json().await.expect("JSON error body");
    if let Some(id) = body.get_mut("request_id") {
        *id = json!("[request_id]");
    }
    json!({"status": status, "x-request-id present": has_request_id, "headers": headers, "body": body})
}

fn token_url(env: &TestEnv) -> String {
    env.url("/api/v1/auth/token")
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400() {
    let env = TestEnv::start().await;
    let response = env
        .http
        .post(token_url(&env))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .expect("send");
    insta::assert_json_snapshot!("not_json_400", observed(response).await);
}

/// `POST /auth/token` with `body` as JSON, as sent.
async fn post_token_json(env: &TestEnv, body: &'static str) -> (u16, Value) {
    let response = env
        .http
        .post(token_url(env))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("send");
    status_json(response).await
}

#[tokio::test]
async fn json_that_is_not_an_object_is_a_422_on_body_not_a_400() {
    // Seven attempts: above the 5 a minute per address, which have their
    // own tests.
    let unthrottled = [("ANITRACK_TOKEN_RATE_LIMIT_PER_MINUTE", "1000")];
    let env = TestEnv::start_configured(Catalog::Demo, &unthrottled).await;
    for body in ["[]", "\"text\"", "42", "0.0", "null", "true"] {
        let (status, json) = post_token_json(&env, body).await;
        assert_eq!(status, 422, "{body:?}: {json}");
        assert_eq!(
            json,
            json!({
                "message": "The given data was invalid.",
                "errors": {"body": ["The body must be a JSON object."]},
            }),
            "{body:?}"
        );
    }
    // An empty body is `{}`: every required field is missing.
    let (status, json) = post_token_json(&env, "").await;
    assert_eq!(status, 422, "{json}");
    assert_eq!(
        crate::support::keys(&json["errors"]),
        ["device_name", "email", "password"]
    );
}

#[tokio::test]
async fn an_oversized_body_is_413_whether_declared_or_streamed() {
    let env = TestEnv::start().await;
    let big = format!("{{\"email\": \"{}\"}}", "a".repeat(70 * 1024));
    let response = env
        .http
        .post(token_url(&env))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("send");
    insta::assert_json_snapshot!("oversized_413", observed(response).await);

    // No Content-Length: a chunked stream is cut off at the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(8192)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let response = env
        .http
        .post(token_url(&env))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_stream(chunks)))
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(response).await;
    assert_eq!(status, 413, "{body}");
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + Sync + 'static {
    futures_util::stream::iter(chunks)
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_read() {
    let env = TestEnv::start().await;
    // 60 KiB of padding in an ignored field: read, then validated (422).
    let body = json!({"padding": "p".repeat(60 * 1024)}).to_string();
    let response = env
        .http
        .post(token_url(&env))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 422);
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let env = TestEnv::start().await;
    let response = env
        .http
        .post(token_url(&env))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a&password=b&device_name=c")
        .send()
        .await
        .expect("send");
    insta::assert_json_snapshot!("wrong_content_type_415", observed(response).await);

    // A JSON media type with parameters, or a +json type, is JSON.
    for content_type in [
        "application/json; charset=utf-8",
        "application/vnd.api+json",
    ] {
        let response = env
            .http
            .post(token_url(&env))
            .header("content-type", content_type)
            .body("{}")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), 422, "{content_type}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let env = TestEnv::start().await;
    let response = env
        .http
        .get(env.url("/api/v1/nothing-here"))
        .send()
        .await
        .expect("send");
    insta::assert_json_snapshot!("unknown_route_404", observed(response).await);
    let response = env
        .http
        .put(env.url("/api/v1/user"))
        .send()
        .await
        .expect("send");
    insta::assert_json_snapshot!("wrong_method_405", observed(response).await);
}

#[tokio::test]
async fn unauthenticated_and_validation_errors() {
    let env = TestEnv::start().await;
    let response = env
        .http
        .get(env.url("/api/v1/user"))
        .send()
        .await
        .expect("send");
    insta::assert_json_snapshot!("unauthenticated_401", observed(response).await);
    let response = env
        .http
        .post(token_url(&env))
        .json(&json!({"email": "", "password": "", "device_name": ""}))
        .send()
        .await
        .expect("send");
    insta::assert_json_snapshot!("token_issue_all_missing_422", observed(response).await);
}

#[tokio::test]
async fn unknown_body_fields_are_ignored() {
    let env = TestEnv::start().await;
    env.create_user("unknown.fields@example.test", "Unknown Fields", true)
        .await;
    let response = env
        .http
        .post(token_url(&env))
        .json(&json!({
            "email": "unknown.fields@example.test",
            "password": crate::support::PASSWORD,
            "device_name": "x",
            "scopes": ["admin"],
            "id": 1
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 201);
}
