//! Rate limits: 60 requests a minute per token, 5 token-issuance attempts a
//! minute per email and per client address, counted in PostgreSQL so they
//! hold across instances; their headers and the 429 body.

use std::net::IpAddr;

use anitrack_conformance::harness::{Catalog, Server};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestEnv, status_json};

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

async fn get_user(http: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    http.get(format!("{base}/api/v1/user"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send")
}

/// Asserts a 429 with every header the contract names.
async fn assert_too_many(response: reqwest::Response, limit: u32) {
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(
        header(&response, "x-ratelimit-limit"),
        Some(limit.to_string())
    );
    assert_eq!(
        header(&response, "x-ratelimit-remaining").as_deref(),
        Some("0")
    );
    let retry: u64 = header(&response, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let reset: i64 = header(&response, "x-ratelimit-reset")
        .and_then(|v| v.parse().ok())
        .expect("X-RateLimit-Reset");
    let now = chrono::Utc::now().timestamp();
    assert!(
        reset > now - 2 && reset <= now + 62,
        "X-RateLimit-Reset {reset} vs now {now}"
    );
    assert!(
        header(&response, "ratelimit-policy")
            .is_some_and(|p| p.contains(&format!("q={limit};w=60")))
    );
    assert!(header(&response, "ratelimit").is_some_and(|p| p.contains(";r=0;")));
    let (_, body) = status_json(response).await;
    assert_eq!(body, json!({"message": "Too Many Attempts."}));
}

/// Status and rate-limit headers of a 429, with the moving numbers redacted.
fn observed_429(response: &reqwest::Response) -> Value {
    let mut headers = serde_json::Map::new();
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "ratelimit-policy",
        "content-type",
    ] {
        headers.insert(name.into(), json!(header(response, name)));
    }
    for name in ["retry-after", "x-ratelimit-reset"] {
        headers.insert(
            name.into(),
            json!(header(response, name).map(|_| format!("[{name}]"))),
        );
    }
    let ratelimit = header(response, "ratelimit")
        .map(|v| v.split(";t=").next().unwrap_or("").to_string() + ";t=[seconds]");
    headers.insert("ratelimit".into(), json!(ratelimit));
    json!({"status": response.status().as_u16(), "headers": headers})
}

#[tokio::test]
async fn the_61st_request_on_a_token_is_429_while_another_token_passes() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let token = env.user_with_token("busy@example.test").await;
    let other = env.mint_token("busy@example.test", "second device").await;
    let base = env.server.base_url();
    for n in 1..=60u32 {
        let response = get_user(&env.http, &base, &token).await;
        assert_eq!(response.status().as_u16(), 200, "request {n}");
        assert_eq!(
            header(&response, "x-ratelimit-limit").as_deref(),
            Some("60")
        );
        assert_eq!(
            header(&response, "x-ratelimit-remaining"),
            Some((60 - n).to_string()),
            "request {n}"
        );
        assert_eq!(
            header(&response, "ratelimit-policy").as_deref(),
            Some("\"token\";q=60;w=60")
        );
    }
    let limited = get_user(&env.http, &base, &token).await;
    insta::assert_json_snapshot!("token_limit_429", observed_429(&limited));
    assert_too_many(limited, 60).await;
    // Every endpoint shares the token's budget; another token has its own.
    let response = env
        .http
        .get(env.url("/api/v1/auth/tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 429);
    let response = get_user(&env.http, &base, &other).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        header(&response, "x-ratelimit-remaining").as_deref(),
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
    let (a, b) = (env.server.base_url(), second.base_url());
    for n in 0..30 {
        assert_eq!(
            get_user(&env.http, &a, &token).await.status().as_u16(),
            200,
            "first instance, request {n}"
        );
        assert_eq!(
            get_user(&env.http, &b, &token).await.status().as_u16(),
            200,
            "second instance, request {n}"
        );
    }
    assert_too_many(get_user(&env.http, &b, &token).await, 60).await;
    assert_too_many(get_user(&env.http, &a, &token).await, 60).await;
}

/// A client whose connections come from 127.0.0.`n`.
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, n]))
        .build()
        .expect("client")
}

