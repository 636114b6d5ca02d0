//! Catalog reads from a streaming replica (`--db-replica-url`), against a
//! real standby of a real primary (`anitrack_conformance::standby`): the
//! catalog is read there while the standby is within its lag bound, lists
//! and authentication on the primary; a standby behind its bound, hung,
//! dead or behind PgBouncer costs no request an error. Which database
//! answered is told by the data (a row changed on the primary while the
//! standby's replay is paused) and by the request's log line (`read_from`,
//! found by the response's `x-request-id`).

use std::time::{Duration, Instant};

use anitrack_client::types::ListStatus;
use serde_json::{Value, json};

use anitrack_conformance::pg::{BouncerOptions, PgBouncer};
use anitrack_conformance::standby::Replicated;
use anitrack_conformance::world::new_entry;

use crate::support::{TestEnv, get_as_sent, get_response, status_json};

/// The title a test gives the probe anime on the primary.
const NEW_TITLE: &str = "Changed On The Primary";
/// How long a test waits for the server to route reads as expected.
const PATIENCE: Duration = Duration::from_secs(30);

/// A primary with a database of its own and a standby of it.
async fn replicated() -> Replicated {
    tokio::task::spawn_blocking(Replicated::start)
        .await
        .expect("the standby task")
        .unwrap_or_else(|e| panic!("no primary and standby: {e:#}"))
}

/// A primary, a standby, and a server reading the catalog from the
/// standby (with `server_env` beyond that), logging JSON.
async fn start(server_env: &[(&str, &str)]) -> (Replicated, TestEnv) {
    let pair = replicated().await;
    let replica_url = pair.standby_url();
    let mut env = vec![
        ("ANITRACK_DB_REPLICA_URL", replica_url.as_str()),
        ("ANITRACK_LOG_FORMAT", "json"),
    ];
    env.extend_from_slice(server_env);
    let server = TestEnv::start_on(pair.primary_url(), &env).await;
    (pair, server)
}

/// The anime the tests read and change: its paths and current title.
struct Probe {
    id: i64,
    title: String,
    paths: [String; 3],
}

async fn probe(pair: &Replicated, env: &TestEnv, token: &str) -> Probe {
    let row = pair
        .primary
        .sql(&pair.database)
        .and_then(|psql| {
            psql.value("SELECT id || '|' || anilist_id FROM anime ORDER BY id LIMIT 1")
        })
        .expect("the probe anime");
    let (id, anilist_id) = row.split_once('|').expect("id|anilist_id");
    let by_anilist_id = format!("/api/v1/anime/anilist/{anilist_id}");
    let (status, anime) = get_as_sent(env, token, &by_anilist_id).await;
    assert_eq!(status, 200, "{anime}");
    let slug = anime["slug"].as_str().expect("a slug");
    Probe {
        id: id.parse().expect("an anime id"),
        title: anime["title"].as_str().expect("a title").to_owned(),
        paths: [
            by_anilist_id.clone(),
            format!("/api/v1/anime/{slug}"),
            format!("/api/v1/anime?anilist_id={anilist_id}"),
        ],
    }
}

/// The title in a catalog answer (a detail, or a search's one result).
fn title(body: &Value) -> &str {
    body.get("data")
        .and_then(|data| data.get(0))
        .unwrap_or(body)["title"]
        .as_str()
        .unwrap_or_else(|| panic!("no title in {body}"))
}

