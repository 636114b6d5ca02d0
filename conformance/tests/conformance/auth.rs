//! Authentication: `POST /auth/token`, `GET /auth/tokens`,
//! `DELETE /auth/token`, `DELETE /auth/tokens/{id}`, and the 401/403 rules
//! shared by every authenticated endpoint.

use anitrack_client::types::{NewToken, TokenIssueRequest};
use anitrack_conformance::harness::client_over;
use serde_json::json;

use crate::support::{
    Answer, PASSWORD, TestEnv, api_error, api_error_json, error_response, head,
    is_contract_timestamp, keys, refusal_json, status_json, unauthenticated,
};

fn credentials(email: &str, password: &str, device: &str) -> TokenIssueRequest {
    TokenIssueRequest {
        email: email.to_string(),
        password: password.to_string(),
        device_name: device.to_string(),
    }
}

/// `POST /auth/token` through the client, without a token.
async fn issue(env: &TestEnv, email: &str, password: &str, device: &str) -> Answer<NewToken> {
    env.anonymous()
        .token_issue()
        .body(credentials(email, password, device))
        .send()
        .await
}

/// `POST /auth/token` with a body as written: for bodies the client's
/// TokenIssueRequest cannot hold (fields left out, wrong JSON types) and
/// for answers whose wire form is asserted (their keys, timestamps' text).
async fn issue_raw(env: &TestEnv, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = env
        .http
        .post(env.url("/api/v1/auth/token"))
        .json(&body)
        .send()
        .await
        .expect("send");
    status_json(response).await
}

