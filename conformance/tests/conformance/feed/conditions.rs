//! Revisions and conditional requests: `rev` on every entry, a strong
//! `ETag` on every answer carrying one, `If-Match` on `PATCH` and
//! `DELETE`, `If-None-Match` on the reads.

use anitrack_client::types::{self, ListStatus};
use anitrack_conformance::world::{new_entry, patch};
use serde_json::json;

use super::{Follower, Line, anime_ids, is_entry_etag, second_instance, world};
use crate::support::{Answer, api_error, head};

/// The `ETag` of a generated-client answer.
fn etag_of<T: std::fmt::Debug>(answer: &Answer<T>) -> String {
    let (status, headers) = head(answer);
    headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("status {status}: no ETag"))
        .to_string()
}

/// Adds `anime` through the client: the entry's id and `ETag`.
async fn added(client: &anitrack_client::Client, anime: i64) -> (i64, String) {
    let created = client
        .list_entry_create()
        .body(new_entry(anime, ListStatus::Watching))
        .send()
        .await;
    let tag = etag_of(&created);
    (created.expect("201").into_inner().id, tag)
}

/// `GET /list/anime/{anime_id}` through the client: the entry.
async fn entry_for(client: &anitrack_client::Client, anime_id: i64) -> types::ListEntry {
    client
        .list_entry_for_anime()
        .anime_id(anime_id)
        .send()
        .await
        .expect("the entry")
        .into_inner()
}

#[tokio::test]
async fn an_entry_is_rev_1_when_added_and_one_more_on_every_real_change() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let anime = anime_ids(&world.env, 1).await[0];

    let created = line
        .post(
            "/list",
            &[],
            &json!({"anime_id": anime, "status": "watching"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let entry = created.json();
    let id = entry["id"].as_i64().expect("id");
    assert_eq!(entry["rev"], json!(1));
    assert!(is_entry_etag(&created.etag(), id, 1), "{created:?}");

    let path = format!("/list/{id}");
    let changed = line.patch(&path, &[], &json!({"progress": 1})).await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.json()["rev"], json!(2));
    assert!(is_entry_etag(&changed.etag(), id, 2), "{changed:?}");
    // Nothing changes: the same revision, the same ETag.
    for same in [
        json!({"progress": 1}),
        json!({"status": "watching"}),
        json!({}),
    ] {
        let unchanged = line.patch(&path, &[], &same).await;
        assert_eq!(unchanged.status, 200);
        assert_eq!(unchanged.json(), changed.json(), "PATCH {same}");
        assert_eq!(unchanged.etag(), changed.etag(), "PATCH {same}");
    }

    // Every representation carries the revision; the single-entry read the
    // same ETag.
    let read = line.get(&format!("/list/anime/{anime}"), &[]).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json(), changed.json());
    assert_eq!(read.etag(), changed.etag());
    let list = client
        .list_entries()
        .send()
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.data[0].rev, 2);
    let mut follower = Follower::default();
    let pages = follower.catch_up(&client, None).await;
    assert_eq!(pages[0].data[0].rev, 2);

    let again = line.patch(&path, &[], &json!({"score": 10})).await;
    assert_eq!(again.json()["rev"], json!(3));
    assert!(is_entry_etag(&again.etag(), id, 3), "{again:?}");
    assert_ne!(again.etag(), changed.etag());
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_writes_nothing() {
    let world = world().await;
    let client = world.client();
    let anime = anime_ids(&world.env, 1).await[0];
    let (id, first) = added(&client, anime).await;
    let update = |tag: &str, body: types::ListEntryPatch| {
        client
            .list_entry_update()
            .entry_id(id)
            .if_match(tag.to_string())
            .body(body)
            .send()
    };
    let changed = update(&first, patch().progress(1)).await;
    let current = etag_of(&changed);
    changed.expect("200 with the current ETag");
    let mut follower = Follower::default();
    follower.catch_up(&client, None).await;

    let (status, body) = api_error(update(&first, patch().progress(5)).await);
    assert_eq!(status, 412, "{body:?}");
    assert!(!body.message.is_empty());

    let entry = entry_for(&client, anime).await;
    assert_eq!((entry.progress, entry.rev), (1, 2));
    let page = follower.page(&client, None).await;
    assert!(
        page.data.is_empty(),
        "a refused write is no change: {page:?}"
    );
    let read = client.list_entry_for_anime().anime_id(anime).send().await;
    assert_eq!(etag_of(&read), current);
}

