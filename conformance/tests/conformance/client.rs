//! The hand-written part of the Rust client (`client/src/`), against a live
//! server: `Client::with_token`, the opt-in retries of 429 and 503 (as
//! `Retry-After` says, within their bounds, only for requests that may be
//! sent again), an explicit `null` in a PATCH, the typed error body, and
//! the README's example run as written. The `User-Agent` is checked in the
//! client's own tests (the server logs no header).
//!
//! How many attempts a call made is read from the server's side: its
//! request log (JSON lines, one per answered request) and the rate-limit
//! counter in PostgreSQL, which counts refused requests too.

use std::process::Stdio;
use std::time::Duration;

use anitrack_client::types::{ListEntryPatch, ListStatus, NewListEntry};
use anitrack_client::{Client, ErrorExt as _, Patch, RetryPolicy, StatusCode};
use anitrack_conformance::harness::{Catalog, example_bin};
use anitrack_conformance::world::{FMAB, World, date, new_entry, notes, patch};
use serde_json::{Value, json};

use crate::support::TestEnv;

/// Starts a server that writes its log as JSON lines, with `env` beside.
async fn server(env: &[(&'static str, &'static str)]) -> TestEnv {
    let mut env = env.to_vec();
    env.push(("ANITRACK_LOG_FORMAT", "json"));
    TestEnv::start_configured(Catalog::Empty, &env).await
}

/// The statuses the server answered `method path` with, in order, from
/// its JSON request log.
fn answers(env: &TestEnv, method: &str, path: &str) -> Vec<u64> {
    env.server
        .log_text()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["method"] == method && line["fields"]["path"] == path)
        .filter_map(|line| line["fields"]["status"].as_u64())
        .collect()
}

/// Hits counted in the token's current rate-limit window.
fn token_hits(env: &TestEnv) -> String {
    env.psql_value("SELECT hits FROM rate_limits WHERE key LIKE 't:%'")
}

fn retrying(env: &TestEnv, token: &str, policy: RetryPolicy) -> Client {
    Client::builder(&env.server.base_url())
        .token(token)
        .retries(policy)
        .build()
        .expect("client")
}

