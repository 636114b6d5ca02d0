//! The catalog: `catalog import`, slugs, and `GET /anime/{slug}`,
//! `GET /anime/anilist/{anilistId}`, `GET /anime`.

use anitrack_conformance::harness::{Catalog, fixture};
use serde_json::{Value, json};

use crate::support::{TestEnv, api_error, is_contract_timestamp, keys, status_json};

async fn import(env: &TestEnv, files: &[&std::path::Path]) -> crate::support::CliOutput {
    let mut args = vec!["catalog".to_string(), "import".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.cli(&args, None).await
}

async fn get(env: &TestEnv, token: &str, path: &str) -> (u16, Value) {
    let response = env
        .http
        .get(env.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    status_json(response).await
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
    let (status, by_slug) = get(&env, &token, "/api/v1/anime/demon-slayer-kimetsu-no-yaiba").await;
    assert_eq!(status, 200, "{by_slug}");
    let (status, by_id) = get(&env, &token, "/api/v1/anime/anilist/101922").await;
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
    let (status, one_piece) = get(&env, &token, "/api/v1/anime/anilist/21").await;
    assert_eq!(status, 200);
    assert_eq!(one_piece["episodes"], Value::Null);
    assert_eq!(one_piece["end_date"], Value::Null);
    assert_eq!(one_piece["status"], "RELEASING");
}

#[tokio::test]
async fn slug_collisions_get_a_readable_suffix() {
    let (env, token) = imported().await;
    let (_, first) = get(&env, &token, "/api/v1/anime/anilist/136").await;
    let (_, second) = get(&env, &token, "/api/v1/anime/anilist/11061").await;
    assert_eq!(first["slug"], "hunter-x-hunter");
    assert_eq!(second["slug"], "hunter-x-hunter-2011");
    let (_, frieren) = get(&env, &token, "/api/v1/anime/anilist/154587").await;
    assert_eq!(frieren["slug"], "frieren-beyond-journeys-end");
}

#[tokio::test]
async fn unknown_and_malformed_ids_and_slugs_are_404_json() {
    let (env, token) = imported().await;
    for path in [
        "/api/v1/anime/anilist/999999999",
        "/api/v1/anime/anilist/abc",
        "/api/v1/anime/anilist/-5",
        "/api/v1/anime/anilist/0",
        "/api/v1/anime/anilist",
        "/api/v1/anime/no-such-anime",
        "/api/v1/anime/other/101922",
    ] {
        let (status, body) = get(&env, &token, path).await;
        assert_eq!(
            (status, body),
            (404, json!({"message": "Not Found"})),
            "{path}"
        );
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
    for path in [
        "/api/v1/anime",
        "/api/v1/anime/anilist/101922",
        "/api/v1/anime/demon-slayer-kimetsu-no-yaiba",
    ] {
        let (status, _) =
            status_json(env.http.get(env.url(path)).send().await.expect("send")).await;
        assert_eq!(status, 401, "{path}");
    }
}

#[tokio::test]
async fn reimporting_changes_nothing_and_a_changed_record_updates_only_itself() {
    let (env, token) = imported().await;
    let (_, before) = get(&env, &token, "/api/v1/anime/anilist/5114").await;
    let (_, other_before) = get(&env, &token, "/api/v1/anime/anilist/136").await;

    let out = import(&env, &[&fixture("page.json")]).await;
    assert!(
        out.stdout
            .contains("0 inserted, 0 updated, 6 unchanged, 0 skipped"),
        "{}",
        out.stdout
    );
    let (_, again) = get(&env, &token, "/api/v1/anime/anilist/5114").await;
    assert_eq!(
        before, again,
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

    let (_, after) = get(&env, &token, "/api/v1/anime/anilist/5114").await;
    assert_eq!(after["episodes"], 65);
    assert_eq!(after["id"], before["id"], "same anime, not a duplicate");
    assert_eq!(after["slug"], "fullmetal-alchemist-brotherhood-remastered");
    assert_ne!(after["updated_at"], before["updated_at"]);
    let (_, other_after) = get(&env, &token, "/api/v1/anime/anilist/136").await;
    assert_eq!(other_before, other_after);

    // The slug published before the rename keeps resolving.
    let (status, old) = get(
        &env,
        &token,
        "/api/v1/anime/fullmetal-alchemist-brotherhood",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(old["anilist_id"], 5114);
    assert_eq!(old["slug"], "fullmetal-alchemist-brotherhood-remastered");
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
    let (status, body) = get(
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
    let long = "x".repeat(201);
    let (status, body) = get(&env, &token, &format!("/api/v1/anime?q={long}")).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"]["q"],
        json!(["The q field must not be greater than 200 characters."])
    );
    let (status, _) = get(&env, &token, "/api/v1/anime?limit=0").await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn the_test_harness_loads_the_demo_catalog() {
    let env = TestEnv::start().await;
    let token = env.user_with_token("demo.catalog@example.test").await;
    let (status, body) = get(&env, &token, "/api/v1/anime/demon-slayer-kimetsu-no-yaiba").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["anilist_id"], 101922);
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
