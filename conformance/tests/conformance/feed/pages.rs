//! Pages of `GET /list`: with `limit` or `cursor` the answer is one page,
//! `{"data": [...], "next_cursor": ...}`; without them, the whole list
//! exactly as before.

use anitrack_client::types::ListStatus;
use anitrack_conformance::world::new_entry;
use serde_json::{Value, json};

use super::{Follower, Line, add_all, anime_ids, limit, page_cursor, world};
use crate::support::keys;

/// `/list?<query>` with `cursor` (URL-encoded) appended when given.
fn list_path(query: &str, cursor: Option<&str>) -> String {
    let mut pairs: Vec<String> = Vec::new();
    if !query.is_empty() {
        pairs.push(query.to_string());
    }
    if let Some(cursor) = cursor {
        let encoded: String = form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
        pairs.push(format!("cursor={encoded}"));
    }
    format!("/list?{}", pairs.join("&"))
}

/// Every page of `GET /list?<query>`, read raw: the pages' bodies.
async fn all_pages(line: &Line, query: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let reply = line.get(&list_path(query, cursor.as_deref()), &[]).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let page = reply.json();
        assert_eq!(keys(&page), ["data", "next_cursor"], "{page}");
        cursor = page["next_cursor"].as_str().map(String::from);
        let last = page["next_cursor"].is_null();
        pages.push(page);
        if last {
            return pages;
        }
        assert!(pages.len() < 100, "the pages never end");
    }
}

#[tokio::test]
async fn pages_of_the_list_concatenate_to_the_whole_list_in_its_order() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 7).await;
    let entries = add_all(&client, &ids).await;
    // One updated after the others moves to the front.
    client
        .list_entry_update()
        .entry_id(entries[2])
        .body(anitrack_conformance::world::patch().progress(1))
        .send()
        .await
        .expect("200");

    let whole = line.get("/list", &[]).await.json();
    let whole = whole["data"].as_array().expect("data").clone();
    assert_eq!(whole.len(), 7);
    assert_eq!(whole[0]["id"], json!(entries[2]));
    let pages = all_pages(&line, "limit=3").await;
    let sizes: Vec<usize> = pages
        .iter()
        .map(|p| p["data"].as_array().expect("data").len())
        .collect();
    assert_eq!(sizes, [3, 3, 1]);
    let joined: Vec<Value> = pages
        .iter()
        .flat_map(|p| p["data"].as_array().expect("data").clone())
        .collect();
    assert_eq!(joined, whole, "the pages are the list, in its order");

    // The generated client pages the same way.
    let mut ids_paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client.list_entries().limit(limit(2));
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.clone());
        }
        let page = request.send().await.expect("a page").into_inner();
        ids_paged.extend(page.data.iter().map(|e| e.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let ids_whole: Vec<i64> = whole
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids_paged, ids_whole);
}

#[tokio::test]
async fn without_limit_or_cursor_the_list_answers_as_before_and_one_page_may_be_all() {
    let world = world().await;
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 2).await;
    add_all(&world.client(), &ids).await;
    for path in ["/list", "/list?status=watching"] {
        let body = line.get(path, &[]).await.json();
        assert_eq!(keys(&body), ["data"], "GET {path}: {body}");
    }
    let whole = line.get("/list", &[]).await.json();
    let all = line.get("/list?limit=1000", &[]).await.json();
    assert_eq!(all, json!({"data": whole["data"], "next_cursor": null}));
    // A cursor alone pages by 500.
    let first = line.get("/list?limit=1", &[]).await.json();
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let rest = line.get(&list_path("", Some(cursor)), &[]).await.json();
    assert_eq!(
        rest,
        json!({"data": [whole["data"][1]], "next_cursor": null})
    );
}

#[tokio::test]
async fn pages_keep_the_status_filter() {
    let world = world().await;
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 5).await;
    for (n, id) in ids.iter().enumerate() {
        let status = if n % 2 == 0 {
            ListStatus::Watching
        } else {
            ListStatus::Dropped
        };
        world.add(new_entry(*id, status)).await;
    }
    let whole = line.get("/list?status=watching", &[]).await.json();
    let pages = all_pages(&line, "status=watching&limit=2").await;
    let joined: Vec<Value> = pages
        .iter()
        .flat_map(|p| p["data"].as_array().expect("data").clone())
        .collect();
    assert_eq!(joined.len(), 3);
    assert_eq!(json!(joined), whole["data"]);
}

#[tokio::test]
async fn a_bad_limit_or_cursor_on_the_list_is_422() {
    let world = world().await;
    let client = world.client();
    let line = Line::of(&world);
    let ids = anime_ids(&world.env, 2).await;
    add_all(&client, &ids).await;
    for bad in ["0", "1001", "-1", "x"] {
        let reply = line.get(&format!("/list?limit={bad}"), &[]).await;
        assert_eq!(reply.status, 422, "limit={bad}: {reply:?}");
        assert_eq!(reply.error_names(), ["limit"], "limit={bad}");
    }

    let malformed = line.get(&list_path("", Some("garbage")), &[]).await;
    assert_eq!(malformed.status, 422, "{malformed:?}");
    assert_eq!(malformed.error_names(), ["cursor"]);
    let refusal = malformed.refusal();

    // A feed cursor is no page cursor.
    let mut follower = Follower::default();
    follower.catch_up(&client, None).await;
    let feed_cursor = follower.cursor.expect("a cursor");
    // Another account's page cursor.
    let other_token = world.env.user_with_token("other@example.test").await;
    let other = world.env.client(&other_token);
    add_all(&other, &ids).await;
    let their_cursor = page_cursor(&other).await;
    for (what, cursor) in [
        ("a feed cursor", feed_cursor),
        ("another account's", their_cursor),
    ] {
        let reply = line.get(&list_path("limit=1", Some(&cursor)), &[]).await;
        assert_eq!(reply.status, 422, "{what}: {reply:?}");
        assert_eq!(reply.refusal(), refusal, "{what}");
    }
}