/// The server's log, one JSON object per event (dropshot's own warnings,
/// in another format, left out).
fn events(env: &TestEnv) -> Vec<Value> {
    env.server
        .log_text()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn message(event: &Value) -> &str {
    event["fields"]["message"].as_str().unwrap_or_default()
}

/// A catalog read's answer, and where its log line says it read.
struct Read {
    status: u16,
    body: Value,
    from: String,
    /// Request sent to answer read.
    took: Duration,
}

async fn catalog_read(env: &TestEnv, token: &str, path: &str) -> Read {
    let sent = Instant::now();
    let response = get_response(env, token, path).await;
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("an x-request-id")
        .to_owned();
    let (status, body) = status_json(response).await;
    let took = sent.elapsed();
    let logged = events(env).into_iter().find(|event| {
        event["span"]["request_id"] == request_id.as_str() && message(event) == "request completed"
    });
    let from = logged
        .as_ref()
        .and_then(|event| event["span"]["read_from"].as_str())
        .unwrap_or_else(|| {
            panic!(
                "no read_from on the log line of request {request_id}:\n{}",
                env.server.log_text()
            )
        })
        .to_owned();
    Read {
        status,
        body,
        from,
        took,
    }
}

/// Each path read twice while the replica cannot serve: every answer a
/// 200 from the primary with `expected_title`. Returns the slowest time.
async fn all_from_primary(
    env: &TestEnv,
    token: &str,
    paths: &[String],
    expected_title: &str,
    what: &str,
) -> Duration {
    let mut slowest = Duration::ZERO;
    for path in paths.iter().chain(paths) {
        let read = catalog_read(env, token, path).await;
        assert_eq!(read.status, 200, "{path} with {what}: {}", read.body);
        assert_eq!(title(&read.body), expected_title, "{path} with {what}");
        assert!(
            read.from.starts_with("primary (replica "),
            "{path} with {what}: {}",
            read.from
        );
        slowest = slowest.max(read.took);
    }
    slowest
}

/// Each path read once: every answer a 200 from the replica with
/// `expected_title`.
async fn all_from_replica(env: &TestEnv, token: &str, paths: &[String], expected_title: &str) {
    for path in paths {
        let read = catalog_read(env, token, path).await;
        assert_eq!(read.status, 200, "{path}: {}", read.body);
        assert_eq!(
            (title(&read.body), read.from.as_str()),
            (expected_title, "replica"),
            "{path} is read from the paused standby"
        );
    }
}

/// Reads `path` until `done` holds of an answer (each one a 200, whatever
/// the replica is doing), for up to [`PATIENCE`]; returns that answer.
async fn read_until(
    env: &TestEnv,
    token: &str,
    path: &str,
    what: &str,
    done: impl Fn(&Value, &str) -> bool,
) -> (Value, String) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let Read {
            status, body, from, ..
        } = catalog_read(env, token, path).await;
        assert_eq!(status, 200, "{path} while waiting for {what}: {body}");
        if done(&body, &from) {
            return (body, from);
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {PATIENCE:?} (last: {from}, {body}):\n{}",
            env.server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Until the watch has found the standby current: a read from it.
async fn until_from_replica(env: &TestEnv, token: &str, path: &str) -> Value {
    read_until(env, token, path, "a read from the replica", |_, from| {
        from == "replica"
    })
    .await
    .0
}

/// `pg_wal_replay_pause()` or `pg_wal_replay_resume()` on the standby: a
/// paused standby keeps receiving WAL but applies none of it.
fn replay(pair: &Replicated, action: &str) {
    pair.standby
        .sql("postgres")
        .and_then(|psql| psql.run(&format!("SELECT pg_wal_replay_{action}()")))
        .unwrap_or_else(|e| panic!("pg_wal_replay_{action}: {e:#}"));
}

/// A change to the catalog on the primary, as an import would make.
fn retitle(pair: &Replicated, anime_id: i64) {
    pair.primary
        .sql(&pair.database)
        .and_then(|psql| {
            psql.run(&format!(
                "UPDATE anime SET title = '{NEW_TITLE}' WHERE id = {anime_id}"
            ))
        })
        .unwrap_or_else(|e| panic!("changing the catalog on the primary: {e:#}"));
}

/// The title the standby itself holds for the anime.
fn standby_title(pair: &Replicated, anime_id: i64) -> String {
    pair.standby
        .sql(&pair.database)
        .and_then(|psql| psql.value(&format!("SELECT title FROM anime WHERE id = {anime_id}")))
        .unwrap_or_else(|e| panic!("reading the standby: {e:#}"))
}

/// The replica's state changes the server logged, in order.
fn replica_states(env: &TestEnv) -> Vec<String> {
    events(env)
        .iter()
        .map(message)
        .filter(|m| m.starts_with("replica "))
        .map(|m| m.split(':').next().unwrap_or(m).to_owned())
        .collect()
}

/// Each change is logged once: never the same state twice in a row.
fn assert_logged_once_per_change(states: &[String]) {
    for pair in states.windows(2) {
        assert_ne!(
            pair[0], pair[1],
            "a state logged twice in a row: {states:?}"
        );
    }
}

/// A list entry for the probe, so list reads show its title.
async fn add_to_list(env: &TestEnv, token: &str, anime_id: i64) {
    env.client(token)
        .list_entry_create()
        .body(new_entry(anime_id, ListStatus::Watching))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /list: {e:?}"));
}

/// `GET /list` and `GET /list/anime/{id}`: the probe's title in each.
async fn list_titles(env: &TestEnv, token: &str, anime_id: i64) -> [String; 2] {
    let get = |path: String| async move {
        let (status, body) = get_as_sent(env, token, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    };
    let list = get("/api/v1/list".to_owned()).await;
    let entry = get(format!("/api/v1/list/anime/{anime_id}")).await;
    [
        list["data"][0]["anime"]["title"].to_string(),
        entry["anime"]["title"].to_string(),
    ]
}

#[tokio::test]
async fn catalog_reads_come_from_the_replica_and_lists_and_tokens_from_the_primary() {
    // A bound and a timeout no test machine reaches: only the data decides.
    let (pair, env) = start(&[
        ("ANITRACK_DB_REPLICA_MAX_LAG_MS", "3600000"),
        ("ANITRACK_DB_REPLICA_TIMEOUT_MS", "30000"),
    ])
    .await;
    let email = "replica-reads@example.test";
    let token = env.user_with_token(email).await;
    let probe = probe(&pair, &env, &token).await;
    add_to_list(&env, &token, probe.id).await;
    until_from_replica(&env, &token, &probe.paths[0]).await;

    replay(&pair, "pause");
    retitle(&pair, probe.id);
    // Made after the pause, so the standby has never seen it: accepted all
    // the same, since tokens are looked up (and counted) on the primary.
    let late_token = env.mint_token(email, "after the pause").await;
    all_from_replica(&env, &late_token, &probe.paths, &probe.title).await;
    assert_eq!(standby_title(&pair, probe.id), probe.title);
    let quoted = json!(NEW_TITLE).to_string();
    assert_eq!(
        list_titles(&env, &late_token, probe.id).await,
        [quoted.clone(), quoted],
        "list reads come from the primary"
    );
    replay(&pair, "resume");
    let states = replica_states(&env);
    assert_eq!(states, ["replica up"], "{states:?}");
}

#[tokio::test]
async fn a_replica_behind_its_bound_is_skipped_until_it_catches_up() {
    let (pair, env) = start(&[
        ("ANITRACK_DB_REPLICA_MAX_LAG_MS", "2000"),
        ("ANITRACK_DB_REPLICA_TIMEOUT_MS", "30000"),
    ])
    .await;
    let token = env.user_with_token("replica-lag@example.test").await;
    let probe = probe(&pair, &env, &token).await;
    let path = &probe.paths[1];
    until_from_replica(&env, &token, path).await;

    replay(&pair, "pause");
    retitle(&pair, probe.id);
    let changed = Instant::now();
    let (_, read_from) = read_until(&env, &token, path, "the primary's title", |body, _| {
        title(body) == NEW_TITLE
    })
    .await;
    let fell_back = changed.elapsed();
    assert_eq!(read_from, "primary (replica lagging)");
    assert_eq!(standby_title(&pair, probe.id), probe.title, "still paused");
    let lagging = events(&env)
        .into_iter()
        .find(|event| message(event).starts_with("replica lagging"))
        .unwrap_or_else(|| panic!("no lagging line:\n{}", env.server.log_text()));
    let behind_ms = lagging["fields"]["behind_ms"].as_u64().unwrap_or(0);
    assert!(behind_ms >= 2000, "{lagging}");
    assert_eq!(lagging["fields"]["max_lag_ms"], 2000, "{lagging}");

    replay(&pair, "resume");
    let resumed = Instant::now();
    let body = until_from_replica(&env, &token, path).await;
    assert_eq!(title(&body), NEW_TITLE, "the standby caught up");
    println!(
        "replica: max lag 2 s, replay paused: reads from the primary {:.2} s after the change \
         (the standby was then {behind_ms} ms behind); replay resumed: reads from the standby \
         again after {:.2} s",
        fell_back.as_secs_f64(),
        resumed.elapsed().as_secs_f64()
    );
    let states = replica_states(&env);
    assert_eq!(states.last().map(String::as_str), Some("replica up"));
    assert_logged_once_per_change(&states);
}

/// Thaws a frozen standby however the test ends (a frozen cluster cannot
/// be stopped).
struct Thaw<'a>(&'a Replicated);

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        let _ = self.0.standby.thaw();
    }
}

