//! The proof behind spec/baseline/v1-corrections.json: every request a
//! correction lists (a value the v1 baseline's schema allowed and the
//! document now excludes) is refused by the live server with a 422 on
//! exactly the field it names. `cargo xtask openapi compat` excuses a
//! narrowed input only when a correction lists it, so a correction whose
//! values the server accepted would fail here.

use serde_json::Value;

use anitrack_conformance::harness::{Catalog, workspace_root};

use crate::support::{TestEnv, keys, status_json};

/// `$anime` in a body becomes `anime_id`, recursively.
fn filled(value: &Value, anime_id: i64) -> Value {
    match value {
        Value::String(s) if s == "$anime" => Value::from(anime_id),
        Value::Array(items) => Value::Array(items.iter().map(|v| filled(v, anime_id)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), filled(v, anime_id)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[tokio::test]
async fn every_request_a_v1_correction_lists_is_refused() {
    let text = std::fs::read_to_string(workspace_root().join("spec/baseline/v1-corrections.json"))
        .expect("spec/baseline/v1-corrections.json");
    let document: Value = serde_json::from_str(&text).expect("corrections are JSON");
    // Far above the limits, which have their own tests: some corrections
    // are about POST /auth/token (5 attempts a minute).
    let unthrottled = [
        ("ANITRACK_TOKEN_RATE_LIMIT_PER_MINUTE", "1000000"),
        ("ANITRACK_RATE_LIMIT_PER_MINUTE", "1000000"),
    ];
    let env = TestEnv::start_configured(Catalog::Demo, &unthrottled).await;
    let token = env.user_with_token("corrections@example.test").await;
    let anime: Vec<i64> = env
        .psql_value("SELECT id FROM anime ORDER BY id LIMIT 2")
        .lines()
        .map(|id| id.parse().expect("an anime id"))
        .collect();
    // The entry PATCH requests edit, on another anime than the one the
    // POST requests add (which must stay free to add).
    let entry = env
        .client(&token)
        .list_entry_create()
        .body(anitrack_conformance::world::new_entry(
            anime[1],
            anitrack_client::types::ListStatus::Watching,
        ))
        .send()
        .await
        .expect("an entry to patch")
        .into_inner();
    let mut sent = 0;
    for correction in document["corrections"].as_array().expect("corrections") {
        let title = correction["title"].as_str().unwrap_or_default();
        for refused in correction["refused"].as_array().expect("refused requests") {
            let request = refused["request"].as_str().expect("request");
            let field = refused["field"].as_str().expect("field");
            let (method, path) = request.split_once(' ').expect("METHOD path");
            let path = path.replace("{entryId}", &entry.id.to_string());
            let mut builder = env
                .http
                .request(method.parse().expect("a method"), env.url(&path))
                .bearer_auth(&token);
            if let Some(body) = refused.get("body") {
                builder = builder.json(&filled(body, anime[0]));
            }
            let (status, answer) = status_json(builder.send().await.expect("send")).await;
            assert_eq!(
                (status, keys(&answer["errors"])),
                (422, vec![field.to_string()]),
                "{title}: {request} {}: {answer}",
                refused.get("body").unwrap_or(&Value::Null)
            );
            sent += 1;
        }
    }
    assert!(sent > 0, "no correction lists a refused request");
    // Nothing refused was written: the entry is as it was added.
    let (_, now) = status_json(
        env.http
            .get(env.url(&format!("/api/v1/list/anime/{}", anime[1])))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(now["rev"], 1, "{now}");
}
