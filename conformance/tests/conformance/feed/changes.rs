//! `GET /list/changes`: order, one change per entry and answer, tombstones,
//! the start without a cursor, polling, pages, the cursor's checks, and
//! `410 Gone` once tombstones it had not seen are purged.

use std::time::Duration;

use anitrack_client::types::{ChangeOp, ListStatus};
use anitrack_conformance::world::{World, new_entry, patch};
use serde_json::{Value, json};

use super::{
    Follower, Line, UNTHROTTLED, add_all, anime_ids, assert_same_list, eventually, listed, ops,
    page_cursor, sql, world,
};

/// `/list/changes` with `cursor` (URL-encoded) and any other query text.
fn changes_path(cursor: Option<&str>, more: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(cursor) = cursor {
        query.append_pair("cursor", cursor);
    }
    let query = query.finish();
    let joined = [query.as_str(), more]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    if joined.is_empty() {
        "/list/changes".to_string()
    } else {
        format!("/list/changes?{joined}")
    }
}

#[tokio::test]
async fn changes_come_in_the_order_they_became_visible_each_entry_once_with_its_latest_state() {
    let world = world().await;
    let client = world.client();
    let ids = anime_ids(&world.env, 3).await;
    let a = world.add(new_entry(ids[0], ListStatus::Watching)).await;
    let b = world.add(new_entry(ids[1], ListStatus::Watching)).await;
    let c = world.add(new_entry(ids[2], ListStatus::Watching)).await;

    let mut follower = Follower::default();
    let start = follower.catch_up(&client, None).await;
    assert_eq!(start.len(), 1, "{start:?}");
    assert_eq!(
        ops(&start[0]),
        [
            (ChangeOp::Upsert, a.id),
            (ChangeOp::Upsert, b.id),
            (ChangeOp::Upsert, c.id)
        ]
    );

    // `a` changes twice around a change of `b`: it appears once, after `b`,
    // as it is now.
    let update = |id: i64, body| client.list_entry_update().entry_id(id).body(body).send();
    update(a.id, patch().progress(1)).await.expect("200");
    update(b.id, patch().score(50)).await.expect("200");
    let a_now = update(a.id, patch().progress(2))
        .await
        .expect("200")
        .into_inner();
    let page = follower.page(&client, None).await;
    assert_eq!(
        ops(&page),
        [(ChangeOp::Upsert, b.id), (ChangeOp::Upsert, a.id)]
    );
    assert!(!page.has_more);
    let change = &page.data[1];
    assert_eq!(change.rev, 3, "{change:?}");
    assert_eq!(change.anime_id, ids[0]);
    let entry = change.entry.as_ref().expect("the entry");
    assert_eq!(super::as_json(entry), super::as_json(&a_now));

    // From the beginning: `c`, unchanged since it was added, comes first.
    let mut fresh = Follower::default();
    let pages = fresh.catch_up(&client, None).await;
    assert_eq!(
        ops(&pages[0]),
        [
            (ChangeOp::Upsert, c.id),
            (ChangeOp::Upsert, b.id),
            (ChangeOp::Upsert, a.id)
        ]
    );
    assert_same_list(&fresh.copy, &listed(&client).await, "from the beginning");
    assert_same_list(&follower.copy, &listed(&client).await, "incrementally");
}

