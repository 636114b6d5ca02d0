//! The route table: every (path, method) of the published document is
//! served at exactly that URL, and nothing else answers. This is what proves
//! the router-conflict mechanism (spec::routes) end to end.

use serde_json::Value;

use crate::support::{TestEnv, status_json};

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

fn published() -> Value {
    let path = anitrack_conformance::harness::workspace_root().join("spec/openapi.json");
    let text = std::fs::read_to_string(&path).expect("spec/openapi.json");
    serde_json::from_str(&text).expect("spec/openapi.json is JSON")
}

/// A concrete URL path for a templated one: numeric ids, a slug elsewhere.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some("slug") => "some-slug".to_string(),
                Some(_) => "987654".to_string(),
                None => segment.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

fn request(env: &TestEnv, method: &str, path: &str) -> reqwest::RequestBuilder {
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    env.http
        .request(method, env.url(path))
        .header("content-type", "application/json")
        .body("{}")
}

#[tokio::test]
async fn every_documented_operation_is_served_at_its_url() {
    let env = TestEnv::start().await;
    let document = published();
    let mut checked = 0;
    for (template, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let path = concrete(template);
            let (status, body) =
                status_json(request(&env, method, &path).send().await.expect("send")).await;
            // Only a handler can answer 401 (bearer operations, no token
            // sent) or 422 (token_issue, empty body): the router's own
            // answers are 404 and 405.
            let expected = if requires_bearer(operation) { 401 } else { 422 };
            assert_eq!(
                status,
                expected,
                "{} {path} ({template}): {body}",
                method.to_uppercase()
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} operations in the document");
}

#[tokio::test]
async fn undocumented_methods_on_documented_paths_are_405_json() {
    let env = TestEnv::start().await;
    let document = published();
    for (template, item) in document["paths"].as_object().expect("paths") {
        let documented: Vec<&str> = item
            .as_object()
            .expect("item")
            .keys()
            .map(String::as_str)
            .collect();
        for method in METHODS.iter().filter(|m| !documented.contains(m)) {
            let path = concrete(template);
            let (status, body) =
                status_json(request(&env, method, &path).send().await.expect("send")).await;
            assert_eq!(status, 405, "{method} {path}: {body}");
            assert_eq!(body["message"], "Method Not Allowed", "{method} {path}");
        }
    }
}

#[tokio::test]
async fn undocumented_paths_are_404_json() {
    let env = TestEnv::start().await;
    for path in [
        "/",
        "/api",
        "/api/v1",
        "/api/v2/user",
        "/api/v1/users",
        "/api/v1/user/1",
        "/api/v1/auth",
        "/api/v1/auth/tokens/1/extra",
        "/api/v1/auth/token/1",
    ] {
        for method in ["get", "post"] {
            let (status, body) =
                status_json(request(&env, method, path).send().await.expect("send")).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
            assert_eq!(body["message"], "Not Found", "{method} {path}");
        }
    }
}

#[test]
fn the_published_paths_are_the_seed_paths() {
    // The published endpoints, relative to /api/v1, plus the
    // additive `GET /anime` search.
    let document = published();
    let mut actual: Vec<String> = Vec::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            actual.push(format!(
                "{} {}",
                method.to_uppercase(),
                template.trim_start_matches("/api/v1")
            ));
        }
    }
    actual.sort();
    let expected = [
        "DELETE /auth/token",
        "DELETE /auth/tokens/{id}",
        "DELETE /list/{entryId}",
        "GET /anime",
        "GET /anime/anilist/{anilistId}",
        "GET /anime/{slug}",
        "GET /auth/tokens",
        "GET /list",
        "GET /list/anime/{animeId}",
        // Added to v1 after its first publication (the sync protocol).
        "GET /list/changes",
        "GET /user",
        "PATCH /list/{entryId}",
        "POST /auth/token",
        "POST /list",
    ];
    assert_eq!(actual, expected);
}

/// Whether an operation of the document takes the bearer token: its
/// `security` lists a requirement (`token_issue`'s is `[]`, none).
fn requires_bearer(operation: &Value) -> bool {
    operation["security"]
        .as_array()
        .is_some_and(|requirements| !requirements.is_empty())
}

/// Every bearer operation of the document with a concrete URL.
fn bearer_operations() -> Vec<(String, String)> {
    let document = published();
    let mut out = Vec::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if requires_bearer(operation) {
                out.push((method.clone(), concrete(template)));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_bearer_operation_answers_403_to_an_account_without_api_access() {
    let env = TestEnv::start().await;
    env.create_user("no.access@example.test", "No Access", false)
        .await;
    let token = env.mint_token("no.access@example.test", "cli").await;
    for (method, path) in bearer_operations() {
        let response = request(&env, &method, &path)
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        let (status, body) = status_json(response).await;
        assert_eq!(status, 403, "{} {path}: {body}", method.to_uppercase());
        assert_eq!(
            body["message"],
            "API access is not enabled for this account."
        );
    }
}

#[tokio::test]
async fn every_operation_answers_429_with_its_headers_once_the_limit_is_spent() {
    let env = anitrack_conformance::harness::TestEnv::start_configured(
        anitrack_conformance::harness::Catalog::Demo,
        &[
            ("ANITRACK_RATE_LIMIT_PER_MINUTE", "1"),
            ("ANITRACK_TOKEN_RATE_LIMIT_PER_MINUTE", "1"),
        ],
    )
    .await;
    env.create_user("spent@example.test", "Spent", true).await;
    for (method, path) in bearer_operations() {
        let token = env.mint_token("spent@example.test", "spent").await;
        let spend = env
            .http
            .get(env.url("/api/v1/user"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(spend.status().as_u16(), 200);
        let response = request(&env, &method, &path)
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        let name = format!("{} {path}", method.to_uppercase());
        assert_eq!(response.status().as_u16(), 429, "{name}");
        for header in [
            "retry-after",
            "x-ratelimit-reset",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "ratelimit",
            "ratelimit-policy",
        ] {
            assert!(response.headers().contains_key(header), "{name}: {header}");
        }
        let (_, body) = status_json(response).await;
        assert_eq!(
            body,
            serde_json::json!({"message": "Too Many Attempts."}),
            "{name}"
        );
    }
    // And the one operation without a bearer token.
    for expected in [422, 429] {
        let (status, _) = status_json(
            request(&env, "post", "/api/v1/auth/token")
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(status, expected);
    }
}
