//! The list: `GET /list`, `GET /list/anime/{animeId}`, `POST /list`,
//! `PATCH /list/{entryId}`, `DELETE /list/{entryId}`.

use anitrack_conformance::world::{DEMON_SLAYER, FMAB, ONE_PIECE, World};
use serde_json::{Value, json};

use crate::support::{is_contract_timestamp, keys, status_json};

fn invalid(errors: Value) -> Value {
    json!({"message": "The given data was invalid.", "errors": errors})
}

#[tokio::test]
async fn adding_an_anime_returns_the_entry_with_its_anime() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let entry = world
        .add(json!({"anime_id": anime_id, "status": "watching", "progress": 3}))
        .await;
    assert_eq!(
        keys(&entry),
        [
            "anime",
            "anime_id",
            "completed_at",
            "created_at",
            "id",
            "is_private",
            "is_rewatching",
            "notes",
            "progress",
            "rewatch_count",
            "score",
            "started_at",
            "status",
            "tags",
            "updated_at"
        ]
    );
    assert_eq!(
        keys(&entry["anime"]),
        ["cover_image_url", "episodes", "id", "slug", "title"]
    );
    assert_eq!(entry["anime"]["slug"], "demon-slayer-kimetsu-no-yaiba");
    assert_eq!(entry["anime"]["episodes"], 26);
    assert!(is_contract_timestamp(
        entry["created_at"].as_str().unwrap_or("")
    ));
    let mut shown = entry.clone();
    for key in ["id", "anime_id", "created_at", "updated_at"] {
        shown[key] = json!(format!("[{key}]"));
    }
    shown["anime"]["id"] = json!("[anime_id]");
    insta::assert_json_snapshot!("list_entry_created", shown);

    // The generated client reads it back.
    let client = world.env.client(&world.token);
    let read = client
        .list_entry_for_anime()
        .anime_id(anime_id)
        .send()
        .await
        .expect("on the list")
        .into_inner();
    assert_eq!(read.id, entry["id"].as_i64().expect("id"));
    assert_eq!(read.progress, 3);
}

#[tokio::test]
async fn the_seed_validation_example_matches_byte_for_byte() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let response = world
        .env
        .http
        .post(world.env.url("/api/v1/list"))
        .bearer_auth(&world.token)
        .header("content-type", "application/json")
        .body(json!({"anime_id": anime_id}).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 422);
    let text = response.text().await.expect("body");
    assert_eq!(
        text,
        r#"{"message":"The given data was invalid.","errors":{"status":["The status field is required."]}}"#
    );
}