#[tokio::test]
async fn a_current_if_match_a_list_holding_it_or_a_star_lets_the_write_through() {
    let world = world().await;
    let client = world.client();
    let anime = anime_ids(&world.env, 1).await[0];
    let (id, mut current) = added(&client, anime).await;
    for progress in 1..=3 {
        // The current ETag; a list holding it; any current state.
        let if_match = match progress {
            1 => current.clone(),
            2 => format!("\"e{id}-999-00000000\", {current}"),
            _ => "*".to_string(),
        };
        let answer = client
            .list_entry_update()
            .entry_id(id)
            .if_match(if_match.clone())
            .body(patch().progress(progress))
            .send()
            .await;
        let tag = etag_of(&answer);
        let entry = answer
            .unwrap_or_else(|e| panic!("If-Match: {if_match}: {e:?}"))
            .into_inner();
        assert_eq!(entry.progress, progress, "If-Match: {if_match}");
        assert_ne!(tag, current);
        current = tag;
    }
    client
        .list_entry_delete()
        .entry_id(id)
        .if_match(current)
        .send()
        .await
        .expect("204 with the current ETag");
}

#[tokio::test]
async fn a_weak_if_match_never_matches_and_a_malformed_one_is_400() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let anime = anime_ids(&world.env, 1).await[0];
    let created = line
        .post(
            "/list",
            &[],
            &json!({"anime_id": anime, "status": "watching"}),
        )
        .await;
    let current = created.etag();
    let id = created.json()["id"].as_i64().expect("id");
    let path = format!("/list/{id}");

    let weak = format!("W/{current}");
    let reply = line
        .patch(&path, &[("if-match", &weak)], &json!({"progress": 2}))
        .await;
    assert_eq!(reply.status, 412, "If-Match: {weak}");
    reply.refusal();
    let reply = line.delete(&path, &[("if-match", &weak)]).await;
    assert_eq!(reply.status, 412, "DELETE, If-Match: {weak}");

    let unquoted = current.trim_matches('"').to_string();
    for malformed in [unquoted.as_str(), "\"unterminated", "**", "W/"] {
        let reply = line
            .patch(&path, &[("if-match", malformed)], &json!({"progress": 2}))
            .await;
        assert_eq!(reply.status, 400, "If-Match: {malformed}: {reply:?}");
        reply.refusal();
        let reply = line.delete(&path, &[("if-match", malformed)]).await;
        assert_eq!(
            reply.status, 400,
            "DELETE, If-Match: {malformed}: {reply:?}"
        );
    }
    let entry = entry_for(&client, anime).await;
    assert_eq!((entry.progress, entry.rev), (0, 1), "nothing was written");
}

#[tokio::test]
async fn two_patches_with_the_same_if_match_give_exactly_one_200_and_one_412() {
    let world = world().await;
    let (_second, other) = second_instance(&world).await;
    let client = world.client();
    let anime = anime_ids(&world.env, 1).await[0];
    let id = world.add(new_entry(anime, ListStatus::Watching)).await.id;
    for round in 0..10 {
        let read = client.list_entry_for_anime().anime_id(anime).send().await;
        let seen = etag_of(&read);
        let rev = read.expect("the entry").into_inner().rev;
        // Half the rounds on one instance, half across both.
        let clients = if round % 2 == 0 {
            [client.clone(), client.clone()]
        } else {
            [client.clone(), other.clone()]
        };
        let bodies = [patch().progress(round + 1), patch().score(round)];
        let mut tasks = Vec::new();
        for (writer, body) in clients.into_iter().zip(bodies) {
            let seen = seen.clone();
            tasks.push(tokio::spawn(async move {
                writer
                    .list_entry_update()
                    .entry_id(id)
                    .if_match(seen)
                    .body(body)
                    .send()
                    .await
            }));
        }
        let mut statuses = Vec::new();
        let mut winner = None;
        for (n, task) in tasks.into_iter().enumerate() {
            let answer = task.await.expect("task");
            statuses.push(head(&answer).0);
            if answer.is_ok() {
                winner = Some(n);
            }
        }
        statuses.sort();
        assert_eq!(statuses, [200, 412], "round {round}");
        let now = entry_for(&client, anime).await;
        assert_eq!(now.rev, rev + 1, "round {round}: one write, one revision");
        match winner {
            Some(0) => assert_eq!(now.progress, round + 1, "round {round}"),
            _ => assert_eq!(now.score, Some(round), "round {round}"),
        }
    }
}

