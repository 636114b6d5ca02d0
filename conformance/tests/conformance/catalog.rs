//! The catalog: `catalog import`, slugs, and `GET /anime/{slug}`,
//! `GET /anime/anilist/{anilistId}`, `GET /anime`.

use anitrack_conformance::harness::{Catalog, fixture};
use serde_json::{Value, json};

use anitrack_client::types::Anime;

// `get_as_sent`: raw `GET path`, for what the client cannot send (an
// AniList id that is not an integer, a path of two segments where the
// client sends one, a `mal_id` that is not an integer) and for a detail
// whose wire form is asserted: its keys, null ones included (the client's
// `Anime` reads a `null` field and a missing one alike), and `updated_at`'s
// text (the client reads it into a `DateTime`).
use crate::support::{
    TestEnv, api_error, api_error_json, get_as_sent, is_contract_timestamp, keys,
};

async fn import(env: &TestEnv, files: &[&std::path::Path]) -> crate::support::CliOutput {
    let mut args = vec!["catalog".to_string(), "import".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.cli(&args, None).await
}

/// `GET /anime/anilist/{anilist_id}` through the client; `Ok` is the
/// contract's 200.
async fn by_anilist_id(env: &TestEnv, token: &str, anilist_id: i64) -> Anime {
    env.client(token)
        .anime_view_by_anilist_id()
        .anilist_id(anilist_id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /anime/anilist/{anilist_id}: {e:?}"))
        .into_inner()
}

/// `GET /anime/{slug}` through the client; `Ok` is the contract's 200.
async fn by_slug(env: &TestEnv, token: &str, slug: &str) -> Anime {
    env.client(token)
        .anime_view()
        .slug(slug)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /anime/{slug}: {e:?}"))
        .into_inner()
}

/// An anime as the client read it, as JSON, to compare whole records.
fn json_of(anime: &Anime) -> Value {
    serde_json::to_value(anime).expect("an anime serializes")
}

/// An empty catalog, the fixture page imported, and a token.
async fn imported() -> (TestEnv, String) {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let out = import(&env, &[&fixture("page.json")]).await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("6 inserted, 0 updated, 0 unchanged, 0 skipped"),
        "{}",
        out.stdout
    );
    let token = env.user_with_token("catalog@example.test").await;
    (env, token)
}

#[tokio::test]
async fn an_imported_anime_is_served_by_slug_and_by_anilist_id() {
    let (env, token) = imported().await;
    // The detail as sent: its keys, the timestamp's text and the snapshot
    // are the wire form.
    let (status, by_slug) =
        get_as_sent(&env, &token, "/api/v1/anime/demon-slayer-kimetsu-no-yaiba").await;
    assert_eq!(status, 200, "{by_slug}");
    let (status, by_id) = get_as_sent(&env, &token, "/api/v1/anime/anilist/101922").await;
    assert_eq!(status, 200);
    assert_eq!(by_slug, by_id);
    assert_eq!(
        keys(&by_slug),
        [
            "anilist_id",
            "cover_image_url",
            "end_date",
            "episodes",
            "external_ids",
            "format",
            "genres",
            "id",
            "season",
            "season_year",
            "slug",
            "start_date",
            "status",
            "studios",
            "synopsis",
            "title",
            "title_english",
            "title_native",
            "updated_at"
        ]
    );
    let mut detail = by_slug.clone();
    assert!(is_contract_timestamp(
        detail["updated_at"].as_str().unwrap_or("")
    ));
    detail["id"] = json!("[id]");
    detail["updated_at"] = json!("[updated_at]");
    insta::assert_json_snapshot!("anime_detail_101922", detail);

    // Through the generated client too.
    let anime = env
        .client(&token)
        .anime_view_by_anilist_id()
        .anilist_id(101922)
        .send()
        .await
        .expect("ok");
    assert_eq!(anime.into_inner().slug, "demon-slayer-kimetsu-no-yaiba");
    let anime = env
        .client(&token)
        .anime_view()
        .slug("hunter-x-hunter-2011")
        .send()
        .await
        .expect("ok");
    assert_eq!(anime.into_inner().anilist_id, 11061);
}

#[tokio::test]
async fn airing_shows_have_unknown_episodes_and_open_end_dates() {
    let (env, token) = imported().await;
    let one_piece = by_anilist_id(&env, &token, 21).await;
    assert_eq!(one_piece.episodes, None);
    assert_eq!(one_piece.end_date, None);
    assert_eq!(one_piece.status.as_deref(), Some("RELEASING"));
}

#[tokio::test]
async fn slug_collisions_get_a_readable_suffix() {
    let (env, token) = imported().await;
    let first = by_anilist_id(&env, &token, 136).await;
    let second = by_anilist_id(&env, &token, 11061).await;
    assert_eq!(first.slug, "hunter-x-hunter");
    assert_eq!(second.slug, "hunter-x-hunter-2011");
    let frieren = by_anilist_id(&env, &token, 154587).await;
    assert_eq!(frieren.slug, "frieren-beyond-journeys-end");
}

#[tokio::test]
async fn unknown_and_malformed_ids_and_slugs_are_404_json() {
    let (env, token) = imported().await;
    let client = env.client(&token);
    let not_found = (404, json!({"message": "Not Found"}));
    for anilist_id in [999999999, -5, 0] {
        let answer = client
            .anime_view_by_anilist_id()
            .anilist_id(anilist_id)
            .send()
            .await;
        assert_eq!(api_error_json(answer), not_found, "AniList id {anilist_id}");
    }
    // `/anime/anilist` alone is the slug route, with the slug "anilist".
    for slug in ["anilist", "no-such-anime"] {
        let answer = client.anime_view().slug(slug).send().await;
        assert_eq!(api_error_json(answer), not_found, "slug {slug}");
    }
    // Raw: an id that is not an integer, and two segments where the client
    // sends one (it percent-encodes a `/` in a slug).
    for path in ["/api/v1/anime/anilist/abc", "/api/v1/anime/other/101922"] {
        assert_eq!(get_as_sent(&env, &token, path).await, not_found, "{path}");
    }
    let (status, _) = api_error(
        env.client(&token)
            .anime_view_by_anilist_id()
            .anilist_id(424242)
            .send()
            .await,
    );
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_catalog_needs_a_token() {
    let (env, _) = imported().await;
    let anonymous = env.anonymous();
    let (status, _) = api_error(anonymous.anime_list().send().await);
    assert_eq!(status, 401, "/api/v1/anime");
    let (status, _) = api_error(
        anonymous
            .anime_view_by_anilist_id()
            .anilist_id(101922)
            .send()
            .await,
    );
    assert_eq!(status, 401, "/api/v1/anime/anilist/101922");
    let (status, _) = api_error(
        anonymous
            .anime_view()
            .slug("demon-slayer-kimetsu-no-yaiba")
            .send()
            .await,
    );
    assert_eq!(status, 401, "/api/v1/anime/demon-slayer-kimetsu-no-yaiba");
}

#[tokio::test]
async fn reimporting_changes_nothing_and_a_changed_record_updates_only_itself() {
    let (env, token) = imported().await;
    let before = by_anilist_id(&env, &token, 5114).await;
    let other_before = by_anilist_id(&env, &token, 136).await;

    let out = import(&env, &[&fixture("page.json")]).await;
    assert!(
        out.stdout
            .contains("0 inserted, 0 updated, 6 unchanged, 0 skipped"),
        "{}",
        out.stdout
    );
    let again = by_anilist_id(&env, &token, 5114).await;
    assert_eq!(
        json_of(&before),
        json_of(&again),
        "an identical re-import changes nothing, not even updated_at"
    );

    // AniList renames the show and adds an episode.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut page: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("page.json")).expect("read"))
            .expect("json");
    let media = page["data"]["Page"]["media"].as_array_mut().expect("media");
    let fmab = media.iter_mut().find(|m| m["id"] == 5114).expect("fmab");
    fmab["title"]["english"] = json!("Fullmetal Alchemist: Brotherhood (Remastered)");
    fmab["episodes"] = json!(65);
    let dir = tempfile::tempdir().expect("tempdir");
    let changed = dir.path().join("changed.json");
    std::fs::write(&changed, page.to_string()).expect("write");
    let out = import(&env, &[&changed]).await;
    assert!(
        out.stdout
            .contains("0 inserted, 1 updated, 5 unchanged, 0 skipped"),
        "{}",
        out.stdout
    );

    let after = by_anilist_id(&env, &token, 5114).await;
    assert_eq!(after.episodes, Some(65));
    assert_eq!(after.id, before.id, "same anime, not a duplicate");
    assert_eq!(after.slug, "fullmetal-alchemist-brotherhood-remastered");
    assert_ne!(after.updated_at, before.updated_at);
    let other_after = by_anilist_id(&env, &token, 136).await;
    assert_eq!(json_of(&other_before), json_of(&other_after));

    // The slug published before the rename keeps resolving.
    let old = by_slug(&env, &token, "fullmetal-alchemist-brotherhood").await;
    assert_eq!(old.anilist_id, 5114);
    assert_eq!(old.slug, "fullmetal-alchemist-brotherhood-remastered");
}

#[tokio::test]
async fn every_input_shape_imports_and_bad_records_are_reported_with_their_position() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let page: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("page.json")).expect("read"))
            .expect("json");
    let media = page["data"]["Page"]["media"]
        .as_array()
        .expect("media")
        .clone();
    let dir = tempfile::tempdir().expect("tempdir");

    // JSON Lines with a broken line and a record without a romaji title.
    let mut lines: Vec<String> = media[..3].iter().map(Value::to_string).collect();
    lines.insert(1, "{not json".into());
    lines.push(json!({"id": 7, "title": {"english": "No Romaji"}}).to_string());
    let jsonl = dir.path().join("media.jsonl");
    std::fs::write(&jsonl, lines.join("\n")).expect("write");
    // A JSON array, and a single-Media response.
    let array = dir.path().join("media-array.json");
    std::fs::write(&array, Value::Array(media[3..].to_vec()).to_string()).expect("write");

    let out = import(&env, &[&jsonl, &array, &fixture("media-101922.json")]).await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("6 inserted, 0 updated, 1 unchanged, 2 skipped"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr
            .contains("media.jsonl: line 2 (record 2): not JSON"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("media.jsonl: line 5 (record 5): title.romaji is missing"),
        "{}",
        out.stderr
    );

    let token = env.user_with_token("shapes@example.test").await;
    let list = env
        .client(&token)
        .anime_list()
        .limit(100)
        .send()
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.data.len(), 6);
}

