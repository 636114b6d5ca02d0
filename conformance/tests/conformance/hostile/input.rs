//! Attacks with bytes the database cannot hold: NUL (PostgreSQL refuses it
//! in text) and other control characters, in every string of every body,
//! in paths, query strings, forms and catalog files. Each is a 4xx with the
//! contract's JSON (or a readable page), never a 5xx.

use anitrack_client::types;
use anitrack_conformance::harness::Catalog;
use serde_json::json;

use crate::support::{
    PASSWORD, TestEnv, api_error, no_redirects, settings_session, status_json, web_sign_in,
};

fn control_message(field: &str) -> String {
    format!("The {field} field must not contain control characters.")
}

/// An anime of the demo catalog.
fn some_anime(env: &TestEnv) -> i64 {
    env.psql_value("SELECT id FROM anime ORDER BY id LIMIT 1")
        .parse()
        .expect("an anime id")
}

/// `method path` with a JSON body and the token: sent raw, because the
/// client's types refuse what these tests send (the document's patterns
/// exclude control characters, and the generated types check them).
async fn send_json(
    env: &TestEnv,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = env
        .http
        .request(method, env.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("send");
    status_json(response).await
}

#[tokio::test]
async fn nul_and_control_characters_in_list_bodies_are_a_422_on_the_field() {
    let env = TestEnv::start().await;
    let token = env.user_with_token("nul@example.test").await;
    let anime_id = some_anime(&env);
    for (notes, tag) in [("a\u{0}b", "x\u{0}y"), ("bell\u{7}", "esc\u{1b}[31m")] {
        // The client's types already refuse them, before sending.
        assert!(
            types::NewListEntryNotes::try_from(notes).is_err(),
            "{notes:?}"
        );
        assert!(types::Tag::try_from(tag).is_err(), "{tag:?}");
        let entry = json!({
            "anime_id": anime_id, "status": "watching", "notes": notes, "tags": ["fine", tag],
        });
        let (status, error) =
            send_json(&env, &token, reqwest::Method::POST, "/api/v1/list", &entry).await;
        assert_eq!(status, 422, "{notes:?}: {error}");
        assert_eq!(error["errors"]["notes"], json!([control_message("notes")]));
        assert_eq!(
            error["errors"]["tags.1"],
            json!([control_message("tags.1")])
        );
    }
    // Line breaks and tabs are what notes are for.
    let multi_line = "line one\nline\ttwo\n";
    assert!(types::NewListEntryNotes::try_from(multi_line).is_ok());
    let entry = json!({"anime_id": anime_id, "status": "watching", "notes": multi_line});
    let (status, created) =
        send_json(&env, &token, reqwest::Method::POST, "/api/v1/list", &entry).await;
    assert_eq!(status, 201, "multi-line notes are fine: {created}");
    // PATCH reads the same rules.
    let path = format!("/api/v1/list/{}", created["id"]);
    let (status, error) = send_json(
        &env,
        &token,
        reqwest::Method::PATCH,
        &path,
        &json!({"notes": "\u{0}"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(error["errors"]["notes"], json!([control_message("notes")]));
}

#[tokio::test]
async fn nul_in_token_issuance_is_a_422_on_each_field() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("issuer@example.test", "Issuer", true).await;
    let client = env.anonymous();
    let request = types::TokenIssueRequest {
        email: "issuer\u{0}@example.test".into(),
        password: "pass\u{0}word".into(),
        device_name: "my\u{0}tool".into(),
    };
    let (status, error) = api_error(client.token_issue().body(request).send().await);
    assert_eq!(status, 422);
    let errors = error.errors.expect("errors");
    assert_eq!(errors["email"], vec![control_message("email")]);
    assert_eq!(errors["password"], vec![control_message("password")]);
    assert_eq!(errors["device_name"], vec![control_message("device name")]);
    // A valid request next to it still works: nothing was left broken.
    let request = types::TokenIssueRequest {
        email: "issuer@example.test".into(),
        password: PASSWORD.into(),
        device_name: "my tool".into(),
    };
    client
        .token_issue()
        .body(request)
        .send()
        .await
        .expect("201");
}

#[tokio::test]
async fn nul_in_paths_and_query_strings_is_a_404_or_a_422() {
    let env = TestEnv::start().await;
    let token = env.user_with_token("paths@example.test").await;
    let client = env.client(&token);
    let (status, _) = api_error(client.anime_view().slug("cowboy\u{0}bebop").send().await);
    assert_eq!(status, 404);
    let (status, _) = api_error(client.anime_view().slug("\u{1}").send().await);
    assert_eq!(status, 404);
    // The client's `q` refuses it (the document's pattern); sent raw.
    assert!(types::AnimeListQ::try_from("bebop\u{0}").is_err());
    let response = env
        .http
        .get(env.url("/api/v1/anime?q=bebop%00"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    let (status, error) = status_json(response).await;
    assert_eq!(status, 422);
    assert_eq!(error["errors"]["q"], json!([control_message("q")]));
    // Raw bytes the client would never send: an encoded NUL in the status
    // filter and in an id.
    for path in [
        "/api/v1/list?status=%00",
        "/api/v1/list/%00",
        "/api/v1/list/anime/%00",
    ] {
        let response = env
            .http
            .get(env.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        let (status, body) = status_json(response).await;
        assert!(
            status == 404 || status == 405 || status == 422,
            "{path}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn nul_in_the_settings_page_forms_is_a_readable_422() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("forms@example.test", "Forms", true).await;
    let http = no_redirects();
    let base = env.server.base_url();
    for (email, password) in [
        ("forms\u{0}@example.test", PASSWORD),
        ("forms@example.test", "pass\u{0}"),
        (&*"x".repeat(300), PASSWORD),
    ] {
        let response = web_sign_in(&http, &base, email, password, "127.0.0.1").await;
        assert_eq!(response.status().as_u16(), 422, "{email:?}");
        let page = response.text().await.expect("page");
        assert!(page.contains("id=\"login-error\""), "{page}");
        assert!(!page.contains('\u{0}'), "the page never echoes a NUL");
    }
    let (session, csrf) = settings_session(&env, "forms@example.test").await;
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf_token", &csrf)
        .append_pair("name", "bad\u{0}name")
        .finish();
    let response = http
        .post(env.url("/settings/tokens"))
        .header("cookie", &session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("create");
    assert_eq!(response.status().as_u16(), 422);
    let page = response.text().await.expect("page");
    assert!(
        page.contains("must not contain control characters"),
        "{page}"
    );
}

#[tokio::test]
async fn a_catalog_import_skips_a_record_with_nul_and_goes_on() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let record = |id: u32, title: &str| json!({"id": id, "idMal": null, "title": {"romaji": title}, "format": "TV", "episodes": 12});
    let lines = [
        record(900001, "Before the bad one"),
        record(900002, "Bad\u{0}Title"),
        record(900003, "After the bad one"),
    ]
    .map(|r| r.to_string())
    .join("\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("records.jsonl");
    std::fs::write(&file, lines).expect("write");
    let out = env
        .cli(&["catalog", "import", &file.to_string_lossy()], None)
        .await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stderr.contains("record 2"),
        "names the bad record: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("control character"),
        "says why: {}",
        out.stderr
    );
    assert!(out.stdout.contains("2 inserted"), "{}", out.stdout);
    assert!(out.stdout.contains("1 skipped"), "{}", out.stdout);
    assert_eq!(env.psql_value("SELECT count(*) FROM anime"), "2");
}
