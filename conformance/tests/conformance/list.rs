//! The list: `GET /list`, `GET /list/anime/{animeId}`, `POST /list`,
//! `PATCH /list/{entryId}`, `DELETE /list/{entryId}`.

use anitrack_client::types::{self, ListStatus};
use anitrack_conformance::world::{
    DEMON_SLAYER, FMAB, ONE_PIECE, World, date, new_entry, notes, patch, tags,
};
use serde_json::{Value, json};

use crate::support::{api_error, api_error_json, is_contract_timestamp, keys};

fn invalid(errors: Value) -> Value {
    json!({"message": "The given data was invalid.", "errors": errors})
}

/// The ids of the entries a `GET /list` request answers, in its order.
async fn listed_ids(request: anitrack_client::builder::ListEntries<'_>) -> Vec<i64> {
    let list = request.send().await.expect("the list").into_inner();
    list.data.iter().map(|e| e.id).collect()
}

#[tokio::test]
async fn adding_an_anime_returns_the_entry_with_its_anime() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    // Sent raw to read the answer as sent: its keys whose value is null are
    // part of the shape, and the client's ListEntry reads null and missing
    // alike.
    let (status, entry) = world
        .post_list_json(&json!({"anime_id": anime_id, "status": "watching", "progress": 3}))
        .await;
    assert_eq!(status, 201, "{entry}");
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
            "rev",
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
    let read = world
        .client()
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
    // Without the required status, which the client cannot leave out.
    let (status, text) = world.post_list_text(&json!({"anime_id": anime_id})).await;
    assert_eq!(status, 422);
    assert_eq!(
        text,
        r#"{"message":"The given data was invalid.","errors":{"status":["The status field is required."]}}"#
    );
}

#[tokio::test]
async fn anime_that_are_unknown_or_already_listed_are_refused() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let client = world.client();
    let (status, body) = api_error_json(
        client
            .list_entry_create()
            .body(new_entry(987654321, ListStatus::Watching))
            .send()
            .await,
    );
    assert_eq!(
        (status, body),
        (
            422,
            invalid(json!({"anime_id": ["The selected anime id is invalid."]}))
        )
    );
    world.add(new_entry(anime_id, ListStatus::Watching)).await;
    let (status, body) = api_error_json(
        client
            .list_entry_create()
            .body(new_entry(anime_id, ListStatus::Dropped))
            .send()
            .await,
    );
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
    // Wrong types, a status outside the enumeration, a date that does not
    // exist, notes too long: none of them fits the client's NewListEntry.
    let (status, body) = world
        .post_list_json(&json!({
            "anime_id": anime_id, "status": "paused", "score": "85", "progress": 27,
            "started_at": "2024-02-30", "notes": "n".repeat(2001), "is_private": "false",
            "rewatch_count": -1, "tags": ["fine", ""],
        }))
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
    let (status, body) = api_error_json(
        world
            .client()
            .list_entry_create()
            .body(
                new_entry(anime_id, ListStatus::Completed)
                    .started_at(date("2026-02-02"))
                    .completed_at(date("2026-02-01")),
            )
            .send()
            .await,
    );
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

/// The bodies that are JSON but not an object.
const NOT_OBJECTS: [&str; 6] = ["0.0", "[]", "\"x\"", "null", "true", "[{\"score\": 1}]"];

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_on_body_and_changes_nothing() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let entry = world
        .add(new_entry(anime_id, ListStatus::Watching).score(70))
        .await;
    let refused = invalid(json!({"body": ["The body must be a JSON object."]}));
    for body in NOT_OBJECTS {
        let body: Value = serde_json::from_str(body).unwrap();
        // Never an empty update (200): the body is the wrong thing.
        assert_eq!(
            world.patch_json(entry.id, &body).await,
            (422, refused.clone()),
            "PATCH {body}"
        );
        // Nor a list of every required field as missing.
        assert_eq!(
            world.post_list_json(&body).await,
            (422, refused.clone()),
            "POST {body}"
        );
    }
    let (_, now) = world.entry_for_anime_as_sent(anime_id).await;
    assert_eq!(
        (now["rev"].clone(), now["score"].clone()),
        (json!(1), json!(70))
    );
    let listed = listed_ids(world.client().list_entries()).await;
    assert_eq!(listed, [entry.id], "nothing was added");
    // An empty body is `{}`: for PATCH, a valid update that changes nothing.
    let (status, same) = world.patch_json(entry.id, &json!({})).await;
    assert_eq!((status, same["rev"].clone()), (200, json!(1)));
}

