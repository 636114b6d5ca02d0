//! Rate limits: 60 requests a minute per token, 5 token-issuance attempts a
//! minute per email and per client address, counted in PostgreSQL so they
//! hold across instances; their headers and the 429 body.

use std::net::IpAddr;

use anitrack_client::types::{self, TokenIssueRequest};
use anitrack_client::{Client, ResponseValue};
use anitrack_conformance::harness::{Catalog, Server, client_over};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support::{
    Answer, PASSWORD, TestEnv, api_error, error_response, head, refusal_json, status_json,
};

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

/// Asserts a 429 with every header the contract names.
fn assert_too_many(response: ResponseValue<types::Error>, limit: u32) {
    assert_eq!(response.status().as_u16(), 429);
    let headers = response.headers();
    assert_eq!(
        header(headers, "x-ratelimit-limit"),
        Some(limit.to_string())
    );
    assert_eq!(
        header(headers, "x-ratelimit-remaining").as_deref(),
        Some("0")
    );
    let retry: u64 = header(headers, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let reset: i64 = header(headers, "x-ratelimit-reset")
        .and_then(|v| v.parse().ok())
        .expect("X-RateLimit-Reset");
    let now = chrono::Utc::now().timestamp();
    assert!(
        reset > now - 2 && reset <= now + 62,
        "X-RateLimit-Reset {reset} vs now {now}"
    );
    assert!(
        header(headers, "ratelimit-policy").is_some_and(|p| p.contains(&format!("q={limit};w=60")))
    );
    assert!(header(headers, "ratelimit").is_some_and(|p| p.contains(";r=0;")));
    let (_, body) = refusal_json(response);
    assert_eq!(body, json!({"message": "Too Many Attempts."}));
}

/// Status and rate-limit headers of a 429, with the moving numbers redacted.
fn observed_429(response: &ResponseValue<types::Error>) -> Value {
    let headers = response.headers();
    let mut observed = serde_json::Map::new();
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "ratelimit-policy",
        "content-type",
    ] {
        observed.insert(name.into(), json!(header(headers, name)));
    }
    for name in ["retry-after", "x-ratelimit-reset"] {
        observed.insert(
            name.into(),
            json!(header(headers, name).map(|_| format!("[{name}]"))),
        );
    }
    let ratelimit = header(headers, "ratelimit")
        .map(|v| v.split(";t=").next().unwrap_or("").to_string() + ";t=[seconds]");
    observed.insert("ratelimit".into(), json!(ratelimit));
    json!({"status": response.status().as_u16(), "headers": observed})
}

#[tokio::test]
async fn the_61st_request_on_a_token_is_429_while_another_token_passes() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let token = env.user_with_token("busy@example.test").await;
    let other = env.mint_token("busy@example.test", "second device").await;
    let client = env.client(&token);
    for n in 1..=60u32 {
        let answer = client.user_view().send().await;
        let (status, headers) = head(&answer);
        assert_eq!(status, 200, "request {n}");
        assert_eq!(header(headers, "x-ratelimit-limit").as_deref(), Some("60"));
        assert_eq!(
            header(headers, "x-ratelimit-remaining"),
            Some((60 - n).to_string()),
            "request {n}"
        );
        assert_eq!(
            header(headers, "ratelimit-policy").as_deref(),
            Some("\"token\";q=60;w=60")
        );
    }
    let limited = error_response(client.user_view().send().await);
    insta::assert_json_snapshot!("token_limit_429", observed_429(&limited));
    assert_too_many(limited, 60);
    // Every endpoint shares the token's budget; another token has its own.
    assert_eq!(api_error(client.token_list().send().await).0, 429);
    let answer = env.client(&other).user_view().send().await;
    let (status, headers) = head(&answer);
    assert_eq!(status, 200);
    assert_eq!(
        header(headers, "x-ratelimit-remaining").as_deref(),
        Some("59")
    );
}