async fn issue(
    http: &reqwest::Client,
    env: &TestEnv,
    email: &str,
    password: &str,
) -> reqwest::Response {
    http.post(env.url("/api/v1/auth/token"))
        .json(&json!({"email": email, "password": password, "device_name": "throttle test"}))
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn the_6th_issuance_for_one_email_is_429_whatever_the_address() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("target@example.test", "Target", true).await;
    for n in 0..5u8 {
        let response = issue(
            &client_from(10 + n),
            &env,
            "target@example.test",
            "wrong password",
        )
        .await;
        assert_eq!(response.status().as_u16(), 422, "attempt {n}");
        assert_eq!(header(&response, "x-ratelimit-limit").as_deref(), Some("5"));
    }
    // Throttled before the password is even checked: the right one is refused too.
    let response = issue(&client_from(20), &env, "TARGET@example.test", PASSWORD).await;
    assert_too_many(response, 5).await;
    // Another email from a fresh address is unaffected.
    env.create_user("bystander@example.test", "Bystander", true)
        .await;
    let response = issue(&client_from(21), &env, "bystander@example.test", PASSWORD).await;
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test]
async fn the_6th_issuance_from_one_address_is_429_whatever_the_email() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let http = client_from(30);
    for n in 0..5 {
        let response = issue(&http, &env, &format!("stuffing{n}@example.test"), "guess").await;
        assert_eq!(response.status().as_u16(), 422, "attempt {n}");
    }
    assert_too_many(
        issue(&http, &env, "stuffing5@example.test", "guess").await,
        5,
    )
    .await;
    // Malformed bodies count too, and are refused as throttled first.
    let response = http
        .post(env.url("/api/v1/auth/token"))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 429);
    // Another address is unaffected.
    let response = issue(&client_from(31), &env, "stuffing6@example.test", "guess").await;
    assert_eq!(response.status().as_u16(), 422);
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
    let base = env.server.base_url();
    for _ in 0..3 {
        assert_eq!(
            get_user(&env.http, &base, &token).await.status().as_u16(),
            200
        );
    }
    assert_too_many(get_user(&env.http, &base, &token).await, 3).await;
    let http = client_from(40);
    for _ in 0..2 {
        assert_eq!(
            issue(&http, &env, "knobs@example.test", "nope")
                .await
                .status()
                .as_u16(),
            422
        );
    }
    assert_too_many(issue(&http, &env, "knobs@example.test", "nope").await, 2).await;
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    // Untrusted: X-Forwarded-For is ignored, every attempt is the peer's.
    let env = TestEnv::start_with(Catalog::Empty).await;
    let http = client_from(50);
    for n in 0..5 {
        let response = http
            .post(env.url("/api/v1/auth/token"))
            .header("x-forwarded-for", format!("203.0.113.{n}"))
            .json(&json!({"email": format!("spoof{n}@example.test"), "password": "x", "device_name": "x"}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), 422);
    }
    let response = http
        .post(env.url("/api/v1/auth/token"))
        .header("x-forwarded-for", "203.0.113.99")
        .json(&json!({"email": "spoof9@example.test", "password": "x", "device_name": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        response.status().as_u16(),
        429,
        "a spoofed header must not escape the limit"
    );

    // Trusted proxy: each forwarded client has its own budget.
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[("ANITRACK_TRUSTED_PROXIES", "127.0.0.0/8")],
    )
    .await;
    let proxy = client_from(60);
    for n in 0..12 {
        let response = proxy
            .post(env.url("/api/v1/auth/token"))
            .header("x-forwarded-for", format!("198.51.100.{}, 127.0.0.5", n % 2))
            .json(&json!({"email": format!("behind{n}@example.test"), "password": "x", "device_name": "x"}))
            .send()
            .await
            .expect("send");
        let expected = if n < 10 { 422 } else { 429 };
        assert_eq!(response.status().as_u16(), expected, "attempt {n}");
    }
}

#[tokio::test]
async fn ended_windows_are_swept() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let psql = |sql: &str| env.psql_value(sql);
    psql(
        "INSERT INTO rate_limits VALUES ('ip:192.0.2.1', now() - interval '1 hour', 3), ('ip:192.0.2.2', now(), 1)",
    );
    // The sweeper runs when an instance starts, then once a minute.
    let _second = Server::start(&env.database_url, &[])
        .await
        .expect("instance");
    let mut rows = String::new();
    for _ in 0..50 {
        rows = psql(
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
    for (path, status) in [("/health", "ok"), ("/ready", "ready")] {
        let response = env.http.get(env.url(path)).send().await.expect("send");
        assert!(header(&response, "x-request-id").is_some_and(|id| !id.is_empty()));
        let (code, body): (u16, Value) = status_json(response).await;
        assert_eq!((code, body), (200, json!({"status": status})), "{path}");
    }
    // A database behind this binary's migrations is not ready.
    env.psql(
        "DELETE FROM refinery_schema_history \
         WHERE version = (SELECT max(version) FROM refinery_schema_history)",
    );
    let response = env.http.get(env.url("/ready")).send().await.expect("send");
    assert!(header(&response, "retry-after").is_some());
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