#[tokio::test]
async fn a_hung_or_dead_replica_costs_no_request_an_error() {
    let (mut pair, env) = start(&[("ANITRACK_DB_REPLICA_TIMEOUT_MS", "500")]).await;
    let token = env.user_with_token("replica-down@example.test").await;
    let probe = probe(&pair, &env, &token).await;
    until_from_replica(&env, &token, &probe.paths[0]).await;

    // Hung: connections are accepted and never answered. The first read
    // waits the replica's timeout, then the primary answers; the replica
    // counts as down from then on.
    pair.standby.freeze().expect("freezing the standby");
    let thaw = Thaw(&pair);
    let hung = all_from_primary(&env, &token, &probe.paths, &probe.title, "the standby hung").await;
    drop(thaw);
    until_from_replica(&env, &token, &probe.paths[0]).await;

    // Dead: every process killed, connections reset and refused.
    pair.standby.kill_9().expect("killing the standby");
    let dead = all_from_primary(&env, &token, &probe.paths, &probe.title, "the standby dead").await;
    println!(
        "replica: timeout 500 ms: 6 catalog reads with the standby hung, all 200 from the \
         primary, the slowest in {:.2} s; 6 with it killed, the slowest in {:.2} s",
        hung.as_secs_f64(),
        dead.as_secs_f64()
    );
    // The instance stays ready: it has its primary.
    let ready = env.http.get(env.url("/ready")).send().await.expect("send");
    assert_eq!(ready.status(), 200);

    // Down when hung and when dead (and perhaps lagging on the way back).
    let states = replica_states(&env);
    assert!(
        states.iter().filter(|s| *s == "replica down").count() >= 2,
        "{states:?}"
    );
    assert_logged_once_per_change(&states);
    assert!(
        !env.server.log_text().contains("request failed"),
        "{}",
        env.server.log_text()
    );
}

