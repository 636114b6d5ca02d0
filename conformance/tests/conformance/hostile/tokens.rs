//! Attacks on the token inventory: minting without end (each new token a
//! fresh 60 requests a minute, and a row that never goes away).

use anitrack_conformance::harness::Catalog;
use serde_json::json;

use crate::support::{PASSWORD, TestEnv, no_redirects, settings_session, status_json};

/// The contract's numbers (spec/src/limits.rs).
const TOKENS_ACTIVE_MAX: usize = 100;
const TOKEN_CREATIONS_PER_HOUR: usize = 20;

async fn create_on_page(env: &TestEnv, session: &str, csrf: &str, name: &str) -> (u16, String) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf_token", csrf)
        .append_pair("name", name)
        .finish();
    let response = no_redirects()
        .post(env.url("/settings/tokens"))
        .header("cookie", session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST /settings/tokens");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn the_settings_page_cannot_mint_unlimited_tokens() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("minter@example.test", "Minter", true).await;
    let (session, csrf) = settings_session(&env, "minter@example.test").await;
    for n in 1..=TOKEN_CREATIONS_PER_HOUR {
        let (status, _) = create_on_page(&env, &session, &csrf, &format!("tool {n}")).await;
        assert_eq!(status, 201, "token {n}");
    }
    let (status, page) = create_on_page(&env, &session, &csrf, "one too many").await;
    assert_eq!(status, 429);
    assert!(page.contains("Too many new tokens"), "{page}");
    let live = env.psql_value("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL");
    assert_eq!(live, TOKEN_CREATIONS_PER_HOUR.to_string());
}

#[tokio::test]
async fn creating_tokens_through_the_api_has_an_hourly_budget_per_account() {
    // Lift the per-minute sign-in limit so only the account's budget binds.
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[("ANITRACK_TOKEN_RATE_LIMIT_PER_MINUTE", "1000")],
    )
    .await;
    env.create_user("api.minter@example.test", "Minter", true)
        .await;
    let issue = || {
        env.http
            .post(env.url("/api/v1/auth/token"))
            .json(&json!({"email": "api.minter@example.test", "password": PASSWORD, "device_name": "x"}))
            .send()
    };
    for n in 1..=TOKEN_CREATIONS_PER_HOUR {
        assert_eq!(
            issue().await.expect("send").status().as_u16(),
            201,
            "token {n}"
        );
    }
    let refused = issue().await.expect("send");
    assert_eq!(refused.status().as_u16(), 429);
    let policy = refused
        .headers()
        .get("ratelimit-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        policy.contains(&format!(
            "\"token-creation\";q={TOKEN_CREATIONS_PER_HOUR};w=3600"
        )),
        "{policy}"
    );
    let retry: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((3000..=3600).contains(&retry), "Retry-After {retry}");
    let (_, body) = status_json(refused).await;
    assert_eq!(body, json!({"message": "Too Many Attempts."}));
}

#[tokio::test]
async fn an_account_holds_at_most_a_hundred_active_tokens() {
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[("ANITRACK_TOKEN_RATE_LIMIT_PER_MINUTE", "1000")],
    )
    .await;
    let token = env.user_with_token("hoarder@example.test").await;
    // 98 more, made beside the server, so the account holds 99.
    env.psql(
        "INSERT INTO api_tokens (account_id, name, token_hash) \
         SELECT a.id, 'bulk ' || g, sha256(convert_to(g::text || random()::text, 'UTF8')) \
         FROM accounts a, generate_series(1, 98) g",
    );
    // Four creations at once for the last place: exactly one wins.
    let attempts: Vec<_> = (0..4)
        .map(|n| {
            let http = env.http.clone();
            let url = env.url("/api/v1/auth/token");
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .header("x-forwarded-for", format!("198.51.100.{n}"))
                    .json(&json!({"email": "hoarder@example.test", "password": PASSWORD, "device_name": format!("racer {n}")}))
                    .send()
                    .await
                    .expect("send");
                status_json(response).await
            })
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for attempt in attempts {
        let (status, body) = attempt.await.expect("join");
        match status {
            201 => created += 1,
            422 => {
                let message = body["errors"]["device_name"][0]
                    .as_str()
                    .unwrap_or_default();
                assert!(message.contains("100 active tokens"), "{body}");
                refused += 1;
            }
            // A busy hashing slot may answer one first.
            503 => {}
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 1, "exactly one creation takes the last place");
    assert!(refused >= 1, "the others are told why: {refused}");
    let live = env.psql_value("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL");
    assert_eq!(live, TOKENS_ACTIVE_MAX.to_string());
    // The page says so too, and revoking one makes room again.
    let client = env.client(&token);
    let listed = client
        .token_list()
        .send()
        .await
        .expect("list")
        .into_inner()
        .data;
    assert_eq!(listed.len(), TOKENS_ACTIVE_MAX);
    let spare = listed
        .iter()
        .find(|t| !t.is_current)
        .expect("another token");
    client
        .token_revoke()
        .id(spare.id)
        .send()
        .await
        .expect("revoke");
    let response = env
        .http
        .post(env.url("/api/v1/auth/token"))
        .header("x-forwarded-for", "198.51.100.200")
        .json(
            &json!({"email": "hoarder@example.test", "password": PASSWORD, "device_name": "after"}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 201);
}