#[tokio::test]
async fn the_limit_holds_across_two_instances_sharing_the_database() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let token = env.user_with_token("two.instances@example.test").await;
    let second = Server::start(&env.database_url, &[])
        .await
        .expect("second instance");
    let a = env.client(&token);
    let b = client_over(&second.base_url(), Some(&token), reqwest::Client::builder());
    for n in 0..30 {
        assert_eq!(
            head(&a.user_view().send().await).0,
            200,
            "first instance, request {n}"
        );
        assert_eq!(
            head(&b.user_view().send().await).0,
            200,
            "second instance, request {n}"
        );
    }
    assert_too_many(error_response(b.user_view().send().await), 60);
    assert_too_many(error_response(a.user_view().send().await), 60);
}

/// A `reqwest` client whose connections come from 127.0.0.`n`.
fn from_address(n: u8) -> reqwest::ClientBuilder {
    reqwest::Client::builder().local_address(IpAddr::from([127, 0, 0, n]))
}

/// The generated client, without a token, connecting from 127.0.0.`n`.
fn client_from(env: &TestEnv, n: u8) -> Client {
    client_over(&env.server.base_url(), None, from_address(n))
}

/// [`client_from`], forging `X-Forwarded-For: <forwarded>` on every
/// request: the client has no such parameter, so the header is a default
/// of the `reqwest` client underneath.
fn client_forwarding(env: &TestEnv, n: u8, forwarded: &str) -> Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        forwarded.parse().expect("X-Forwarded-For value"),
    );
    client_over(
        &env.server.base_url(),
        None,
        from_address(n).default_headers(headers),
    )
}

/// `POST /auth/token` through the client.
async fn issue(
    client: &Client,
    email: &str,
    password: &str,
    device_name: &str,
) -> Answer<types::NewToken> {
    client
        .token_issue()
        .body(TokenIssueRequest {
            email: email.to_string(),
            password: password.to_string(),
            device_name: device_name.to_string(),
        })
        .send()
        .await
}

const DEVICE: &str = "throttle test";

#[tokio::test]
async fn the_6th_issuance_for_one_email_is_429_whatever_the_address() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("target@example.test", "Target", true).await;
    for n in 0..5u8 {
        let answer = issue(
            &client_from(&env, 10 + n),
            "target@example.test",
            "wrong password",
            DEVICE,
        )
        .await;
        let (status, headers) = head(&answer);
        assert_eq!(status, 422, "attempt {n}");
        assert_eq!(header(headers, "x-ratelimit-limit").as_deref(), Some("5"));
    }
    // Throttled before the password is even checked: the right one is refused too.
    let answer = issue(
        &client_from(&env, 20),
        "TARGET@example.test",
        PASSWORD,
        DEVICE,
    )
    .await;
    assert_too_many(error_response(answer), 5);
    // Another email from a fresh address is unaffected.
    env.create_user("bystander@example.test", "Bystander", true)
        .await;
    let answer = issue(
        &client_from(&env, 21),
        "bystander@example.test",
        PASSWORD,
        DEVICE,
    )
    .await;
    assert_eq!(head(&answer).0, 201);
}

#[tokio::test]
async fn the_6th_issuance_from_one_address_is_429_whatever_the_email() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let client = client_from(&env, 30);
    for n in 0..5 {
        let email = format!("stuffing{n}@example.test");
        let answer = issue(&client, &email, "guess", DEVICE).await;
        assert_eq!(head(&answer).0, 422, "attempt {n}");
    }
    assert_too_many(
        error_response(issue(&client, "stuffing5@example.test", "guess", DEVICE).await),
        5,
    );
    // Malformed bodies count too, and are refused as throttled first. Raw:
    // `{}` lacks every field, which the client's TokenIssueRequest cannot.
    let response = from_address(30)
        .build()
        .expect("client")
        .post(env.url("/api/v1/auth/token"))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 429);
    // Another address is unaffected.
    let answer = issue(
        &client_from(&env, 31),
        "stuffing6@example.test",
        "guess",
        DEVICE,
    )
    .await;
    assert_eq!(head(&answer).0, 422);
}