#[tokio::test]
async fn with_token_is_a_client_acting_as_the_tokens_owner() {
    let env = server(&[]).await;
    let token = env.user_with_token("holder@example.test").await;
    let client = Client::with_token(&env.server.base_url(), &token).expect("client");
    let me = client.user_view().send().await.expect("GET /user");
    assert_eq!(me.into_inner().email, "holder@example.test");
    // The bearer header is sensitive: the client's Debug never shows it.
    assert!(!format!("{client:?}").contains(&token));
    // A trailing `/api/v1/` is the same server.
    let client =
        Client::with_token(&format!("{}/api/v1/", env.server.base_url()), &token).expect("client");
    assert!(client.user_view().send().await.is_ok());

    let stranger =
        Client::with_token(&env.server.base_url(), "atk_not_a_real_token").expect("client");
    let refused = stranger.user_view().send().await.expect_err("401");
    assert_eq!(refused.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(refused.body().expect("a body").message, "Unauthenticated.");
}

#[tokio::test]
async fn a_429_is_sent_again_once_retry_after_has_passed() {
    let env = server(&[("ANITRACK_RATE_LIMIT_PER_MINUTE", "2")]).await;
    let token = env.user_with_token("waiter@example.test").await;
    let plain = env.client(&token);
    for _ in 0..2 {
        plain.user_view().send().await.expect("within the limit");
    }
    // The window ends in 5 s: the next request is a 429 saying so.
    env.psql(
        "UPDATE rate_limits SET window_start = now() - interval '55 seconds' WHERE key LIKE 't:%'",
    );
    let policy = RetryPolicy::default()
        .max_attempts(2)
        .max_total_wait(Duration::from_secs(30));
    let me = retrying(&env, &token, policy)
        .user_view()
        .send()
        .await
        .expect("the second attempt, after the window, succeeds");
    // Had the retry come before Retry-After, it would have been a 429 too,
    // and with 2 attempts the call would have failed.
    assert_eq!(answers(&env, "GET", "/api/v1/user"), [200, 200, 429, 200]);
    assert_eq!(token_hits(&env), "1", "the retry opened a new window");
    assert_eq!(
        me.headers()
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
}

#[tokio::test]
async fn a_429_whose_retry_after_passes_the_bound_is_returned_at_once() {
    let env = server(&[("ANITRACK_RATE_LIMIT_PER_MINUTE", "1")]).await;
    let token = env.user_with_token("impatient@example.test").await;
    env.client(&token)
        .user_view()
        .send()
        .await
        .expect("within the limit");
    let policy = RetryPolicy::default().max_total_wait(Duration::from_secs(5));
    let refused = retrying(&env, &token, policy)
        .user_view()
        .send()
        .await
        .expect_err("429");
    assert_eq!(refused.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(
        refused.body().expect("a body").message,
        "Too Many Attempts."
    );
    let wait = refused.retry_after().expect("Retry-After");
    assert!(wait > Duration::from_secs(5), "Retry-After {wait:?}");
    // One attempt: waiting would have passed the bound.
    assert_eq!(answers(&env, "GET", "/api/v1/user"), [200, 429]);
    assert_eq!(token_hits(&env), "2");
}

#[tokio::test]
async fn a_503_is_retried_for_reads_and_keyed_writes_within_the_bounds() {
    let env = TestEnv::start_configured(
        Catalog::Demo,
        &[
            ("ANITRACK_LOG_FORMAT", "json"),
            ("ANITRACK_DB_LOCK_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let token = env.user_with_token("unlucky@example.test").await;
    let anime = env
        .client(&token)
        .anime_list()
        .anilist_id(FMAB)
        .send()
        .await
        .expect("search")
        .into_inner()
        .data[0]
        .id;
    // Every authenticated request now waits out the lock timeout and gets
    // a 503 with `Retry-After: 2` before it does anything.
    let _locked = env
        .hold_lock("SELECT 1 FROM rate_limits FOR UPDATE", 120)
        .await;
    let three = retrying(&env, &token, RetryPolicy::default().max_attempts(3));

    // A read: 3 attempts, then the last 503 is the answer.
    let refused = three.user_view().send().await.expect_err("503");
    assert_eq!(refused.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(
        refused.body().expect("a body").message,
        "Service Unavailable"
    );
    assert_eq!(answers(&env, "GET", "/api/v1/user"), [503, 503, 503]);

    // Retry-After is 2 s: a bound of 3 s allows one wait, not two.
    let bounded = RetryPolicy::default()
        .max_attempts(5)
        .max_total_wait(Duration::from_secs(3));
    let refused = retrying(&env, &token, bounded)
        .user_view()
        .send()
        .await
        .expect_err("503");
    assert_eq!(refused.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(answers(&env, "GET", "/api/v1/user").len(), 3 + 2);

    // A write without an Idempotency-Key may have been done: sent once.
    let body = NewListEntry::builder()
        .anime_id(anime)
        .status(ListStatus::Watching);
    let refused = three
        .list_entry_create()
        .body(body.clone())
        .send()
        .await
        .expect_err("503");
    assert_eq!(refused.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(answers(&env, "POST", "/api/v1/list"), [503]);

    // With a key the server answers a repeat from what it kept: sent again.
    three
        .list_entry_create()
        .idempotency_key("client-area-1")
        .body(body)
        .send()
        .await
        .expect_err("503");
    assert_eq!(answers(&env, "POST", "/api/v1/list"), [503, 503, 503, 503]);
}

#[tokio::test]
async fn an_explicit_null_clears_a_field_and_an_absent_one_stays() {
    let world = World::new().await;
    let anime = world.anime(FMAB).await;
    let entry = world
        .add(
            new_entry(anime, ListStatus::Completed)
                .score(80)
                .progress(3)
                .started_at(date("2026-01-02"))
                .completed_at(date("2026-02-03"))
                .notes(notes("kept until cleared")),
        )
        .await;
    let client = Client::with_token(&world.env.server.base_url(), &world.token).expect("client");
    let update = |body: ListEntryPatch| {
        client
            .list_entry_update()
            .entry_id(entry.id)
            .body(body)
            .send()
    };

    // Nothing sent, nothing changed: not even the revision.
    let same = update(patch()).await.expect("200").into_inner();
    assert_eq!(same.rev, entry.rev);

    let unscored = update(patch().score(Patch::Clear))
        .await
        .expect("200")
        .into_inner();
    assert_eq!(unscored.score, None);
    assert_eq!(unscored.notes.as_deref(), Some("kept until cleared"));
    assert_eq!(unscored.started_at, Some(date("2026-01-02")));
    // As sent: `null`, not a field left out.
    let (status, sent) = world.entry_for_anime_as_sent(anime).await;
    assert_eq!(status, 200);
    assert_eq!(
        (sent["score"].clone(), sent["progress"].clone()),
        (Value::Null, json!(3))
    );
    assert_eq!(sent["notes"], json!("kept until cleared"));

    let cleared = update(
        patch()
            .notes(Patch::Clear)
            .started_at(Patch::Clear)
            .completed_at(Patch::Clear),
    )
    .await
    .expect("200")
    .into_inner();
    assert_eq!(
        (cleared.notes, cleared.started_at, cleared.completed_at),
        (None, None, None)
    );
    assert_eq!(
        (cleared.progress, cleared.status),
        (3, ListStatus::Completed)
    );

    // A cleared field can be set again.
    let rescored = update(patch().score(Patch::Set(55)))
        .await
        .expect("200")
        .into_inner();
    assert_eq!(rescored.score, Some(55));
}

#[tokio::test]
async fn refusals_carry_the_contracts_error_body_typed() {
    let world = World::new().await;
    let client = Client::with_token(&world.env.server.base_url(), &world.token).expect("client");
    let anime = world.anime(FMAB).await;

    let missing = client
        .list_entry_for_anime()
        .anime_id(anime)
        .send()
        .await
        .expect_err("404");
    assert_eq!(missing.status(), Some(StatusCode::NOT_FOUND));
    let body = missing.body().expect("a body");
    assert_eq!((body.message.as_str(), &body.errors), ("Not Found", &None));

    let entry = world.add(new_entry(anime, ListStatus::Watching)).await;
    let invalid = client
        .list_entry_update()
        .entry_id(entry.id)
        .body(patch().progress(-1).score(101))
        .send()
        .await
        .expect_err("422");
    assert_eq!(invalid.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    assert_eq!(
        invalid.body().expect("a body").message,
        "The given data was invalid."
    );
    assert_eq!(
        invalid.field_errors("progress"),
        ["The progress field must be at least 0."]
    );
    assert_eq!(
        invalid.field_errors("score"),
        ["The score field must be between 0 and 100."]
    );
    assert!(invalid.field_errors("notes").is_empty());
    assert_eq!(
        invalid.body().expect("a body").to_string(),
        "The given data was invalid. (progress: The progress field must be at least 0.; \
         score: The score field must be between 0 and 100.)"
    );
}

/// What one run of the README's example printed.
async fn run_readme_example(world: &World) -> String {
    let bin = example_bin("readme");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p anitrack-client --examples` \
         (`cargo xtask conformance` does)",
        bin.display()
    );
    let output = tokio::process::Command::new(bin)
        .env("ANITRACK_URL", world.env.server.base_url())
        .env("ANITRACK_TOKEN", &world.token)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("the README's example finishes within 60 s")
        .expect("the README's example runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the README's example failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `client/examples/readme.rs`, which README.md shows whole (the client's
/// unit tests check that), run as a program against a live server, twice:
/// first it adds the entry, then it finds it.
#[tokio::test]
async fn the_readme_example_runs_as_written() {
    let world = World::new().await;
    let first = run_readme_example(&world).await;
    let second = run_readme_example(&world).await;
    println!("client: the README's example printed:\n{first}--\n{second}");
    assert!(
        first.contains("not on Test User's list yet (Not Found): adding it"),
        "{first}"
    );
    assert!(!second.contains("adding it"), "{second}");
    for output in [&first, &second] {
        let lines: Vec<&str> = output.lines().rev().take(3).collect();
        assert!(lines[2].ends_with(": progress 1, score 90"), "{output}");
        assert!(lines[1].ends_with(": progress 1, score none"), "{output}");
        assert_eq!(
            lines[0],
            "422 Unprocessable Entity: The progress field must be at least 0."
        );
    }
    let (status, entry) = world.entry_for_anime_as_sent(world.anime(FMAB).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        (entry["progress"].clone(), entry["score"].clone()),
        (json!(1), Value::Null)
    );
}