#[tokio::test]
async fn through_pgbouncer_in_transaction_mode_the_replica_serves_and_falls_back() {
    let pair = replicated().await;
    let options = BouncerOptions::default();
    let bouncers = [pair.primary.port(), pair.standby.port()]
        .map(|port| PgBouncer::start(port, &options).expect("PgBouncer"));
    let replica_url = bouncers[1].url(&pair.database);
    let mut env = TestEnv::start_on(
        bouncers[0].url(&pair.database),
        &[
            ("ANITRACK_DB_POOLER", "transaction"),
            ("ANITRACK_DB_REPLICA_URL", replica_url.as_str()),
            ("ANITRACK_DB_REPLICA_MAX_LAG_MS", "3600000"),
            ("ANITRACK_DB_REPLICA_TIMEOUT_MS", "1000"),
            ("ANITRACK_LOG_FORMAT", "json"),
        ],
    )
    .await;
    // The server goes through PgBouncer; the test's CLI and psql straight
    // to the primary (the CLI would need --db-pooler through it).
    env.database_url = pair.primary_url();
    let token = env.user_with_token("replica-pooled@example.test").await;
    let probe = probe(&pair, &env, &token).await;
    add_to_list(&env, &token, probe.id).await;
    until_from_replica(&env, &token, &probe.paths[2]).await;

    replay(&pair, "pause");
    retitle(&pair, probe.id);
    all_from_replica(&env, &token, &probe.paths, &probe.title).await;
    let quoted = json!(NEW_TITLE).to_string();
    assert_eq!(
        list_titles(&env, &token, probe.id).await,
        [quoted.clone(), quoted]
    );
    replay(&pair, "resume");

    // The standby dies behind its PgBouncer, which stays up and answers
    // with FATAL errors (or keeps the query waiting).
    let mut pair = pair;
    pair.standby.kill_9().expect("killing the standby");
    let dead = all_from_primary(&env, &token, &probe.paths, NEW_TITLE, "the standby dead").await;
    println!(
        "replica: through PgBouncer, timeout 1 s: 6 catalog reads with the standby killed \
         behind its PgBouncer, all 200 from the primary, the slowest in {:.2} s",
        dead.as_secs_f64()
    );
    assert_logged_once_per_change(&replica_states(&env));
    drop(env);
    drop(bouncers);
}