#[tokio::test]
async fn operators_set_the_limits() {
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[
            ("ANITRACK_RATE_LIMIT_PER_MINUTE", "3"),
            ("ANITRACK_TOKEN_RATE_LIMIT_PER_MINUTE", "2"),
        ],
    )
    .await;
    let token = env.user_with_token("knobs@example.test").await;
    let client = env.client(&token);
    for _ in 0..3 {
        assert_eq!(head(&client.user_view().send().await).0, 200);
    }
    assert_too_many(error_response(client.user_view().send().await), 3);
    let client = client_from(&env, 40);
    for _ in 0..2 {
        assert_eq!(
            head(&issue(&client, "knobs@example.test", "nope", DEVICE).await).0,
            422
        );
    }
    assert_too_many(
        error_response(issue(&client, "knobs@example.test", "nope", DEVICE).await),
        2,
    );
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    // Untrusted: X-Forwarded-For is ignored, every attempt is the peer's.
    let env = TestEnv::start_with(Catalog::Empty).await;
    for n in 0..5 {
        let client = client_forwarding(&env, 50, &format!("203.0.113.{n}"));
        let email = format!("spoof{n}@example.test");
        assert_eq!(head(&issue(&client, &email, "x", "x").await).0, 422);
    }
    let client = client_forwarding(&env, 50, "203.0.113.99");
    assert_eq!(
        head(&issue(&client, "spoof9@example.test", "x", "x").await).0,
        429,
        "a spoofed header must not escape the limit"
    );

    // Trusted proxy: each forwarded client has its own budget.
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[("ANITRACK_TRUSTED_PROXIES", "127.0.0.0/8")],
    )
    .await;
    for n in 0..12 {
        let forwarded = format!("198.51.100.{}, 127.0.0.5", n % 2);
        let proxy = client_forwarding(&env, 60, &forwarded);
        let email = format!("behind{n}@example.test");
        let expected = if n < 10 { 422 } else { 429 };
        assert_eq!(
            head(&issue(&proxy, &email, "x", "x").await).0,
            expected,
            "attempt {n}"
        );
    }
}

#[tokio::test]
async fn ended_windows_are_swept() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.psql(
        "INSERT INTO rate_limits VALUES ('ip:192.0.2.1', now() - interval '1 hour', 3), ('ip:192.0.2.2', now(), 1)",
    );
    // The sweeper runs when an instance starts, then once a minute.
    let _second = Server::start(&env.database_url, &[])
        .await
        .expect("instance");
    let mut rows = String::new();
    for _ in 0..50 {
        rows = env.psql_value(
            "SELECT string_agg(key, ',' ORDER BY key) FROM rate_limits WHERE key LIKE 'ip:192.0.2.%'",
        );
        if rows == "ip:192.0.2.2" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows, "ip:192.0.2.2");
}

#[tokio::test]
async fn health_and_readiness_for_load_balancers() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    // Raw: the probes are outside /api/v1 and the contract, so the client
    // has no call for them.
    for (path, status) in [("/health", "ok"), ("/ready", "ready")] {
        let response = env.http.get(env.url(path)).send().await.expect("send");
        assert!(header(response.headers(), "x-request-id").is_some_and(|id| !id.is_empty()));
        let (code, body): (u16, Value) = status_json(response).await;
        assert_eq!((code, body), (200, json!({"status": status})), "{path}");
    }
    // A database behind this binary's migrations is not ready.
    env.psql(
        "DELETE FROM refinery_schema_history \
         WHERE version = (SELECT max(version) FROM refinery_schema_history)",
    );
    let response = env.http.get(env.url("/ready")).send().await.expect("send");
    assert!(header(response.headers(), "retry-after").is_some());
    let (code, body) = status_json(response).await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(
        env.http
            .get(env.url("/health"))
            .send()
            .await
            .expect("send")
            .status()
            .as_u16(),
        200
    );
}