#[tokio::test]
async fn a_file_that_is_not_anilist_data_fails_clearly() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").expect("write");
    let out = import(&env, &[&text]).await;
    assert!(!out.success);
    assert!(out.stderr.contains("not AniList data"), "{}", out.stderr);
    let out = import(&env, &[&dir.path().join("missing.json")]).await;
    assert!(!out.success);
    assert!(out.stderr.contains("cannot open"), "{}", out.stderr);
}

#[tokio::test]
async fn search_by_title_synonym_and_external_ids() {
    let (env, token) = imported().await;
    let client = env.client(&token);
    let slugs = |list: anitrack_client::types::AnimeList| -> Vec<String> {
        list.data.into_iter().map(|a| a.slug).collect()
    };

    let found = client
        .anime_list()
        .q("HUNTER")
        .send()
        .await
        .expect("q")
        .into_inner();
    assert_eq!(slugs(found), ["hunter-x-hunter", "hunter-x-hunter-2011"]);
    let found = client
        .anime_list()
        .q("鬼滅")
        .send()
        .await
        .expect("native")
        .into_inner();
    assert_eq!(slugs(found), ["demon-slayer-kimetsu-no-yaiba"]);
    let found = client
        .anime_list()
        .q("fmab")
        .send()
        .await
        .expect("synonym")
        .into_inner();
    assert_eq!(slugs(found), ["fullmetal-alchemist-brotherhood"]);
    let found = client
        .anime_list()
        .q("kimetsu no")
        .send()
        .await
        .expect("romaji")
        .into_inner();
    assert_eq!(slugs(found), ["demon-slayer-kimetsu-no-yaiba"]);
    let found = client
        .anime_list()
        .mal_id(52991)
        .send()
        .await
        .expect("mal")
        .into_inner();
    assert_eq!(slugs(found), ["frieren-beyond-journeys-end"]);
    let found = client
        .anime_list()
        .anilist_id(21)
        .send()
        .await
        .expect("anilist")
        .into_inner();
    assert_eq!(slugs(found), ["one-piece"]);
    let found = client
        .anime_list()
        .q("100%_")
        .send()
        .await
        .expect("wildcards are literal")
        .into_inner();
    assert!(found.data.is_empty());
    let found = client
        .anime_list()
        .q("hunter")
        .mal_id(1)
        .send()
        .await
        .expect("and")
        .into_inner();
    assert!(found.data.is_empty());
    let all = client.anime_list().send().await.expect("all").into_inner();
    assert_eq!(all.data.len(), 6);
    let two = client
        .anime_list()
        .limit(2)
        .send()
        .await
        .expect("limit")
        .into_inner();
    assert_eq!(two.data.len(), 2);
}

