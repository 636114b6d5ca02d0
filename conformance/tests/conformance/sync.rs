//! `catalog sync` against a local mock of AniList's GraphQL API serving
//! recorded, real-shaped responses (there is no network here), including a
//! 429 with `Retry-After` and a 500.

use std::time::{Duration, Instant};

use anitrack_conformance::harness::{Catalog, fixture};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, body_string_contains, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{TestEnv, api_error};

fn recorded(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).expect("fixture"))
        .expect("fixture JSON")
}

/// AniList's answer with its rate-limit headers.
fn ok(name: &str, remaining: u32) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-ratelimit-limit", "30")
        .insert_header("x-ratelimit-remaining", remaining.to_string().as_str())
        .set_body_json(recorded(name))
}

async fn sync(env: &TestEnv, server: &MockServer, selection: &[&str]) -> crate::support::CliOutput {
    let mut args = vec!["catalog", "sync", "--endpoint"];
    let uri = server.uri();
    args.push(&uri);
    args.extend_from_slice(selection);
    args.extend_from_slice(&["--retry-delay-ms", "200"]);
    env.cli(&args, None).await
}

#[tokio::test]
async fn sync_by_ids_waits_out_a_429_and_retries_a_500() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let server = MockServer::start().await;
    // First a 429 asking for a one-second pause, then a 500, then the data.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .insert_header("x-ratelimit-limit", "30")
                .insert_header("x-ratelimit-remaining", "0")
                .set_body_json(recorded("error-429.json")),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_json(recorded("error-500.json")))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"variables": {"ids": [101922, 5114]}}),
        ))
        .and(body_string_contains("id_in: $ids"))
        .respond_with(ok("ids-5114-101922.json", 27))
        .with_priority(3)
        .mount(&server)
        .await;

    let started = Instant::now();
    let out = sync(&env, &server, &["--ids", "101922,5114"]).await;
    assert!(out.success, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("2 inserted, 0 updated, 0 unchanged, 0 skipped"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("Retry-After"), "{}", out.stderr);
    assert!(out.stderr.contains("500"), "{}", out.stderr);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(3));

    let token = env.user_with_token("sync@example.test").await;
    let anime = env
        .client(&token)
        .anime_view_by_anilist_id()
        .anilist_id(5114)
        .send()
        .await
        .expect("synced anime served");
    assert_eq!(anime.status().as_u16(), 200);
    assert_eq!(anime.into_inner().slug, "fullmetal-alchemist-brotherhood");

    // Synced again: nothing changes.
    let out = sync(&env, &server, &["--ids", "101922,5114"]).await;
    assert!(
        out.stdout.contains("0 inserted, 0 updated, 2 unchanged"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn sync_updated_since_pages_newest_first_and_stops_at_older_data() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"variables": {"page": 1}})))
        .and(body_string_contains("UPDATED_AT_DESC"))
        .respond_with(ok("updated-page-1.json", 29))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"variables": {"page": 2}})))
        .respond_with(ok("updated-page-2.json", 28))
        .mount(&server)
        .await;
    // Cowboy Bebop (updatedAt 2020) is older than the cut-off: not stored.
    let out = sync(&env, &server, &["--all-updated-since", "2025-01-01"]).await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("6 inserted, 0 updated, 0 unchanged, 0 skipped"),
        "{}",
        out.stdout
    );
    let token = env.user_with_token("since@example.test").await;
    let (status, _) = api_error(
        env.client(&token)
            .anime_view_by_anilist_id()
            .anilist_id(1)
            .send()
            .await,
    );
    assert_eq!(status, 404);
}

#[tokio::test]
async fn persistent_server_errors_fail_the_sync_clearly() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_json(recorded("error-500.json")))
        .mount(&server)
        .await;
    let out = env
        .cli(
            &[
                "catalog",
                "sync",
                "--endpoint",
                &server.uri(),
                "--ids",
                "1",
                "--attempts",
                "3",
                "--retry-delay-ms",
                "50",
            ],
            None,
        )
        .await;
    assert!(!out.success);
    assert!(
        out.stderr.contains("500") && out.stderr.contains("3 times"),
        "{}",
        out.stderr
    );
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(3));
}

#[tokio::test]
async fn sync_needs_a_selection() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let out = env.cli(&["catalog", "sync"], None).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    let out = env
        .cli(
            &["catalog", "sync", "--all-updated-since", "yesterday"],
            None,
        )
        .await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}
