//! `--db-pooler transaction`: the mode for PgBouncer in transaction mode
//! (unnamed statements, no startup options, the timeouts as the role's
//! defaults). Here against PostgreSQL directly: every flow works in the mode
//! and the timeouts land where sessions started later find them.

use serde_json::json;

use anitrack_conformance::harness::Catalog;

use crate::support::{TestEnv, status_json};

async fn pooled() -> TestEnv {
    TestEnv::start_configured(
        Catalog::Demo,
        &[
            ("ANITRACK_DB_POOLER", "transaction"),
            ("ANITRACK_DB_STATEMENT_TIMEOUT_MS", "4321"),
            ("ANITRACK_DB_LOCK_TIMEOUT_MS", "1234"),
        ],
    )
    .await
}

#[tokio::test]
async fn the_timeouts_become_the_roles_defaults_in_the_database() {
    let env = pooled().await;
    let settings = env.psql_value(
        "SELECT array_to_string(s.setconfig, ',') FROM pg_db_role_setting s \
         JOIN pg_database d ON d.oid = s.setdatabase \
         WHERE d.datname = current_database() AND s.setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)",
    );
    assert!(settings.contains("statement_timeout=4321"), "{settings}");
    assert!(settings.contains("lock_timeout=1234"), "{settings}");
    // A session started now (as PgBouncer's next server connection would
    // be) has them.
    assert_eq!(env.psql_value("SHOW lock_timeout"), "1234ms");
}

#[tokio::test]
async fn every_flow_works_with_unnamed_statements() {
    let env = pooled().await;
    let token = env.user_with_token("pooled@example.test").await;
    let anime_id: i64 = env
        .psql_value("SELECT id FROM anime ORDER BY id LIMIT 1")
        .parse()
        .expect("an anime id");
    let send = |method: reqwest::Method, path: &str| {
        env.http.request(method, env.url(path)).bearer_auth(&token)
    };
    // Twice each, so the pool's connections are reused.
    for _ in 0..2 {
        let (status, _) = status_json(
            send(reqwest::Method::GET, "/api/v1/user")
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = status_json(
            send(
                reqwest::Method::GET,
                &format!("/api/v1/anime/anilist/{}", 1),
            )
            .send()
            .await
            .expect("send"),
        )
        .await;
        assert!(status == 200 || status == 404, "{status} {body}");
    }
    let (status, entry) = status_json(
        send(reqwest::Method::POST, "/api/v1/list")
            .json(&json!({"anime_id": anime_id, "status": "watching"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 201, "{entry}");
    let id = entry["id"].as_i64().expect("id");
    let (status, patched) = status_json(
        send(reqwest::Method::PATCH, &format!("/api/v1/list/{id}"))
            .header("Idempotency-Key", "pooled-1")
            .json(&json!({"progress": 2}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["rev"], 2);
    for _ in 0..2 {
        let (status, entry) = status_json(
            send(
                reqwest::Method::GET,
                &format!("/api/v1/list/anime/{anime_id}"),
            )
            .send()
            .await
            .expect("send"),
        )
        .await;
        assert_eq!((status, entry["progress"].clone()), (200, json!(2)));
    }
    let (status, feed) = status_json(
        send(reqwest::Method::GET, "/api/v1/list/changes")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 200, "{feed}");
    assert_eq!(feed["data"].as_array().map(Vec::len), Some(1), "{feed}");
    let response = send(reqwest::Method::DELETE, &format!("/api/v1/list/{id}"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 204);
    let (status, list) = status_json(
        send(reqwest::Method::GET, "/api/v1/list")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["data"], json!([]));
}