#[tokio::test]
async fn bad_search_filters_are_422_naming_the_parameter() {
    let (env, token) = imported().await;
    // Raw: `mal_id=abc` is not an integer, which the client cannot send.
    let (status, body) = get_as_sent(
        &env,
        &token,
        "/api/v1/anime?mal_id=abc&anilist_id=0&limit=101",
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({
            "message": "The given data was invalid.",
            "errors": {
                "mal_id": ["The mal id field must be an integer."],
                "anilist_id": ["The anilist id field must be at least 1."],
                "limit": ["The limit field must be between 1 and 100."],
            }
        })
    );
    // The client's types refuse these (the document's `maxLength` and
    // `minimum`): raw again.
    let client = env.client(&token);
    assert!(client.anime_list().q("x".repeat(201)).send().await.is_err());
    let (status, body) = get_as_sent(
        &env,
        &token,
        &format!("/api/v1/anime?q={}", "x".repeat(201)),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"]["q"],
        json!(["The q field must not be greater than 200 characters."])
    );
    let (status, body) = get_as_sent(&env, &token, "/api/v1/anime?limit=0").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["errors"]["limit"],
        json!(["The limit field must be between 1 and 100."])
    );
}

#[tokio::test]
async fn the_test_harness_loads_the_demo_catalog() {
    let env = TestEnv::start().await;
    let token = env.user_with_token("demo.catalog@example.test").await;
    let anime = by_slug(&env, &token, "demon-slayer-kimetsu-no-yaiba").await;
    assert_eq!(anime.anilist_id, 101922);
    let all = env
        .client(&token)
        .anime_list()
        .limit(100)
        .send()
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        all.data.len(),
        100,
        "at least 100 anime in the demo catalog"
    );
}