#[tokio::test]
async fn a_delete_is_a_tombstone_and_a_re_added_anime_is_a_new_entry_after_it() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 2).await;
    let a = world.add(new_entry(ids[0], ListStatus::Watching)).await;
    let b = world.add(new_entry(ids[1], ListStatus::Watching)).await;
    let mut follower = Follower::default();
    follower.catch_up(&client, None).await;
    let before_delete = follower.cursor.clone().expect("a cursor");

    client
        .list_entry_delete()
        .entry_id(a.id)
        .send()
        .await
        .expect("204");
    // As sent: a delete's entry is null (the client reads null and a missing
    // key alike), and its revision is one more than the entry's last.
    let reply = line.get(&changes_path(Some(&before_delete), ""), &[]).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(
        body["data"],
        json!([{"op": "delete", "entry_id": a.id, "anime_id": ids[0], "rev": a.rev + 1, "entry": null}])
    );
    assert_eq!(body["has_more"], json!(false));
    follower.page(&client, None).await;
    assert!(!follower.copy.contains_key(&a.id));

    // The same anime again: a new entry, after the old one's delete.
    let again = world.add(new_entry(ids[0], ListStatus::Completed)).await;
    assert_ne!(again.id, a.id);
    assert_eq!(again.rev, 1);
    let page = follower.page(&client, None).await;
    assert_eq!(ops(&page), [(ChangeOp::Upsert, again.id)]);
    assert_same_list(&follower.copy, &listed(&client).await, "incrementally");

    // A client that had not seen the delete gets it before the new entry.
    let mut late = Follower {
        cursor: Some(before_delete),
        ..Follower::default()
    };
    let page = late.page(&client, None).await;
    assert_eq!(
        ops(&page),
        [(ChangeOp::Delete, a.id), (ChangeOp::Upsert, again.id)]
    );
    // And from the beginning, the kept tombstone in its place.
    let mut fresh = Follower::default();
    let pages = fresh.catch_up(&client, None).await;
    assert_eq!(
        ops(&pages[0]),
        [
            (ChangeOp::Upsert, b.id),
            (ChangeOp::Delete, a.id),
            (ChangeOp::Upsert, again.id)
        ]
    );
    assert_same_list(&fresh.copy, &listed(&client).await, "from the beginning");
}

#[tokio::test]
async fn without_a_cursor_the_feed_starts_from_the_beginning_in_pages_and_hands_over_the_cursor_to_poll_from()
 {
    let world = world().await;
    let client = world.client();
    let ids = anime_ids(&world.env, 5).await;
    let entries = add_all(&client, &ids).await;
    let [a, b, c, d, e] = [0, 1, 2, 3, 4].map(|i| entries[i]);
    client
        .list_entry_update()
        .entry_id(b)
        .body(patch().score(70))
        .send()
        .await
        .expect("200");
    client
        .list_entry_delete()
        .entry_id(c)
        .send()
        .await
        .expect("204");

    let mut follower = Follower::default();
    let pages = follower.catch_up(&client, Some(2)).await;
    let shape: Vec<(usize, bool)> = pages.iter().map(|p| (p.data.len(), p.has_more)).collect();
    assert_eq!(shape, [(2, true), (2, true), (1, false)], "{pages:?}");
    let all: Vec<(ChangeOp, i64)> = pages.iter().flat_map(ops).collect();
    assert_eq!(
        all,
        [
            (ChangeOp::Upsert, a),
            (ChangeOp::Upsert, d),
            (ChangeOp::Upsert, e),
            (ChangeOp::Upsert, b),
            (ChangeOp::Delete, c)
        ]
    );
    assert_same_list(&follower.copy, &listed(&client).await, "after the start");

    // The last page's cursor answers what happened afterwards, only that.
    client
        .list_entry_update()
        .entry_id(d)
        .body(patch().progress(4))
        .send()
        .await
        .expect("200");
    let page = follower.page(&client, None).await;
    assert_eq!(ops(&page), [(ChangeOp::Upsert, d)]);
    assert!(!page.has_more);
    assert_same_list(&follower.copy, &listed(&client).await, "after a poll");
}