#[tokio::test]
async fn reaching_the_episode_count_completes_the_entry_and_counts_rewatches() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let today = chrono::Utc::now().date_naive();
    let entry = world
        .add(new_entry(anime_id, ListStatus::Watching).progress(26))
        .await;
    assert_eq!(
        (entry.status, entry.completed_at),
        (ListStatus::Completed, Some(today))
    );

    let client = world.client();
    let update = |body: types::ListEntryPatch| {
        client
            .list_entry_update()
            .entry_id(entry.id)
            .body(body)
            .send()
    };
    let rewatch = update(
        patch()
            .is_rewatching(true)
            .progress(0)
            .status(ListStatus::Watching),
    )
    .await
    .expect("rewatching")
    .into_inner();
    assert_eq!((rewatch.is_rewatching, rewatch.rewatch_count), (true, 0));
    // The client answers Ok only for the contract's 200.
    let done = update(patch().progress(26).completed_at(date("2026-03-04")))
        .await
        .expect("200")
        .into_inner();
    assert_eq!(done.status, ListStatus::Completed);
    assert_eq!(done.completed_at, Some(date("2026-03-04")));
    assert_eq!((done.is_rewatching, done.rewatch_count), (false, 1));
    // A retried PATCH does not count the rewatch twice.
    let again = update(patch().progress(26))
        .await
        .expect("retried")
        .into_inner();
    assert_eq!(again.rewatch_count, 1);

    // Progress beyond a known count is refused; an unknown count never caps.
    let (status, body) = api_error_json(update(patch().progress(27)).await);
    assert_eq!(
        (status, body),
        (
            422,
            invalid(json!({"progress": ["The progress field must not be greater than 26."]}))
        )
    );
    let airing = world.anime(ONE_PIECE).await;
    let entry = world
        .add(new_entry(airing, ListStatus::Watching).progress(1150))
        .await;
    assert_eq!((entry.status, entry.progress), (ListStatus::Watching, 1150));
}