#[tokio::test]
async fn a_delete_with_a_stale_if_match_is_412_and_the_entry_stays() {
    let world = world().await;
    let client = world.client();
    let anime = anime_ids(&world.env, 1).await[0];
    let (id, stale) = added(&client, anime).await;
    client
        .list_entry_update()
        .entry_id(id)
        .body(patch().score(80))
        .send()
        .await
        .expect("200");
    let (status, body) = api_error(
        client
            .list_entry_delete()
            .entry_id(id)
            .if_match(stale)
            .send()
            .await,
    );
    assert_eq!(status, 412, "{body:?}");
    assert!(!body.message.is_empty());
    let entry = entry_for(&client, anime).await;
    assert_eq!((entry.id, entry.score, entry.rev), (id, Some(80), 2));
}

#[tokio::test]
async fn if_match_on_a_missing_or_deleted_entry_is_still_404() {
    let world = world().await;
    let client = world.client();
    let anime = anime_ids(&world.env, 1).await[0];
    let (id, tag) = added(&client, anime).await;
    client
        .list_entry_delete()
        .entry_id(id)
        .send()
        .await
        .expect("204");
    for (entry_id, if_match) in [(id, tag.as_str()), (id, "*"), (999_999_999, "*")] {
        let (status, _) = api_error(
            client
                .list_entry_update()
                .entry_id(entry_id)
                .if_match(if_match.to_string())
                .body(patch().progress(1))
                .send()
                .await,
        );
        assert_eq!(status, 404, "PATCH {entry_id}, If-Match: {if_match}");
        let (status, _) = api_error(
            client
                .list_entry_delete()
                .entry_id(entry_id)
                .if_match(if_match.to_string())
                .send()
                .await,
        );
        assert_eq!(status, 404, "DELETE {entry_id}, If-Match: {if_match}");
    }
}

#[tokio::test]
async fn if_none_match_on_the_list_reads_answers_304_without_a_body_while_nothing_changed() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 2).await;
    let a = world.add(new_entry(ids[0], ListStatus::Watching)).await;
    let b = world.add(new_entry(ids[1], ListStatus::Watching)).await;
    let entry_path = format!("/list/anime/{}", ids[0]);

    let entry_tag = line.get(&entry_path, &[]).await.etag();
    let list_tag = line.get("/list", &[]).await.etag();
    assert!(
        list_tag.starts_with('"') && list_tag.ends_with('"'),
        "a strong ETag: {list_tag}"
    );
    assert_ne!(list_tag, entry_tag);
    let weak = format!("W/{entry_tag}");
    let listed_with_others = format!("\"other\", {entry_tag}");
    for (path, tag, if_none_match) in [
        (entry_path.as_str(), &entry_tag, entry_tag.as_str()),
        (entry_path.as_str(), &entry_tag, "*"),
        // Weak comparison: a weak tag of the same value matches.
        (entry_path.as_str(), &entry_tag, weak.as_str()),
        (entry_path.as_str(), &entry_tag, listed_with_others.as_str()),
        ("/list", &list_tag, list_tag.as_str()),
        ("/list", &list_tag, "*"),
    ] {
        let reply = line.get(path, &[("if-none-match", if_none_match)]).await;
        assert_eq!(
            reply.status, 304,
            "GET {path}, If-None-Match: {if_none_match}"
        );
        assert!(reply.body.is_empty(), "{reply:?}");
        assert_eq!(&reply.etag(), tag, "GET {path}");
    }
    let reply = line
        .get(&entry_path, &[("if-none-match", "\"other\"")])
        .await;
    assert_eq!(reply.status, 200);

    // Another entry changes: the list's ETag does, this entry's does not.
    client
        .list_entry_update()
        .entry_id(b.id)
        .body(patch().progress(1))
        .send()
        .await
        .expect("200");
    let reply = line.get("/list", &[("if-none-match", &list_tag)]).await;
    assert_eq!(reply.status, 200);
    assert_ne!(reply.etag(), list_tag);
    let reply = line
        .get(&entry_path, &[("if-none-match", &entry_tag)])
        .await;
    assert_eq!(reply.status, 304);
    // The entry changes: its read is fresh again.
    client
        .list_entry_update()
        .entry_id(a.id)
        .body(patch().progress(1))
        .send()
        .await
        .expect("200");
    let reply = line
        .get(&entry_path, &[("if-none-match", &entry_tag)])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["progress"], json!(1));
    assert_ne!(reply.etag(), entry_tag);
}