#[tokio::test]
async fn an_entry_written_while_a_client_pages_moves_to_a_later_page() {
    let world = world().await;
    let client = world.client();
    let ids = anime_ids(&world.env, 4).await;
    let entries = add_all(&client, &ids).await;
    let mut follower = Follower::default();
    let first = follower.page(&client, Some(2)).await;
    assert_eq!(
        ops(&first),
        [
            (ChangeOp::Upsert, entries[0]),
            (ChangeOp::Upsert, entries[1])
        ]
    );
    assert!(first.has_more);
    // Changed after the client read it: the client gets it again, later.
    client
        .list_entry_update()
        .entry_id(entries[0])
        .body(patch().progress(3))
        .send()
        .await
        .expect("200");
    let rest = follower.catch_up(&client, Some(2)).await;
    let all: Vec<(ChangeOp, i64)> = rest.iter().flat_map(ops).collect();
    assert_eq!(
        all,
        [
            (ChangeOp::Upsert, entries[2]),
            (ChangeOp::Upsert, entries[3]),
            (ChangeOp::Upsert, entries[0])
        ]
    );
    assert_eq!(follower.copy[&entries[0]]["progress"], json!(3));
    assert_same_list(&follower.copy, &listed(&client).await, "after paging");
}

#[tokio::test]
async fn an_unchanged_list_polled_with_its_latest_cursor_answers_an_empty_page_with_the_same_cursor()
 {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);

    // An empty list starts with an empty page, and a cursor.
    let mut follower = Follower::default();
    let pages = follower.catch_up(&client, None).await;
    assert_eq!(pages.len(), 1);
    assert!(pages[0].data.is_empty());
    let empty = follower.cursor.clone().expect("a cursor");
    let reply = line.get(&changes_path(Some(&empty), ""), &[]).await;
    assert_eq!(
        (reply.status, reply.json()),
        (
            200,
            json!({"data": [], "next_cursor": empty, "has_more": false})
        )
    );

    let ids = anime_ids(&world.env, 2).await;
    let a = world.add(new_entry(ids[0], ListStatus::Watching)).await;
    world.add(new_entry(ids[1], ListStatus::Watching)).await;
    follower.catch_up(&client, None).await;
    let latest = follower.cursor.clone().expect("a cursor");
    assert_ne!(latest, empty);
    for _ in 0..2 {
        let reply = line.get(&changes_path(Some(&latest), ""), &[]).await;
        assert_eq!(
            (reply.status, reply.json()),
            (
                200,
                json!({"data": [], "next_cursor": latest, "has_more": false})
            )
        );
    }
    // A PATCH that changes nothing is no change.
    let same = client
        .list_entry_update()
        .entry_id(a.id)
        .body(patch().status(ListStatus::Watching))
        .send()
        .await
        .expect("200")
        .into_inner();
    assert_eq!(same.rev, a.rev);
    let page = follower.page(&client, None).await;
    assert!(page.data.is_empty(), "{page:?}");
    assert_eq!(page.next_cursor, latest);
}

#[tokio::test]
async fn if_none_match_on_the_feed_answers_304_until_a_write() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 2).await;
    world.add(new_entry(ids[0], ListStatus::Watching)).await;
    let mut follower = Follower::default();
    follower.catch_up(&client, None).await;
    let path = changes_path(follower.cursor.as_deref(), "");

    let fresh = line.get(&path, &[]).await;
    assert_eq!(fresh.status, 200);
    let etag = fresh.etag();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "a strong ETag: {etag}"
    );
    let not_modified = line.get(&path, &[("if-none-match", &etag)]).await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty(), "{not_modified:?}");
    assert_eq!(not_modified.etag(), etag);

    let b = world.add(new_entry(ids[1], ListStatus::Watching)).await;
    let changed = line.get(&path, &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.etag(), etag);
    let body = changed.json();
    assert_eq!(body["data"][0]["entry_id"], json!(b.id), "{body}");
}

