//! Attacks on sign-in: locking owners out, stepping around the per-address
//! limit, spelling an email anew, and queueing password hashes without end.
//!
//! The server trusts 127.0.0.1 as a proxy here, so each request names its
//! client address in `X-Forwarded-For`, as it would arrive through a load
//! balancer from many addresses.

use std::time::{Duration, Instant};

use anitrack_conformance::harness::{Catalog, fresh_unicode_database};

use crate::support::{
    PASSWORD, TestEnv, issue_from, no_redirects, set_cookie, web_sign_in, web_sign_in_with,
};

const BEHIND_PROXY: (&str, &str) = ("ANITRACK_TRUSTED_PROXIES", "127.0.0.1/32");
const ATTACKER: &str = "203.0.113.66";

#[tokio::test]
async fn one_address_cannot_lock_other_accounts_out_of_sign_in() {
    let env = TestEnv::start_configured(Catalog::Empty, &[BEHIND_PROXY]).await;
    let victims = ["ann@example.test", "bob@example.test", "cyd@example.test"];
    for victim in victims {
        env.create_user(victim, "Victim", true).await;
    }
    // The attacker spends its own five attempts a minute...
    for _ in 0..5 {
        let response = issue_from(&env, ATTACKER, "decoy@example.test", "guess").await;
        assert_eq!(response.status().as_u16(), 422);
    }
    // ...then names each victim six times, as if to exhaust their counters.
    for victim in victims {
        for _ in 0..6 {
            let response = issue_from(&env, ATTACKER, victim, "guess").await;
            assert_eq!(
                response.status().as_u16(),
                429,
                "the attacker is over its limit"
            );
        }
    }
    // Refused attempts did not count against the victims: each still signs
    // in, through the API and on the settings page, from their own address.
    for (n, victim) in victims.iter().enumerate() {
        let own = format!("198.51.100.{}", n + 1);
        let response = issue_from(&env, &own, victim, PASSWORD).await;
        assert_eq!(response.status().as_u16(), 201, "{victim} through the API");
        let page = web_sign_in(
            &no_redirects(),
            &env.server.base_url(),
            victim,
            PASSWORD,
            &own,
        )
        .await;
        assert_eq!(page.status().as_u16(), 303, "{victim} on the settings page");
        assert_eq!(
            page.headers().get("location").and_then(|v| v.to_str().ok()),
            Some("/settings/tokens")
        );
    }
}

