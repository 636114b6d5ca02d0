//! Safe retries: `Idempotency-Key` on `POST /list`, `PATCH` and
//! `DELETE /list/{entryId}`. Sent raw: a replay is judged by its bytes and
//! its `Idempotent-Replayed` header, which the client's types do not show.

use std::time::Duration;

use anitrack_client::types::ListStatus;
use anitrack_conformance::world::{World, new_entry};
use serde_json::{Value, json};

use super::{Follower, Gate, Line, PATIENT, anime_ids, listed, second_instance, world};

const REPLAYED: &str = "idempotent-replayed";

/// Panics unless `retry` is `first` again, marked as a replay.
fn assert_replayed(first: &super::Reply, retry: &super::Reply) {
    assert_eq!(first.header(REPLAYED), None, "the first answer: {first:?}");
    assert_eq!(retry.status, first.status, "{retry:?}");
    assert_eq!(
        String::from_utf8_lossy(&retry.body),
        String::from_utf8_lossy(&first.body),
        "the same body, byte for byte"
    );
    assert_eq!(retry.header(REPLAYED), Some("true"), "{retry:?}");
    assert_eq!(retry.header("etag"), first.header("etag"));
}

/// The entry id of a `201`/`200` reply.
fn id_of(reply: &super::Reply) -> i64 {
    reply.json()["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no entry id: {reply:?}"))
}

#[tokio::test]
async fn a_retried_post_makes_one_entry_and_gets_the_same_answer_marked_replayed() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let anime = anime_ids(&world.env, 1).await[0];
    let body = json!({"anime_id": anime, "status": "watching", "progress": 2});
    let key = [("idempotency-key", "3f1c0a52-post")];

    let first = line.post("/list", &key, &body).await;
    assert_eq!(first.status, 201, "{first:?}");
    // Each retry after the answer to the one before it.
    for _ in 0..5 {
        let retry = line.post("/list", &key, &body).await;
        assert_replayed(&first, &retry);
    }
    let list = listed(&client).await;
    assert_eq!(
        list.keys().copied().collect::<Vec<_>>(),
        [id_of(&first)],
        "one entry"
    );
    let mut follower = Follower::default();
    let pages = follower.catch_up(&client, None).await;
    assert_eq!(pages[0].data.len(), 1, "one change: {pages:?}");
    assert_eq!(pages[0].data[0].rev, 1);
    // Without the key the same request is a new attempt, refused.
    let again = line.post("/list", &[], &body).await;
    assert_eq!(again.status, 422, "{again:?}");
}

#[tokio::test]
async fn a_retried_patch_is_replayed_and_writes_nothing() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let anime = anime_ids(&world.env, 1).await[0];
    let id = world.add(new_entry(anime, ListStatus::Watching)).await.id;
    let path = format!("/list/{id}");
    let key = [("idempotency-key", "patch-progress-1")];
    let first = line.patch(&path, &key, &json!({"progress": 1})).await;
    assert_eq!(first.status, 200, "{first:?}");
    let later = line.patch(&path, &[], &json!({"progress": 2})).await;
    assert_eq!(later.status, 200);
    let mut follower = Follower::default();
    follower.catch_up(&client, None).await;

    let retry = line.patch(&path, &key, &json!({"progress": 1})).await;
    assert_replayed(&first, &retry);
    let now = line.get(&format!("/list/anime/{anime}"), &[]).await.json();
    assert_eq!(
        (now["progress"].clone(), now["rev"].clone()),
        (json!(2), json!(3))
    );
    let page = follower.page(&client, None).await;
    assert!(page.data.is_empty(), "a replay is no change: {page:?}");
}

#[tokio::test]
async fn a_retried_delete_is_204_again_not_404() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let anime = anime_ids(&world.env, 1).await[0];
    let id = world.add(new_entry(anime, ListStatus::Watching)).await.id;
    let path = format!("/list/{id}");
    let key = [("idempotency-key", "delete-once")];
    let first = line.delete(&path, &key).await;
    assert_eq!(first.status, 204, "{first:?}");
    let retry = line.delete(&path, &key).await;
    assert_replayed(&first, &retry);
    assert!(retry.body.is_empty());
    assert_eq!(line.delete(&path, &[]).await.status, 404, "without the key");
    let mut follower = Follower::default();
    let pages = follower.catch_up(&client, None).await;
    assert_eq!(
        super::ops(&pages[0]),
        [(anitrack_client::types::ChangeOp::Delete, id)]
    );
    assert_eq!(pages[0].data[0].rev, 2, "one delete, one revision");
}