#[tokio::test]
async fn a_limit_outside_1_to_1000_is_422_naming_limit() {
    let world = world().await;
    let line = Line::of(&world);
    for bad in ["0", "1001", "-1", "x", "1.5", "99999999999999999999"] {
        let reply = line
            .get(&changes_path(None, &format!("limit={bad}")), &[])
            .await;
        assert_eq!(reply.status, 422, "limit={bad}: {reply:?}");
        assert_eq!(reply.error_names(), ["limit"], "limit={bad}");
    }
    for good in ["1", "1000"] {
        let reply = line
            .get(&changes_path(None, &format!("limit={good}")), &[])
            .await;
        assert_eq!(reply.status, 200, "limit={good}: {reply:?}");
    }
}

#[tokio::test]
async fn a_malformed_or_foreign_cursor_is_422_and_reveals_nothing() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 2).await;
    let mine = world.add(new_entry(ids[0], ListStatus::Watching)).await;
    let other_token = world.env.user_with_token("other@example.test").await;
    let other = world.env.client(&other_token);
    let theirs = other
        .list_entry_create()
        .body(new_entry(ids[1], ListStatus::Watching))
        .send()
        .await
        .expect("201")
        .into_inner();
    let mut their_follower = Follower::default();
    their_follower.catch_up(&other, None).await;
    let their_cursor = their_follower.cursor.clone().expect("a cursor");

    let mut my_follower = Follower::default();
    my_follower.catch_up(&client, None).await;
    // Each list is its own: nothing of the other account's.
    assert_eq!(
        my_follower.copy.keys().copied().collect::<Vec<_>>(),
        [mine.id]
    );
    assert_eq!(
        their_follower.copy.keys().copied().collect::<Vec<_>>(),
        [theirs.id]
    );
    let my_cursor = my_follower.cursor.clone().expect("a cursor");
    // One character changed in the middle (the last may carry unused bits).
    let middle = (my_cursor.len() / 2..my_cursor.len())
        .find(|i| my_cursor.as_bytes()[*i].is_ascii_alphanumeric())
        .expect("a letter or digit in the cursor");
    let swapped = if my_cursor.as_bytes()[middle] == b'A' {
        "B"
    } else {
        "A"
    };
    let mut tampered = my_cursor.clone();
    tampered.replace_range(middle..=middle, swapped);

    let malformed = line.get(&changes_path(Some("garbage"), ""), &[]).await;
    assert_eq!(malformed.status, 422, "{malformed:?}");
    assert_eq!(malformed.error_names(), ["cursor"]);
    let refusal = malformed.refusal();
    for cursor in [
        their_cursor.as_str(),
        tampered.as_str(),
        "f1",
        "0",
        &"A".repeat(5000),
    ] {
        let reply = line.get(&changes_path(Some(cursor), ""), &[]).await;
        assert_eq!(reply.status, 422, "cursor {cursor:?}: {reply:?}");
        assert_eq!(reply.refusal(), refusal, "cursor {cursor:?}");
    }
    // The other account's own cursor still serves it.
    let page = their_follower.page(&other, None).await;
    assert!(page.data.is_empty(), "{page:?}");
}

#[tokio::test]
async fn a_list_page_cursor_is_no_feed_cursor() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 2).await;
    add_all(&client, &ids).await;
    let page_cursor = page_cursor(&client).await;
    let reply = line.get(&changes_path(Some(&page_cursor), ""), &[]).await;
    assert_eq!(reply.status, 422, "{reply:?}");
    assert_eq!(reply.error_names(), ["cursor"]);
}