#[tokio::test]
async fn an_ipv6_client_cannot_step_around_the_limit_inside_its_64() {
    let env = TestEnv::start_configured(Catalog::Empty, &[BEHIND_PROXY]).await;
    let mut statuses = Vec::new();
    for n in 1..=6 {
        // A fresh address of the same /64 each time, a fresh email too.
        let address = format!("2001:db8:42:7:{n:x}:{n:x}:{n:x}:{n:x}");
        let email = format!("nobody{n}@example.test");
        statuses.push(
            issue_from(&env, &address, &email, "guess")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [422, 422, 422, 422, 422, 429]);
    // Another /64 is another client.
    let response = issue_from(&env, "2001:db8:42:8::1", "nobody7@example.test", "guess").await;
    assert_eq!(response.status().as_u16(), 422);
    // An IPv4-mapped address is the IPv4 client it stands for.
    for _ in 0..5 {
        issue_from(&env, "192.0.2.9", "mapped@example.test", "guess").await;
    }
    let response = issue_from(&env, "::ffff:192.0.2.9", "mapped2@example.test", "guess").await;
    assert_eq!(response.status().as_u16(), 429);
}

#[tokio::test]
async fn no_spelling_of_an_email_gets_a_counter_of_its_own() {
    // On a Unicode database `lower('İ')` is `i`, so `vİctim@…` is the
    // victim's account; a throttle key lower-cased by other rules than the
    // lookup's would hand each such spelling five fresh guesses.
    let url = tokio::task::spawn_blocking(fresh_unicode_database)
        .await
        .expect("join")
        .expect("database");
    let env = TestEnv::start_on(url, &[BEHIND_PROXY]).await;
    env.create_user("victim@example.test", "Victim", true).await;
    let spellings = [
        "victim@example.test",
        "v\u{130}ctim@example.test",
        "vict\u{130}m@example.test",
        "v\u{130}ct\u{130}m@example.test",
        " VICTIM@Example.Test ",
        "v\u{130}ctim@EXAMPLE.test",
    ];
    let mut statuses = Vec::new();
    for (n, email) in spellings.iter().enumerate() {
        let address = format!("198.51.100.{}", n + 10);
        statuses.push(
            issue_from(&env, &address, email, "guess")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [422, 422, 422, 422, 422, 429]);
    // The spelling really is the victim's account: with the password, from
    // a quiet address, after the window, it would sign in. Here it is still
    // refused, because the email's five attempts are spent.
    let response = issue_from(&env, "198.51.100.99", "v\u{130}ctim@example.test", PASSWORD).await;
    assert_eq!(response.status().as_u16(), 429);
}

#[tokio::test]
async fn a_storm_of_sign_ins_cannot_queue_password_hashes_without_bound() {
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[
            BEHIND_PROXY,
            ("ANITRACK_HASH_CONCURRENCY", "1"),
            // A hung sign-in would show as one that took a minute.
            ("ANITRACK_REQUEST_TIMEOUT_MS", "60000"),
        ],
    )
    .await;
    env.create_user("owner@example.test", "Owner", true).await;
    // 300 sign-ins for unknown emails, each from an address of its own, so
    // no rate limit stops them: each costs a full (dummy) hash.
    let storm: Vec<_> = (0..300)
        .map(|n| {
            let http = env.http.clone();
            let url = env.url("/api/v1/auth/token");
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .header("x-forwarded-for", format!("10.{}.{}.1", n / 250, n % 250))
                    .json(&serde_json::json!({
                        "email": format!("stranger{n}@example.test"),
                        "password": "guess",
                        "device_name": "x",
                    }))
                    .send()
                    .await
                    .expect("send");
                let retry_after = response.headers().contains_key("retry-after");
                (response.status().as_u16(), retry_after)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The owner's sign-in, in the middle of the storm, is answered within a
    // few seconds (the wait for a hashing slot is bounded at about one).
    let started = Instant::now();
    let owner = issue_from(&env, "198.51.100.1", "owner@example.test", PASSWORD).await;
    let owner_took = started.elapsed();
    let owner_status = owner.status().as_u16();
    let mut busy = 0;
    for task in storm {
        let (status, retry_after) = task.await.expect("join");
        assert!(matches!(status, 422 | 503), "storm answer {status}");
        if status == 503 {
            assert!(retry_after, "a 503 says when to retry");
            busy += 1;
        }
    }
    println!(
        "hostile: sign-in storm of 300 with one hashing slot: owner answered {owner_status} \
         in {owner_took:?}; {busy} storm requests answered 503"
    );
    assert!(
        owner_took < Duration::from_secs(5),
        "the owner waited {owner_took:?} behind the storm"
    );
    assert!(
        matches!(owner_status, 201 | 503),
        "owner got {owner_status}"
    );
    assert!(
        busy > 0,
        "a storm larger than the slots can serve is shed with 503s"
    );
}

/// Signs in on the settings page from `client`, sending `extra_cookie`
/// beside the sign-in form's own.
async fn sign_in_with_cookie(
    env: &TestEnv,
    email: &str,
    password: &str,
    client: &str,
    extra_cookie: Option<&str>,
) -> reqwest::Response {
    let base = env.server.base_url();
    web_sign_in_with(
        &no_redirects(),
        &base,
        email,
        password,
        client,
        extra_cookie,
    )
    .await
}

#[tokio::test]
async fn a_lockout_from_many_addresses_does_not_lock_out_the_owners_own_browser() {
    let env = TestEnv::start_configured(Catalog::Empty, &[BEHIND_PROXY]).await;
    env.create_user("owner@example.test", "Owner", true).await;
    // The owner signed in from this browser before: it holds a device cookie.
    let first =
        sign_in_with_cookie(&env, "owner@example.test", PASSWORD, "198.51.100.7", None).await;
    assert_eq!(first.status().as_u16(), 303);
    let device = set_cookie(&first, "anitrack_device").expect("a device cookie");
    assert!(device.starts_with("__Host-"), "{device}");
    // Attackers on five addresses spend the email's attempts (the owner's
    // sign-in was the first of its five).
    let mut statuses = Vec::new();
    for n in 1..=5 {
        let address = format!("203.0.113.{n}");
        statuses.push(
            issue_from(&env, &address, "owner@example.test", "guess")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [422, 422, 422, 422, 429]);
    // The owner's browser still signs in...
    let owner = sign_in_with_cookie(
        &env,
        "owner@example.test",
        PASSWORD,
        "198.51.100.8",
        Some(&device),
    )
    .await;
    assert_eq!(
        owner.status().as_u16(),
        303,
        "the owner's own browser is not locked out"
    );
    // ...while another browser, or a forged device cookie, is.
    let stranger =
        sign_in_with_cookie(&env, "owner@example.test", PASSWORD, "198.51.100.9", None).await;
    assert_eq!(stranger.status().as_u16(), 429);
    let forged = device.replace("__Host-anitrack_device=1.", "__Host-anitrack_device=1.x");
    let forged = sign_in_with_cookie(
        &env,
        "owner@example.test",
        PASSWORD,
        "198.51.100.10",
        Some(&forged),
    )
    .await;
    assert_eq!(forged.status().as_u16(), 429);
    // The device's own counter still limits guessing from that browser.
    let mut device_statuses = Vec::new();
    for n in 0..6 {
        let address = format!("192.0.2.{}", n + 20);
        let response =
            sign_in_with_cookie(&env, "owner@example.test", "wrong", &address, Some(&device)).await;
        device_statuses.push(response.status().as_u16());
    }
    assert_eq!(device_statuses.last(), Some(&429), "{device_statuses:?}");
}
