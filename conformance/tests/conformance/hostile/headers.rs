//! Responses that carry secrets are not kept, content types are not
//! sniffed, and no secret reaches the server's log.

use anitrack_conformance::harness::Catalog;
use serde_json::json;

use crate::support::{PASSWORD, TestEnv, no_redirects, settings_session};

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

#[tokio::test]
async fn a_response_carrying_a_token_is_never_stored() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("store@example.test", "Store", true).await;
    for (password, status) in [(PASSWORD, 201), ("wrong", 422)] {
        let response = env
            .http
            .post(env.url("/api/v1/auth/token"))
            .json(&json!({"email": "store@example.test", "password": password, "device_name": "x"}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), status);
        // RFC 6749 §5.1.
        assert_eq!(
            header(&response, "cache-control").as_deref(),
            Some("no-store")
        );
        assert_eq!(header(&response, "pragma").as_deref(), Some("no-cache"));
    }
    // The settings page that shows a new token.
    let http = no_redirects();
    let (session, _) = settings_session(&env, "store@example.test").await;
    let page = http
        .get(env.url("/settings/tokens"))
        .header("cookie", &session)
        .send()
        .await
        .expect("page");
    assert_eq!(header(&page, "cache-control").as_deref(), Some("no-store"));
}

#[tokio::test]
async fn no_response_is_sniffed_for_another_content_type() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let token = env.user_with_token("sniff@example.test").await;
    let cases: Vec<(&str, Option<&str>, u16)> = vec![
        ("/api/v1/user", Some(token.as_str()), 200),
        ("/api/v1/user", None, 401),
        ("/api/v1/list/anime/999999", Some(token.as_str()), 404),
        ("/api/v1/list?status=nope", Some(token.as_str()), 422),
        ("/health", None, 200),
        ("/login", None, 200),
        ("/assets/settings.js", None, 200),
        ("/api/v1/openapi.json", None, 200),
        ("/docs", None, 200),
        ("/assets/redoc.standalone.js", None, 200),
    ];
    for (path, bearer, status) in cases {
        let mut request = env.http.get(env.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("send");
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(
            header(&response, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn no_password_or_token_reaches_the_log() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let password = "a-very-distinctive-password-0451";
    let out = env
        .cli(
            &[
                "user",
                "create",
                "--email",
                "log@example.test",
                "--name",
                "Log",
                "--password-stdin",
            ],
            Some(&format!("{password}\n")),
        )
        .await;
    assert!(out.success, "{}", out.stderr);
    let response = env
        .http
        .post(env.url("/api/v1/auth/token"))
        .json(&json!({"email": "log@example.test", "password": password, "device_name": "x"}))
        .send()
        .await
        .expect("send");
    let token = response.json::<serde_json::Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string();
    env.http
        .get(env.url("/api/v1/user?access_token=x"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    env.http
        .get(env.url("/api/v1/user"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    let log = env.server.log_text();
    assert!(
        log.contains("request completed"),
        "the log is written: {log}"
    );
    assert!(!log.contains(password), "the password is in the log");
    assert!(!log.contains(&token), "the token is in the log");
}