/// Two tombstones, one `purged_age` old (past the retention) and one
/// `kept_age` old, with a server purging every second: the cursor from
/// before both is 410 once the purge ran; one that saw the purged
/// tombstone is not; starting over gives the kept tombstone only.
async fn purge_case(retention_days: Option<&str>, purged_age: &str, kept_age: &str) {
    let mut server_env = vec![UNTHROTTLED, ("ANITRACK_PURGE_INTERVAL_SECS", "1")];
    if let Some(days) = retention_days {
        server_env.push(("ANITRACK_TOMBSTONE_RETENTION_DAYS", days));
    }
    let world = World::with_env(&server_env).await;
    let client = world.client();
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 3).await;
    let entries = add_all(&client, &ids).await;
    let [old, recent, live] = [entries[0], entries[1], entries[2]];
    let mut follower = Follower::default();
    follower.catch_up(&client, None).await;
    let before = follower.cursor.clone().expect("a cursor");
    let delete = |id: i64| client.list_entry_delete().entry_id(id).send();
    delete(old).await.expect("204");
    follower.catch_up(&client, None).await;
    delete(recent).await.expect("204");
    let list_etag = line.get("/list", &[]).await.etag();

    // Time passing, not a change: without triggers, since an UPDATE made
    // through SQL otherwise takes a feed position like any other write.
    sql(
        &world.env,
        &format!(
            "SET session_replication_role = replica;
             UPDATE list_entries SET deleted_at = now() - interval '{purged_age}' WHERE id = {old};
             UPDATE list_entries SET deleted_at = now() - interval '{kept_age}' WHERE id = {recent};"
        ),
    )
    .await;
    let path = changes_path(Some(&before), "");
    let url = world.env.url(&format!("/api/v1{path}"));
    let gone = eventually(Duration::from_secs(20), || async {
        let answer = reqwest::Client::new()
            .get(&url)
            .bearer_auth(&world.token)
            .send()
            .await;
        match answer {
            Ok(response) => response.status().as_u16() != 200,
            Err(e) => panic!(
                "GET {path}: {e}; the server's log:\n{}",
                world.env.server.log_text()
            ),
        }
    })
    .await;
    assert!(
        gone,
        "the tombstone {purged_age} old was never purged; the server's log:\n{}",
        world.env.server.log_text()
    );
    let reply = line.get(&path, &[]).await;
    assert_eq!(reply.status, 410, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    reply.refusal();

    // A cursor that saw the purged tombstone missed nothing: it goes on.
    let page = follower.page(&client, None).await;
    assert_eq!(ops(&page), [(ChangeOp::Delete, recent)]);
    // Starting over works, with the tombstone still kept.
    let mut fresh = Follower::default();
    let pages = fresh.catch_up(&client, None).await;
    assert_eq!(
        ops(&pages[0]),
        [(ChangeOp::Upsert, live), (ChangeOp::Delete, recent)]
    );
    assert_same_list(&fresh.copy, &listed(&client).await, "started over");
    // A purge changes the list's ETag.
    let reply = line.get("/list", &[("if-none-match", &list_etag)]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn a_cursor_older_than_a_purged_tombstone_is_410_and_starting_over_works() {
    // The default retention: 90 days.
    purge_case(None, "91 days", "89 days").await;
}

#[tokio::test]
async fn tombstone_retention_is_configurable() {
    purge_case(Some("1"), "25 hours", "23 hours").await;
}

#[tokio::test]
async fn get_on_any_other_list_entry_path_is_still_405() {
    let world = world().await;
    let ids = anime_ids(&world.env, 1).await;
    let entry = world.add(new_entry(ids[0], ListStatus::Watching)).await;
    let line = Line::of(&world);
    for path in [
        format!("/list/{}", entry.id),
        "/list/0".to_string(),
        "/list/abc".to_string(),
        "/list/Changes".to_string(),
        "/list/changes.json".to_string(),
        "/list/anime".to_string(),
    ] {
        let reply = line.get(&path, &[]).await;
        assert_eq!(
            (reply.status, reply.json()["message"].clone()),
            (405, json!("Method Not Allowed")),
            "GET {path} with a token"
        );
        // Without a token too, as before the feed: the path has no GET.
        let response = reqwest::get(world.env.url(&format!("/api/v1{path}")))
            .await
            .expect("send");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(
            (status, body["message"].clone()),
            (405, json!("Method Not Allowed")),
            "GET {path} without a token"
        );
    }
}