#[tokio::test]
async fn patch_is_partial_null_clears_and_foreign_fields_are_ignored() {
    let world = World::new().await;
    let anime_id = world.anime(FMAB).await;
    let entry = world
        .add(
            new_entry(anime_id, ListStatus::Watching)
                .score(85)
                .progress(12)
                .started_at(date("2026-01-02"))
                .notes(notes("great"))
                .tags(tags(&[" fav ", "rewatch", "fav"])),
        )
        .await;
    assert_eq!(entry.tags, ["fav", "rewatch"]);
    let id = entry.id;
    // Compared key by key with the raw answers below.
    let entry = serde_json::to_value(&entry).expect("the entry as JSON");

    // Fields PATCH does not own, which the client's ListEntryPatch cannot
    // send, beside explicit nulls (`Patch::Clear` there: the `client` area).
    let (status, patched) = world
        .patch_json(
            id,
            &json!({"score": null, "notes": null, "id": 1, "anime_id": 2, "user_id": 3, "created_at": "2000-01-01T00:00:00Z"}),
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
        .patch_json(id, &json!({"started_at": null, "tags": []}))
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
    let a = world.add(new_entry(first, ListStatus::Watching)).await;
    let b = world.add(new_entry(second, ListStatus::PlanToWatch)).await;
    let c = world.add(new_entry(third, ListStatus::Watching)).await;
    let client = world.client();

    assert_eq!(listed_ids(client.list_entries()).await, [c.id, b.id, a.id]);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let update =
        |body: types::ListEntryPatch| client.list_entry_update().entry_id(a.id).body(body).send();
    let same = update(patch().status(ListStatus::Watching))
        .await
        .expect("same status")
        .into_inner();
    assert_eq!(
        same.updated_at, a.updated_at,
        "no effective change, no move"
    );
    let moved = update(patch().progress(1))
        .await
        .expect("progress")
        .into_inner();
    assert_ne!(moved.updated_at, a.updated_at);
    assert_eq!(listed_ids(client.list_entries()).await, [a.id, c.id, b.id]);

    assert_eq!(
        listed_ids(client.list_entries().status(ListStatus::Watching)).await,
        [a.id, c.id]
    );
    assert_eq!(
        listed_ids(client.list_entries().status(ListStatus::PlanToWatch)).await,
        [b.id]
    );
    // Not one of the five statuses, which are all the client can send.
    let (status, body) = world.list_by_status_text("paused").await;
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
    // (Both as sent: the client's ListEntry would not tell a null key from
    // a missing one.)
    for entry in entries {
        let anime_id = entry["anime_id"].as_i64().expect("anime_id");
        let (status, single) = world.entry_for_anime_as_sent(anime_id).await;
        assert_eq!((status, &single), (200, entry));
    }
    // And the generated client reads it like any other response.
    let typed = world
        .client()
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
    let entry = world.add(new_entry(anime_id, ListStatus::Watching)).await;
    let client = world.client();
    let delete = || client.list_entry_delete().entry_id(entry.id).send();

    // The client answers Ok only for the contract's 204.
    delete().await.expect("204");
    let (status, _) = api_error(delete().await);
    assert_eq!(status, 404, "deleting twice");
    let (status, _) = api_error(
        client
            .list_entry_update()
            .entry_id(entry.id)
            .body(patch().progress(1))
            .send()
            .await,
    );
    assert_eq!(status, 404);
    let (status, _) = api_error(
        client
            .list_entry_for_anime()
            .anime_id(anime_id)
            .send()
            .await,
    );
    assert_eq!(status, 404);
    let list = client
        .list_entries()
        .send()
        .await
        .expect("list")
        .into_inner();
    assert!(list.data.is_empty(), "{list:?}");

    // The same anime can be added again; the deleted row is kept.
    let again = world.add(new_entry(anime_id, ListStatus::Completed)).await;
    assert_ne!(again.id, entry.id);
    let deleted = world
        .env
        .psql_value("SELECT count(*) FROM list_entries WHERE deleted_at IS NOT NULL");
    assert_eq!(deleted, "1");
}

#[tokio::test]
async fn another_accounts_entries_are_indistinguishable_from_missing_ones() {
    let world = World::new().await;
    let intruder = world.env.user_with_token("intruder@example.test").await;
    let intruder = world.env.client(&intruder);
    let anime_id = world.anime(DEMON_SLAYER).await;
    let entry = world
        .add(new_entry(anime_id, ListStatus::Watching).progress(2))
        .await;
    let missing = 999_999_999;
    let theirs = writes_refused(&intruder, entry.id).await;
    let nothing = writes_refused(&intruder, missing).await;
    for ((method, (theirs, theirs_body)), (_, (nothing, nothing_body))) in
        theirs.into_iter().zip(nothing)
    {
        assert_eq!((theirs, &theirs_body), (404, &nothing_body), "{method}");
        assert_eq!(nothing, 404);
    }
    let (status, _) = api_error(
        intruder
            .list_entry_for_anime()
            .anime_id(anime_id)
            .send()
            .await,
    );
    assert_eq!(status, 404);
    let list = intruder
        .list_entries()
        .send()
        .await
        .expect("list")
        .into_inner();
    assert!(list.data.is_empty(), "{list:?}");
    // The owner's entry is untouched, and the intruder may add the same anime.
    let mine = world
        .client()
        .list_entry_for_anime()
        .anime_id(anime_id)
        .send()
        .await
        .expect("the owner's entry")
        .into_inner();
    assert_eq!(mine.progress, 2);
    // The client answers Ok only for the contract's 201.
    intruder
        .list_entry_create()
        .body(new_entry(anime_id, ListStatus::Dropped))
        .send()
        .await
        .expect("201");
}

/// `PATCH` and `DELETE` of `entry_id` as `client`, each expected to be
/// refused: the method, and the refusal's status and body.
async fn writes_refused(
    client: &anitrack_client::Client,
    entry_id: i64,
) -> [(&'static str, (u16, Value)); 2] {
    let patched = client
        .list_entry_update()
        .entry_id(entry_id)
        .body(patch().progress(5))
        .send()
        .await;
    let deleted = client.list_entry_delete().entry_id(entry_id).send().await;
    [
        ("PATCH", api_error_json(patched)),
        ("DELETE", api_error_json(deleted)),
    ]
}

#[tokio::test]
async fn list_paths_around_the_alias_answer_json_errors() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let entry = world.add(new_entry(anime_id, ListStatus::Watching)).await;
    // Paths and methods outside the contract, which the client cannot form.
    let cases = [
        ("GET", format!("/api/v1/list/{}", entry.id), 405),
        ("GET", "/api/v1/list/anime".to_string(), 405),
        ("PATCH", "/api/v1/list/anime".to_string(), 404),
        ("GET", "/api/v1/list/anime/abc".to_string(), 404),
        ("GET", format!("/api/v1/list/other/{anime_id}"), 404),
        ("GET", format!("/api/v1/list/{}/{anime_id}", entry.id), 404),
        ("PATCH", "/api/v1/list/abc".to_string(), 404),
    ];
    for (method, path, expected) in cases {
        let (status, body) = world.request_outside_contract(method, &path).await;
        assert_eq!(status, expected, "{method} {path}: {body}");
        assert!(body["message"].is_string(), "{method} {path}: {body}");
    }
    // An id no entry can have. The client reads the body as the contract's
    // Error, whose message is a string, or fails.
    let (status, body) = api_error(world.client().list_entry_delete().entry_id(0).send().await);
    assert_eq!(status, 404, "DELETE /api/v1/list/0: {body:?}");
}

#[tokio::test]
async fn twenty_parallel_adds_of_one_anime_give_one_entry() {
    let world = World::new().await;
    let anime_id = world.anime(DEMON_SLAYER).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = world.client();
        tasks.push(tokio::spawn(async move {
            client
                .list_entry_create()
                .body(new_entry(anime_id, ListStatus::Watching))
                .send()
                .await
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            // The client answers Ok only for the contract's 201.
            Ok(_) => created += 1,
            refused => {
                let (status, body) = api_error_json(refused);
                assert_eq!(status, 422, "unexpected {status}: {body}");
                assert_eq!(
                    body["errors"]["anime_id"],
                    json!(["The anime id has already been taken."])
                );
            }
        }
    }
    assert_eq!(created, 1);
    let list = world
        .client()
        .list_entries()
        .send()
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.data.len(), 1);
}

#[tokio::test]
async fn concurrent_patches_of_different_fields_lose_nothing() {
    let world = World::new().await;
    let anime_id = world.anime(FMAB).await;
    let entry_id = world
        .add(new_entry(anime_id, ListStatus::Watching))
        .await
        .id;
    for round in 0..10 {
        let bodies = [
            patch().score(round),
            patch().notes(notes(&format!("round {round}"))),
            patch().progress(round),
        ];
        let mut tasks = Vec::new();
        for body in bodies {
            let client = world.client();
            tasks.push(tokio::spawn(async move {
                client
                    .list_entry_update()
                    .entry_id(entry_id)
                    .body(body)
                    .send()
                    .await
            }));
        }
        for task in tasks {
            // The client answers Ok only for the contract's 200.
            task.await.expect("task").expect("200");
        }
        let now = world
            .client()
            .list_entry_for_anime()
            .anime_id(anime_id)
            .send()
            .await
            .expect("the entry")
            .into_inner();
        assert_eq!(
            (now.score, now.notes, now.progress),
            (Some(round), Some(format!("round {round}")), round)
        );
    }
}