#[tokio::test]
async fn issuing_a_token_returns_it_once_and_it_authenticates() {
    let env = TestEnv::start().await;
    env.create_user("alice@example.test", "Alice", true).await;

    let response = env
        .anonymous()
        .token_issue()
        .body(credentials(
            "alice@example.test",
            PASSWORD,
            "My Integration",
        ))
        .send()
        .await
        .expect("token issued");
    assert_eq!(response.status().as_u16(), 201);
    let token = response.into_inner();
    assert_eq!(token.name, "My Integration");
    assert!(
        token.token.starts_with("atk_") && token.token.len() == 40,
        "{}",
        token.token
    );
    assert!(
        token
            .token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    );

    // Raw shape: exactly the documented keys, timestamps in the contract's form.
    let (status, body) = issue_raw(
        &env,
        json!({"email": "alice@example.test", "password": PASSWORD, "device_name": "raw"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(keys(&body), ["created_at", "id", "name", "token"]);
    assert!(
        is_contract_timestamp(body["created_at"].as_str().unwrap_or("")),
        "{body}"
    );

    let user = env
        .client(&token.token)
        .user_view()
        .send()
        .await
        .expect("token works")
        .into_inner();
    assert_eq!(user.email, "alice@example.test");
}

#[tokio::test]
async fn email_lookup_ignores_case_and_surrounding_spaces() {
    let env = TestEnv::start().await;
    env.create_user("bob@example.test", "Bob", true).await;
    let issued = issue(&env, "  BOB@example.test ", PASSWORD, "x").await;
    assert_eq!(head(&issued).0, 201, "{issued:?}");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_422() {
    let env = TestEnv::start().await;
    env.create_user("carol@example.test", "Carol", true).await;
    let expected = json!({
        "message": "The given data was invalid.",
        "errors": {"email": ["The provided credentials are incorrect."]}
    });
    for (email, password) in [
        ("carol@example.test", "not the password"),
        ("nobody@example.test", PASSWORD),
    ] {
        let answer = issue(&env, email, password, "x").await;
        assert_eq!(api_error_json(answer), (422, expected.clone()), "{email}");
    }
    // Both wrong: the same 422.
    let (status, error) = api_error(
        env.anonymous()
            .token_issue()
            .body(credentials("nobody@example.test", "nope", "x"))
            .send()
            .await,
    );
    assert_eq!(status, 422);
    assert_eq!(error.message, "The given data was invalid.");
}

#[tokio::test]
async fn token_issue_validation_reports_every_field_at_once() {
    let env = TestEnv::start().await;
    let (status, body) = issue_raw(&env, json!({})).await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({
            "message": "The given data was invalid.",
            "errors": {
                "email": ["The email field is required."],
                "password": ["The password field is required."],
                "device_name": ["The device name field is required."],
            }
        })
    );

    let (status, body) = issue_raw(
        &env,
        json!({"email": 42, "password": true, "device_name": ["x"]}),
    )
    .await;
    assert_eq!(status, 422, "wrong JSON types are 422, never 400");
    assert_eq!(
        body["errors"],
        json!({
            "email": ["The email field must be a string."],
            "password": ["The password field must be a string."],
            "device_name": ["The device name field must be a string."],
        })
    );

    let (status, body) = api_error_json(issue(&env, "not-an-email", "x", &"d".repeat(121)).await);
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"],
        json!({
            "email": ["The email field must be a valid email address."],
            "device_name": ["The device name field must not be greater than 120 characters."],
        })
    );
}

#[tokio::test]
async fn device_name_may_be_120_characters_of_any_script() {
    let env = TestEnv::start().await;
    env.create_user("dave@example.test", "Dave", true).await;
    let name = "デ".repeat(120);
    let issued = issue(&env, "dave@example.test", PASSWORD, &name)
        .await
        .expect("issued");
    assert_eq!(issued.status().as_u16(), 201);
    assert_eq!(issued.into_inner().name, name);
}

#[tokio::test]
async fn an_account_without_api_access_gets_403_but_only_with_the_right_password() {
    let env = TestEnv::start().await;
    env.create_user("erin@example.test", "Erin", false).await;
    let (status, body) = api_error_json(issue(&env, "erin@example.test", PASSWORD, "x").await);
    assert_eq!(status, 403);
    assert_eq!(keys(&body), ["message"]);
    let (status, _) = api_error(issue(&env, "erin@example.test", "wrong", "x").await);
    assert_eq!(status, 422, "a wrong password must not reveal the flag");
}

#[tokio::test]
async fn the_api_access_flag_gates_every_authenticated_endpoint() {
    let env = TestEnv::start().await;
    env.create_user("frank@example.test", "Frank", false).await;
    let token = env.mint_token("frank@example.test", "cli").await;
    let client = env.client(&token);

    let (status, error) = api_error(client.user_view().send().await);
    assert_eq!(status, 403);
    assert_eq!(error.message, "API access is not enabled for this account.");
    assert_eq!(api_error(client.token_list().send().await).0, 403);
    assert_eq!(api_error(client.token_revoke_current().send().await).0, 403);
    assert_eq!(api_error(client.token_revoke().id(1).send().await).0, 403);

    let out = env
        .cli(
            &[
                "user",
                "api-access",
                "--email",
                "frank@example.test",
                "--enable",
            ],
            None,
        )
        .await;
    assert!(out.success, "{}", out.stderr);
    assert_eq!(
        client
            .user_view()
            .send()
            .await
            .expect("enabled")
            .status()
            .as_u16(),
        200
    );

    let out = env
        .cli(
            &[
                "user",
                "api-access",
                "--email",
                "frank@example.test",
                "--disable",
            ],
            None,
        )
        .await;
    assert!(out.success, "{}", out.stderr);
    assert_eq!(api_error(client.user_view().send().await).0, 403);
}

#[tokio::test]
async fn token_list_shows_active_tokens_newest_first_without_secrets() {
    let env = TestEnv::start().await;
    let first = env.user_with_token("grace@example.test").await;
    let second = env.mint_token("grace@example.test", "second").await;
    let third = env.mint_token("grace@example.test", "third").await;
    env.client(&third)
        .token_revoke_current()
        .send()
        .await
        .expect("revoked");

    // Used tokens get last_used_at; the listing token is the current one.
    env.client(&first)
        .user_view()
        .send()
        .await
        .expect("first used");
    // Raw: the listing's wire form is asserted (its keys, null ones
    // included, and the timestamps' text), which TokenSummary cannot show.
    let response = env
        .http
        .get(env.url("/api/v1/auth/tokens"))
        .bearer_auth(&second)
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(response).await;
    assert_eq!(status, 200);
    assert_eq!(keys(&body), ["data"]);
    let data = body["data"].as_array().expect("data array");
    let names: Vec<&str> = data
        .iter()
        .map(|t| t["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        ["second", "conformance"],
        "newest first, revoked tokens absent"
    );
    for token in data {
        assert_eq!(
            keys(token),
            ["created_at", "id", "is_current", "last_used_at", "name"]
        );
        assert!(is_contract_timestamp(
            token["created_at"].as_str().unwrap_or("")
        ));
        let text = token.to_string();
        assert!(
            !text.contains(&first) && !text.contains(&second),
            "token leaked: {text}"
        );
    }
    assert_eq!(data[0]["is_current"], true);
    assert_eq!(data[1]["is_current"], false);
    assert!(
        is_contract_timestamp(data[1]["last_used_at"].as_str().unwrap_or("")),
        "{}",
        data[1]
    );
}

#[tokio::test]
async fn revoking_the_current_token_signs_it_out_only() {
    let env = TestEnv::start().await;
    let doomed = env.user_with_token("heidi@example.test").await;
    let other = env.mint_token("heidi@example.test", "other").await;

    let response = env
        .client(&doomed)
        .token_revoke_current()
        .send()
        .await
        .expect("revoked");
    assert_eq!(response.status().as_u16(), 204);
    let (status, _) = api_error(env.client(&doomed).user_view().send().await);
    assert_eq!(status, 401);
    assert_eq!(
        api_error(env.client(&doomed).token_revoke_current().send().await).0,
        401
    );
    assert_eq!(
        env.client(&other)
            .user_view()
            .send()
            .await
            .expect("other works")
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn revoking_a_token_by_id() {
    let env = TestEnv::start().await;
    let mine = env.user_with_token("ivan@example.test").await;
    let spare = env.mint_token("ivan@example.test", "spare").await;
    let theirs = env.user_with_token("judy@example.test").await;
    let client = env.client(&mine);

    let list = client.token_list().send().await.expect("list").into_inner();
    let spare_id = list
        .data
        .iter()
        .find(|t| t.name == "spare")
        .expect("spare listed")
        .id;
    let their_id = env
        .client(&theirs)
        .token_list()
        .send()
        .await
        .expect("list")
        .into_inner()
        .data[0]
        .id;

    let response = client
        .token_revoke()
        .id(spare_id)
        .send()
        .await
        .expect("revoked");
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(
        api_error(env.client(&spare).user_view().send().await).0,
        401
    );

    // Twice, unknown, or another account's: 404, and the other token lives.
    let (status, error) = api_error(client.token_revoke().id(spare_id).send().await);
    assert_eq!((status, error.message.as_str()), (404, "Not Found"));
    assert_eq!(
        api_error(client.token_revoke().id(their_id).send().await).0,
        404
    );
    assert_eq!(
        api_error(client.token_revoke().id(9_999_999).send().await).0,
        404
    );
    assert_eq!(
        env.client(&theirs)
            .user_view()
            .send()
            .await
            .expect("theirs")
            .status()
            .as_u16(),
        200
    );

    // Ids that are not positive integers name nothing: 404, never 400 or 500.
    for bad in [0, -1] {
        let (status, error) = api_error(client.token_revoke().id(bad).send().await);
        assert_eq!(status, 404, "{bad}: {error:?}");
    }
    // Raw: ids that are not an i64, which the client's `id` cannot hold.
    for bad in ["abc", "1.5", "99999999999999999999"] {
        let response = env
            .http
            .delete(env.url(&format!("/api/v1/auth/tokens/{bad}")))
            .bearer_auth(&mine)
            .send()
            .await
            .expect("send");
        let (status, body) = status_json(response).await;
        assert_eq!(status, 404, "{bad}: {body}");
    }
}

#[tokio::test]
async fn missing_malformed_unknown_and_revoked_tokens_are_401() {
    let env = TestEnv::start().await;
    let valid = env.user_with_token("mallory@example.test").await;
    let revoked = env.mint_token("mallory@example.test", "revoked").await;
    env.client(&revoked)
        .token_revoke_current()
        .send()
        .await
        .expect("revoked");
    // Same shape and a valid checksum, but never issued: mint one elsewhere.
    let other_env_token = {
        let other = TestEnv::start().await;
        other.user_with_token("oscar@example.test").await
    };

    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty", Some(String::new())),
        ("scheme only", Some("Bearer".into())),
        ("basic", Some(format!("Basic {valid}"))),
        ("garbage", Some("Bearer not-a-token".into())),
        (
            "bad checksum",
            Some(format!("Bearer {}x", &valid[..valid.len() - 1])),
        ),
        ("two spaces", Some(format!("Bearer  {valid}"))),
        ("unknown", Some(format!("Bearer {other_env_token}"))),
        ("revoked", Some(format!("Bearer {revoked}"))),
    ];
    for (case, header) in cases {
        // The request is the client's GET /user; only the Authorization
        // header is forged, as a default header of the reqwest client
        // underneath (the client has no parameter for it).
        let mut http = reqwest::Client::builder();
        if let Some(header) = header {
            let mut headers = reqwest::header::HeaderMap::new();
            let value = header.parse().expect("a header value");
            headers.insert(reqwest::header::AUTHORIZATION, value);
            http = http.default_headers(headers);
        }
        let client = client_over(&env.server.base_url(), None, http);
        let refusal = error_response(client.user_view().send().await);
        assert_eq!(
            refusal
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{case}"
        );
        assert_eq!(refusal_json(refusal), (401, unauthenticated()), "{case}");
    }
}

#[tokio::test]
async fn a_token_in_the_query_string_is_never_accepted() {
    let env = TestEnv::start().await;
    let token = env.user_with_token("peggy@example.test").await;
    // Raw: query parameters the contract does not have, which the client
    // cannot send.
    for query in [
        format!("access_token={token}"),
        format!("api_token={token}"),
    ] {
        let url = env.url(&format!("/api/v1/user?{query}"));
        let (status, body) = status_json(env.http.get(&url).send().await.expect("send")).await;
        assert_eq!((status, body), (401, unauthenticated()), "{query} alone");
        let (status, _) = status_json(
            env.http
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(status, 401, "{query} beside a valid header");
    }
}

#[tokio::test]
async fn a_revoked_token_is_rejected_at_once_by_every_instance() {
    let env = TestEnv::start().await;
    let token = env.user_with_token("trent@example.test").await;
    let second = anitrack_conformance::harness::Server::start(&env.database_url, &[])
        .await
        .expect("second instance");
    let via_second = client_over(&second.base_url(), Some(&token), reqwest::Client::builder());
    assert_eq!(
        via_second
            .user_view()
            .send()
            .await
            .expect("works")
            .status()
            .as_u16(),
        200
    );
    env.client(&token)
        .token_revoke_current()
        .send()
        .await
        .expect("revoked on the first");
    assert_eq!(api_error(via_second.user_view().send().await).0, 401);
}