#[tokio::test]
async fn the_same_key_with_another_request_is_422_naming_the_key() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 3).await;
    let key = [("idempotency-key", "reused")];
    let first = line
        .post(
            "/list",
            &key,
            &json!({"anime_id": ids[0], "status": "watching"}),
        )
        .await;
    assert_eq!(first.status, 201);
    let id = id_of(&first);
    let other = world.add(new_entry(ids[2], ListStatus::Watching)).await.id;
    let before = listed(&client).await;

    let refusals = [
        (
            "another body",
            line.post(
                "/list",
                &key,
                &json!({"anime_id": ids[1], "status": "watching"}),
            )
            .await,
        ),
        (
            "another operation (PATCH)",
            line.patch(&format!("/list/{id}"), &key, &json!({"progress": 1}))
                .await,
        ),
        (
            "another operation (DELETE)",
            line.delete(&format!("/list/{id}"), &key).await,
        ),
    ];
    for (what, reply) in refusals {
        assert_eq!(reply.status, 422, "{what}: {reply:?}");
        assert_eq!(reply.error_names(), ["Idempotency-Key"], "{what}");
    }
    // The same PATCH body, to another entry.
    let patch_key = [("idempotency-key", "patch-reused")];
    let patched = line
        .patch(&format!("/list/{id}"), &patch_key, &json!({"score": 5}))
        .await;
    assert_eq!(patched.status, 200);
    let reply = line
        .patch(&format!("/list/{other}"), &patch_key, &json!({"score": 5}))
        .await;
    assert_eq!(reply.status, 422, "another entry: {reply:?}");
    assert_eq!(reply.error_names(), ["Idempotency-Key"]);

    // Only the first PATCH wrote.
    let after = listed(&client).await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    assert_eq!(after[&other], before[&other]);
    assert_eq!(
        (after[&id]["score"].clone(), after[&id]["rev"].clone()),
        (json!(5), json!(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_while_the_first_is_in_flight_is_409_on_any_instance() {
    let world = World::with_env(&PATIENT).await;
    let (second, _) = second_instance(&world).await;
    let line = Line::of(&world);
    let other_line = Line::new(&second.base_url(), &world.token);
    let anime = anime_ids(&world.env, 1).await[0];
    let body = json!({"anime_id": anime, "status": "watching"});
    let key = ("idempotency-key", "in-flight");
    Gate::install(&world.env).await;
    Gate::gate_anime(&world.env, anime).await;

    let gate = Gate::close(&world.env).await;
    let first = {
        let line = line.clone();
        let body = body.clone();
        tokio::spawn(async move { line.post("/list", &[key], &body).await })
    };
    // The first request is inside its transaction, its entry written.
    gate.wait_for(1).await;
    for (instance, line) in [("the same instance", &line), ("another", &other_line)] {
        let retry =
            tokio::time::timeout(Duration::from_secs(10), line.post("/list", &[key], &body))
                .await
                .unwrap_or_else(|_| panic!("{instance}: the retry waited for the first request"));
        assert_eq!(retry.status, 409, "{instance}: {retry:?}");
        assert_eq!(retry.header("retry-after"), Some("1"), "{instance}");
        retry.refusal();
    }
    gate.open().await;
    let first = first.await.expect("the first request");
    assert_eq!(first.status, 201, "{first:?}");
    let retry = other_line.post("/list", &[key], &body).await;
    assert_replayed(&first, &retry);
}

#[tokio::test]
async fn a_refused_request_keeps_nothing_so_its_key_can_be_used_again() {
    let world = world().await;
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 2).await;

    let key = [("idempotency-key", "fix-and-retry-post")];
    let refused = line
        .post(
            "/list",
            &key,
            &json!({"anime_id": ids[0], "status": "paused"}),
        )
        .await;
    assert_eq!(refused.status, 422);
    let fixed = line
        .post(
            "/list",
            &key,
            &json!({"anime_id": ids[0], "status": "watching"}),
        )
        .await;
    assert_eq!(fixed.status, 201, "{fixed:?}");
    assert_eq!(fixed.header(REPLAYED), None);
    let id = id_of(&fixed);

    let key = [("idempotency-key", "fix-and-retry-patch")];
    let path = format!("/list/{id}");
    let refused = line.patch(&path, &key, &json!({"progress": -1})).await;
    assert_eq!(refused.status, 422);
    let fixed = line.patch(&path, &key, &json!({"progress": 3})).await;
    assert_eq!(fixed.status, 200, "{fixed:?}");
    assert_eq!(fixed.header(REPLAYED), None);
    assert_eq!(fixed.json()["progress"], json!(3));

    // A 404 keeps nothing either: the key then serves another entry.
    let key = [("idempotency-key", "fix-and-retry-delete")];
    let refused = line.delete("/list/999999999", &key).await;
    assert_eq!(refused.status, 404);
    let fixed = line.delete(&path, &key).await;
    assert_eq!(fixed.status, 204, "{fixed:?}");
    assert_eq!(fixed.header(REPLAYED), None);
}

#[tokio::test]
async fn a_retry_sent_after_the_answer_is_never_409() {
    // 409 is for a retry while the first request is still being processed:
    // once its answer arrived, the key is free at once, whether the request
    // was refused, done or replayed.
    let world = world().await;
    let line = Line::of(&world);
    let anime = anime_ids(&world.env, 1).await[0];
    let id = world.add(new_entry(anime, ListStatus::Watching)).await.id;
    let path = format!("/list/{id}");
    for round in 0..100 {
        let key = format!("at-once-{round}");
        let key = [("idempotency-key", key.as_str())];
        let refused = line.patch(&path, &key, &json!({"progress": -1})).await;
        assert_eq!(refused.status, 422, "round {round}: {refused:?}");
        let body = json!({"progress": round % 12});
        let first = line.patch(&path, &key, &body).await;
        assert_eq!(first.status, 200, "round {round}: {first:?}");
        for _ in 0..2 {
            let retry = line.patch(&path, &key, &body).await;
            assert_replayed(&first, &retry);
        }
    }
}

#[tokio::test]
async fn keys_belong_to_one_account() {
    let world = world().await;
    let line = Line::of(&world);
    let other_token = world.env.user_with_token("other@example.test").await;
    let other = Line::new(&world.env.server.base_url(), &other_token);
    let anime = anime_ids(&world.env, 1).await[0];
    let body = json!({"anime_id": anime, "status": "watching"});
    let key = [("idempotency-key", "shared-key")];

    let mine = line.post("/list", &key, &body).await;
    assert_eq!(mine.status, 201);
    let theirs = other.post("/list", &key, &body).await;
    assert_eq!(theirs.status, 201, "{theirs:?}");
    assert_eq!(theirs.header(REPLAYED), None, "not my answer");
    assert_ne!(id_of(&theirs), id_of(&mine));
    let their_list = listed(&world.env.client(&other_token)).await;
    assert_eq!(
        their_list.keys().copied().collect::<Vec<_>>(),
        [id_of(&theirs)]
    );
}

#[tokio::test]
async fn a_key_is_honoured_by_every_instance() {
    let world = world().await;
    let (second, _) = second_instance(&world).await;
    let line = Line::of(&world);
    let other = Line::new(&second.base_url(), &world.token);
    let anime = anime_ids(&world.env, 1).await[0];
    let body = json!({"anime_id": anime, "status": "watching"});
    let key = [("idempotency-key", "across-instances")];
    let first = line.post("/list", &key, &body).await;
    assert_eq!(first.status, 201);
    assert_replayed(&first, &other.post("/list", &key, &body).await);

    let path = format!("/list/{}", id_of(&first));
    let key = [("idempotency-key", "across-instances-patch")];
    let first = other.patch(&path, &key, &json!({"notes": "seen"})).await;
    assert_eq!(first.status, 200);
    assert_replayed(
        &first,
        &line.patch(&path, &key, &json!({"notes": "seen"})).await,
    );
    let listed = listed(&world.client()).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed.values().next().map(|e| e["rev"].clone()),
        Some(json!(2))
    );
}

#[tokio::test]
async fn a_malformed_key_is_400_and_a_valid_one_may_be_quoted() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 2).await;
    let body = json!({"anime_id": ids[0], "status": "watching"});
    let too_long = "k".repeat(256);
    for key in ["", too_long.as_str(), "two words", "tab\there"] {
        let reply = line.post("/list", &[("idempotency-key", key)], &body).await;
        assert_eq!(reply.status, 400, "Idempotency-Key: {key:?}: {reply:?}");
        reply.refusal();
    }
    assert!(listed(&client).await.is_empty(), "nothing was written");

    let longest = "k".repeat(255);
    for (key, anime) in [(longest.as_str(), ids[0]), ("\"quoted-key\"", ids[1])] {
        let body: Value = json!({"anime_id": anime, "status": "watching"});
        let first = line.post("/list", &[("idempotency-key", key)], &body).await;
        assert_eq!(first.status, 201, "Idempotency-Key: {key}: {first:?}");
        let retry = line.post("/list", &[("idempotency-key", key)], &body).await;
        assert_replayed(&first, &retry);
    }
}
