//! Rejection is cheap: a key known to be over its limit is refused without
//! a database write, a made-up token costs one read and no write, and a
//! rate-limit row held locked costs a quick 503, not a hung request.

use std::time::{Duration, Instant};

use anitrack_conformance::harness::Catalog;

use crate::support::{TestEnv, issue_from, user_status};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A token of the documented shape (`atk_`, 30 base62 characters, their
/// CRC32 in 6 base62 characters) that no account holds: what an attacker
/// who read the docs can make in any number.
fn made_up_token(seed: u64) -> String {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let random: String = (0..30)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            BASE62[((state >> 33) % 62) as usize] as char
        })
        .collect();
    let mut sum = u64::from(crc32fast::hash(random.as_bytes()));
    let mut checksum = [b'0'; 6];
    for slot in checksum.iter_mut().rev() {
        *slot = BASE62[(sum % 62) as usize];
        sum /= 62;
    }
    format!("atk_{random}{}", String::from_utf8_lossy(&checksum))
}

fn window_hits(env: &TestEnv, key_pattern: &str) -> String {
    env.psql_value(&format!(
        "SELECT coalesce(sum(hits), 0) FROM rate_limits WHERE key LIKE '{key_pattern}'"
    ))
}

#[tokio::test]
async fn a_token_over_its_limit_is_refused_without_a_database_write() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let token = env.user_with_token("spender@example.test").await;
    for _ in 0..60 {
        assert_eq!(user_status(&env, &token).await, 200);
    }
    assert_eq!(user_status(&env, &token).await, 429);
    assert_eq!(window_hits(&env, "t:%"), "61");
    // Fifty more refusals, each answered from memory: the count stays.
    for _ in 0..50 {
        assert_eq!(user_status(&env, &token).await, 429);
    }
    assert_eq!(
        window_hits(&env, "t:%"),
        "61",
        "no write per refused request"
    );
}

#[tokio::test]
async fn an_address_over_its_sign_in_limit_is_refused_without_a_database_write() {
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[("ANITRACK_TRUSTED_PROXIES", "127.0.0.1/32")],
    )
    .await;
    for n in 0..6 {
        issue_from(&env, "203.0.113.5", &format!("x{n}@example.test"), "guess").await;
    }
    assert_eq!(window_hits(&env, "ip:%"), "6");
    for n in 0..30 {
        let response =
            issue_from(&env, "203.0.113.5", &format!("y{n}@example.test"), "guess").await;
        assert_eq!(response.status().as_u16(), 429);
        assert!(response.headers().contains_key("retry-after"));
    }
    assert_eq!(
        window_hits(&env, "ip:%"),
        "6",
        "no write per refused attempt"
    );
    assert_eq!(
        window_hits(&env, "email:y%"),
        "0",
        "nor any count for the emails"
    );
}

#[tokio::test]
async fn a_flood_of_made_up_tokens_writes_nothing_and_real_tokens_keep_working() {
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[
            ("ANITRACK_DB_POOL_SIZE", "4"),
            ("ANITRACK_RATE_LIMIT_PER_MINUTE", "100000"),
        ],
    )
    .await;
    let token = env.user_with_token("real@example.test").await;
    assert_eq!(user_status(&env, &token).await, 200);
    let writes_before = env.psql_value(
        "SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relname = 'rate_limits'",
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    let flood: Vec<_> = (0..32u64)
        .map(|worker| {
            let http = env.http.clone();
            let url = env.url("/api/v1/user");
            tokio::spawn(async move {
                let mut sent = 0u64;
                let mut unexpected = Vec::new();
                while Instant::now() < deadline {
                    let response = http
                        .get(&url)
                        .bearer_auth(made_up_token(worker * 1_000_000 + sent))
                        .send()
                        .await
                        .expect("send");
                    let status = response.status().as_u16();
                    // 401, or 503 when the lane for unfamiliar tokens is full.
                    if status != 401 && status != 503 {
                        unexpected.push(status);
                    }
                    sent += 1;
                }
                (sent, unexpected)
            })
        })
        .collect();
    let mut real = Vec::new();
    while Instant::now() < deadline {
        real.push(user_status(&env, &token).await);
    }
    let mut made_up = 0;
    for worker in flood {
        let (sent, unexpected) = worker.await.expect("join");
        assert!(unexpected.is_empty(), "made-up tokens got {unexpected:?}");
        made_up += sent;
    }
    println!(
        "hostile: {made_up} made-up tokens in 3 s beside {} requests of a real token",
        real.len()
    );
    assert!(
        real.iter().all(|s| *s == 200),
        "the real token got {real:?}"
    );
    // Statistics reach pg_stat a moment after the transactions end.
    std::thread::sleep(Duration::from_millis(1500));
    let writes_after = env.psql_value(
        "SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relname = 'rate_limits'",
    );
    let real_writes = real.len() as i64;
    let flood_writes = writes_after.parse::<i64>().expect("count")
        - writes_before.parse::<i64>().expect("count")
        - real_writes;
    assert!(
        flood_writes <= 0,
        "{flood_writes} writes for made-up tokens"
    );
}

#[tokio::test]
async fn a_locked_rate_limit_row_costs_a_quick_503_not_a_hung_request() {
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[
            // Far above the lock timeout, so only that can answer quickly.
            ("ANITRACK_DB_STATEMENT_TIMEOUT_MS", "30000"),
            ("ANITRACK_REQUEST_TIMEOUT_MS", "30000"),
        ],
    )
    .await;
    let token = env.user_with_token("locked@example.test").await;
    assert_eq!(user_status(&env, &token).await, 200);
    let holder = env
        .hold_lock("SELECT 1 FROM rate_limits FOR UPDATE", 10)
        .await;
    let started = Instant::now();
    let response = env
        .http
        .get(env.url("/api/v1/user"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    let took = started.elapsed();
    drop(holder);
    println!("hostile: a request behind a held rate-limit row answered in {took:?}");
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert!(
        took < Duration::from_secs(5),
        "waited {took:?} for the lock"
    );
}