#[tokio::test]
async fn anime_that_are_unknown_or_already_listed_are_refused() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let (status, body) = world
        .call(
            "POST",
            "/api/v1/list",
            Some(json!({"anime_id": 987654321, "status": "watching"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            invalid(json!({"anime_id": ["The selected anime id is invalid."]}))
        )
    );
    world
        .add(json!({"anime_id": anime_id, "status": "watching"}))
        .await;
    let (status, body) = world
        .call(
            "POST",
            "/api/v1/list",
            Some(json!({"anime_id": anime_id, "status": "dropped"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            invalid(json!({"anime_id": ["The anime id has already been taken."]}))
        )
    );
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once_and_wrong_types_are_422() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let (status, body) = world
        .call(
            "POST",
            "/api/v1/list",
            Some(json!({
                "anime_id": anime_id, "status": "paused", "score": "85", "progress": 27,
                "started_at": "2024-02-30", "notes": "n".repeat(2001), "is_private": "false",
                "rewatch_count": -1, "tags": ["fine", ""],
            })),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        invalid(json!({
            "status": ["The selected status is invalid."],
            "score": ["The score field must be an integer."],
            "progress": ["The progress field must not be greater than 26."],
            "started_at": ["The started at field must match the format Y-m-d."],
            "notes": ["The notes field must not be greater than 2000 characters."],
            "is_private": ["The is private field must be true or false."],
            "rewatch_count": ["The rewatch count field must be at least 0."],
            "tags.1": ["The tags.1 field is required."],
        }))
    );
    let (status, body) = world
        .call(
            "POST",
            "/api/v1/list",
            Some(json!({"anime_id": anime_id, "status": "completed", "started_at": "2026-02-02", "completed_at": "2026-02-01"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            invalid(
                json!({"completed_at": ["The completed at field must be a date after or equal to started at."]})
            )
        )
    );
}

#[tokio::test]
async fn reaching_the_episode_count_completes_the_entry_and_counts_rewatches() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let today = chrono::Utc::now().date_naive().to_string();
    let entry = world
        .add(json!({"anime_id": anime_id, "status": "watching", "progress": 26}))
        .await;
    assert_eq!(
        (entry["status"].clone(), entry["completed_at"].clone()),
        (json!("completed"), json!(today))
    );

    let id = entry["id"].as_i64().expect("id");
    let path = format!("/api/v1/list/{id}");
    let (_, rewatch) = world
        .call(
            "PATCH",
            &path,
            Some(json!({"is_rewatching": true, "progress": 0, "status": "watching"})),
        )
        .await;
    assert_eq!(
        (
            rewatch["is_rewatching"].clone(),
            rewatch["rewatch_count"].clone()
        ),
        (json!(true), json!(0))
    );
    let (status, done) = world
        .call(
            "PATCH",
            &path,
            Some(json!({"progress": 26, "completed_at": "2026-03-04"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["completed_at"], "2026-03-04");
    assert_eq!(
        (done["is_rewatching"].clone(), done["rewatch_count"].clone()),
        (json!(false), json!(1))
    );
    // A retried PATCH does not count the rewatch twice.
    let (_, again) = world
        .call("PATCH", &path, Some(json!({"progress": 26})))
        .await;
    assert_eq!(again["rewatch_count"], 1);

    // Progress beyond a known count is refused; an unknown count never caps.
    let (status, body) = world
        .call("PATCH", &path, Some(json!({"progress": 27})))
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            invalid(json!({"progress": ["The progress field must not be greater than 26."]}))
        )
    );
    let airing = world.anime(ONE_PIECE).await;
    let entry = world
        .add(json!({"anime_id": airing, "status": "watching", "progress": 1150}))
        .await;
    assert_eq!(
        (entry["status"].clone(), entry["progress"].clone()),
        (json!("watching"), json!(1150))
    );
}

#[tokio::test]
async fn patch_is_partial_null_clears_and_foreign_fields_are_ignored() {
    let world = World::new().await;
    let anime_id = world.anime(FMAB).await;
    let entry = world
        .add(json!({
            "anime_id": anime_id, "status": "watching", "score": 85, "progress": 12,
            "started_at": "2026-01-02", "notes": "great", "tags": [" fav ", "rewatch", "fav"],
        }))
        .await;
    assert_eq!(entry["tags"], json!(["fav", "rewatch"]));
    let id = entry["id"].as_i64().expect("id");
    let path = format!("/api/v1/list/{id}");

    let (status, patched) = world
        .call(
            "PATCH",
            &path,
            Some(json!({"score": null, "notes": null, "id": 1, "anime_id": 2, "user_id": 3, "created_at": "2000-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["score"], Value::Null);
    assert_eq!(patched["notes"], Value::Null);
    for unchanged in [
        "id",
        "anime_id",
        "progress",
        "started_at",
        "tags",
        "status",
        "created_at",
    ] {
        assert_eq!(patched[unchanged], entry[unchanged], "{unchanged}");
    }
    let (_, cleared) = world
        .call(
            "PATCH",
            &path,
            Some(json!({"started_at": null, "tags": []})),
        )
        .await;
    assert_eq!(
        (cleared["started_at"].clone(), cleared["tags"].clone()),
        (Value::Null, json!([]))
    );
}

#[tokio::test]
async fn updated_at_moves_only_on_an_effective_change_and_orders_the_list() {
    let world = World::new().await;
    let first = world.anime(DEMON_SLAYER).await;
    let second = world.anime(FMAB).await;
    let third = world.anime(ONE_PIECE).await;
    let a = world
        .add(json!({"anime_id": first, "status": "watching"}))
        .await;
    let b = world
        .add(json!({"anime_id": second, "status": "plan_to_watch"}))
        .await;
    let c = world
        .add(json!({"anime_id": third, "status": "watching"}))
        .await;
    let ids = |list: &Value| -> Vec<i64> {
        list["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|e| e["id"].as_i64().expect("id"))
            .collect()
    };
    let id = |e: &Value| e["id"].as_i64().expect("id");

    let (_, list) = world.call("GET", "/api/v1/list", None).await;
    assert_eq!(ids(&list), [id(&c), id(&b), id(&a)]);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, same) = world
        .call(
            "PATCH",
            &format!("/api/v1/list/{}", id(&a)),
            Some(json!({"status": "watching"})),
        )
        .await;
    assert_eq!(
        same["updated_at"], a["updated_at"],
        "no effective change, no move"
    );
    let (_, moved) = world
        .call(
            "PATCH",
            &format!("/api/v1/list/{}", id(&a)),
            Some(json!({"progress": 1})),
        )
        .await;
    assert_ne!(moved["updated_at"], a["updated_at"]);
    let (_, list) = world.call("GET", "/api/v1/list", None).await;
    assert_eq!(ids(&list), [id(&a), id(&c), id(&b)]);

    let (_, watching) = world
        .call("GET", "/api/v1/list?status=watching", None)
        .await;
    assert_eq!(ids(&watching), [id(&a), id(&c)]);
    let typed = world
        .env
        .client(&world.token)
        .list_entries()
        .status(anitrack_client::types::ListStatus::PlanToWatch)
        .send()
        .await
        .expect("filtered")
        .into_inner();
    assert_eq!(
        typed.data.iter().map(|e| e.id).collect::<Vec<_>>(),
        [id(&b)]
    );
    let (status, body) = world.call("GET", "/api/v1/list?status=paused", None).await;
    assert_eq!(
        (status, body),
        (
            422,
            invalid(json!({"status": ["The selected status is invalid."]}))
        )
    );
}

#[tokio::test]
async fn a_list_several_chunks_long_arrives_complete_and_in_order() {
    let world = World::unthrottled().await;
    let count = world.fill_the_list().await;
    let response = world.get_list().await;
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    // Streamed, not buffered: the length is not known when the head leaves.
    assert_eq!(headers["transfer-encoding"], "chunked");
    assert!(headers.get("content-length").is_none());
    let body = response.bytes().await.expect("the whole body");
    assert!(body.len() > 400_000, "{} bytes", body.len());
    let list: Value = serde_json::from_slice(&body).expect("one JSON document");
    assert_eq!(keys(&list), ["data"]);
    let entries = list["data"].as_array().expect("data");
    assert_eq!(entries.len(), count);

    // Newest update first, ties by id descending (RFC 3339 UTC timestamps
    // order as text).
    let order = |e: &Value| {
        (
            e["updated_at"].as_str().expect("updated_at").to_string(),
            e["id"].as_i64().expect("id"),
        )
    };
    for pair in entries.windows(2) {
        assert!(order(&pair[0]) > order(&pair[1]), "{:?}", order(&pair[1]));
    }
    // Each streamed entry is exactly what the single-entry read returns.
    for entry in entries {
        let (status, single) = world
            .call(
                "GET",
                &format!("/api/v1/list/anime/{}", entry["anime_id"]),
                None,
            )
            .await;
        assert_eq!((status, &single), (200, entry));
    }
    // And the generated client reads it like any other response.
    let typed = world
        .env
        .client(&world.token)
        .list_entries()
        .send()
        .await
        .expect("typed list")
        .into_inner();
    assert_eq!(typed.data.len(), count);
}

#[tokio::test]
async fn delete_is_soft_and_final_for_every_read_and_write() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let entry = world
        .add(json!({"anime_id": anime_id, "status": "watching"}))
        .await;
    let path = format!("/api/v1/list/{}", entry["id"]);

    let (status, _) = world.call("DELETE", &path, None).await;
    assert_eq!(status, 204);
    let (status, _) = world.call("DELETE", &path, None).await;
    assert_eq!(status, 404, "deleting twice");
    let (status, _) = world
        .call("PATCH", &path, Some(json!({"progress": 1})))
        .await;
    assert_eq!(status, 404);
    let (status, _) = world
        .call("GET", &format!("/api/v1/list/anime/{anime_id}"), None)
        .await;
    assert_eq!(status, 404);
    let (_, list) = world.call("GET", "/api/v1/list", None).await;
    assert_eq!(list["data"], json!([]));

    // The same anime can be added again; the deleted row is kept.
    let again = world
        .add(json!({"anime_id": anime_id, "status": "completed"}))
        .await;
    assert_ne!(again["id"], entry["id"]);
    let output = std::process::Command::new("psql")
        .args([
            &world.env.database_url,
            "-XtAc",
            "SELECT count(*) FROM list_entries WHERE deleted_at IS NOT NULL",
        ])
        .output()
        .expect("psql");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "1");
}

#[tokio::test]
async fn another_accounts_entries_are_indistinguishable_from_missing_ones() {
    let world = World::new().await;
    let intruder = world.env.user_with_token("intruder@example.test").await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let entry = world
        .add(json!({"anime_id": anime_id, "status": "watching", "progress": 2}))
        .await;
    let path = format!("/api/v1/list/{}", entry["id"]);
    let missing = format!("/api/v1/list/{}", 999_999_999);
    for (method, body) in [("PATCH", Some(json!({"progress": 5}))), ("DELETE", None)] {
        let (theirs, theirs_body) = world.call_as(&intruder, method, &path, body.clone()).await;
        let (nothing, nothing_body) = world.call_as(&intruder, method, &missing, body).await;
        assert_eq!((theirs, &theirs_body), (404, &nothing_body), "{method}");
        assert_eq!(nothing, 404);
    }
    let (status, _) = world
        .call_as(
            &intruder,
            "GET",
            &format!("/api/v1/list/anime/{anime_id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = world.call_as(&intruder, "GET", "/api/v1/list", None).await;
    assert_eq!(list["data"], json!([]));
    // The owner's entry is untouched, and the intruder may add the same anime.
    let (_, mine) = world
        .call("GET", &format!("/api/v1/list/anime/{anime_id}"), None)
        .await;
    assert_eq!(mine["progress"], 2);
    let (status, _) = world
        .call_as(
            &intruder,
            "POST",
            "/api/v1/list",
            Some(json!({"anime_id": anime_id, "status": "dropped"})),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn list_paths_around_the_alias_answer_json_errors() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let entry = world
        .add(json!({"anime_id": anime_id, "status": "watching"}))
        .await;
    let cases = [
        ("GET", format!("/api/v1/list/{}", entry["id"]), 405),
        ("GET", "/api/v1/list/anime".to_string(), 405),
        ("PATCH", "/api/v1/list/anime".to_string(), 404),
        ("GET", "/api/v1/list/anime/abc".to_string(), 404),
        ("GET", format!("/api/v1/list/other/{anime_id}"), 404),
        (
            "GET",
            format!("/api/v1/list/{}/{anime_id}", entry["id"]),
            404,
        ),
        ("PATCH", "/api/v1/list/abc".to_string(), 404),
        ("DELETE", "/api/v1/list/0".to_string(), 404),
    ];
    for (method, path, expected) in cases {
        let (status, body) = world.call(method, &path, Some(json!({}))).await;
        assert_eq!(status, expected, "{method} {path}: {body}");
        assert!(body["message"].is_string(), "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn twenty_parallel_adds_of_one_anime_give_one_entry() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let http = world.env.http.clone();
        let url = world.env.url("/api/v1/list");
        let token = world.token.clone();
        tasks.push(tokio::spawn(async move {
            let response = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({"anime_id": anime_id, "status": "watching"}))
                .send()
                .await
                .expect("send");
            status_json(response).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let (status, body) = task.await.expect("task");
        match status {
            201 => created += 1,
            422 => assert_eq!(
                body["errors"]["anime_id"],
                json!(["The anime id has already been taken."])
            ),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 1);
    let (_, list) = world.call("GET", "/api/v1/list", None).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn concurrent_patches_of_different_fields_lose_nothing() {
    let world = World::new().await;
    let anime_id = world.anime(FMAB).await;
    let entry = world
        .add(json!({"anime_id": anime_id, "status": "watching"}))
        .await;
    let path = format!("/api/v1/list/{}", entry["id"]);
    for round in 0..10 {
        let bodies = [
            json!({"score": round}),
            json!({"notes": format!("round {round}")}),
            json!({"progress": round}),
        ];
        let mut tasks = Vec::new();
        for body in bodies {
            let http = world.env.http.clone();
            let url = world.env.url(&path);
            let token = world.token.clone();
            tasks.push(tokio::spawn(async move {
                let response = http
                    .patch(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("send");
                response.status().as_u16()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("task"), 200);
        }
        let (_, now) = world
            .call("GET", &format!("/api/v1/list/anime/{anime_id}"), None)
            .await;
        assert_eq!(
            (
                now["score"].clone(),
                now["notes"].clone(),
                now["progress"].clone()
            ),
            (json!(round), json!(format!("round {round}")), json!(round))
        );
    }
}
