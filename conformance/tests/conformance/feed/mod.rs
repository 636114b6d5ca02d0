//! The sync protocol (`docs/sync.md`): the change feed `GET /list/changes`,
//! revisions and conditional requests, `Idempotency-Key` retries and pages
//! of `GET /list`, each semantic pinned by a test; and the property that a
//! client following the feed converges to `GET /list` under random
//! interleavings of writers on two instances.
//!
//! The generated client sends what it can express (`cursor`, `limit`,
//! `If-Match`, `If-None-Match`, `Idempotency-Key`); raw HTTP ([`Line`]) is
//! for what it cannot: a `304` (no body), exact bytes and headers of a
//! replayed answer, values outside the contract's types.

mod changes;
mod conditions;
mod ordering;
mod pages;
mod properties;
mod retries;

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use anitrack_client::types::{self, ChangeOp, ListStatus};
use anitrack_conformance::harness::{Server, client_over};
use anitrack_conformance::pg::Psql;
use anitrack_conformance::world::{World, new_entry};
use serde_json::Value;

use crate::support::TestEnv;

/// Far above what a test sends (the rate limits have their own tests).
pub const UNTHROTTLED: (&str, &str) = ("ANITRACK_RATE_LIMIT_PER_MINUTE", "1000000");

/// For tests that hold a write inside its transaction ([`Gate`]): the
/// server waits for locks and statements far longer than a gate is held.
pub const PATIENT: [(&str, &str); 4] = [
    UNTHROTTLED,
    ("ANITRACK_DB_LOCK_TIMEOUT_MS", "20000"),
    ("ANITRACK_DB_STATEMENT_TIMEOUT_MS", "30000"),
    ("ANITRACK_REQUEST_TIMEOUT_MS", "30000"),
];

/// A world whose server is not throttled.
pub async fn world() -> World {
    World::with_env(&[UNTHROTTLED]).await
}

/// AniTrack ids of `n` demo anime with at least 24 episodes or an unknown
/// count, so that any progress up to 12 is valid and never completes them.
pub async fn anime_ids(env: &TestEnv, n: usize) -> Vec<i64> {
    let ids = sql(
        env,
        &format!(
            "SELECT id FROM anime WHERE episodes IS NULL OR episodes >= 24 ORDER BY id LIMIT {n}"
        ),
    )
    .await;
    let ids: Vec<i64> = ids
        .lines()
        .map(|l| l.parse().expect("an anime id"))
        .collect();
    assert_eq!(ids.len(), n, "the demo catalog has too few long anime");
    ids
}

/// What `sql` prints, run beside the server (off the async threads: a
/// statement may wait for a lock a request holds).
pub async fn sql(env: &TestEnv, sql: &str) -> String {
    psql_value(env.sql(), sql).await
}

async fn psql_value(psql: Psql, sql: &str) -> String {
    let sql = sql.to_string();
    tokio::task::spawn_blocking(move || {
        psql.value(&sql)
            .unwrap_or_else(|e| panic!("psql failed: {sql}: {e:#}"))
    })
    .await
    .expect("psql task")
}

/// A second `anitrack-server` on the world's database, and the world's
/// account's generated client for it.
pub async fn second_instance(world: &World) -> (Server, anitrack_client::Client) {
    let server = Server::start(&world.env.database_url, &PATIENT)
        .await
        .unwrap_or_else(|e| panic!("a second instance: {e:#}"));
    let client = client_over(
        &server.base_url(),
        Some(&world.token),
        reqwest::Client::builder(),
    );
    (server, client)
}

/// Raw HTTP as one account to one instance, for what the generated client
/// cannot send or show.
#[derive(Clone)]
pub struct Line {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// A raw answer, whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl Line {
    pub fn new(base: &str, token: &str) -> Line {
        Line {
            http: reqwest::Client::new(),
            base: base.to_string(),
            token: token.to_string(),
        }
    }

    /// The world's account on the world's server.
    pub fn of(world: &World) -> Line {
        Line::new(&world.env.server.base_url(), &world.token)
    }

    /// `method /api/v1{path}` with the headers given and a JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self
            .http
            .request(method.clone(), format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: reading the body: {e}"))
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(reqwest::Method::GET, path, headers, None).await
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, headers, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, headers, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(reqwest::Method::DELETE, path, headers, None)
            .await
    }
}

impl Reply {
    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `ETag`; panics when there is none.
    pub fn etag(&self) -> String {
        self.header("etag")
            .unwrap_or_else(|| panic!("status {}: no ETag: {self:?}", self.status))
            .to_string()
    }

    /// An error's body without its request id, to compare two refusals.
    pub fn refusal(&self) -> Value {
        let mut body = self.json();
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "status {}: an error without a message: {body}",
            self.status
        );
        if let Some(object) = body.as_object_mut() {
            object.remove("request_id");
        }
        body
    }

    /// The names `errors` holds, sorted (of a 422).
    pub fn error_names(&self) -> Vec<String> {
        let body = self.json();
        let mut names: Vec<String> = body["errors"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// Whether `tag` is an entry's strong `ETag` as documented:
/// `"e<id>-<rev>-<8 hex digits>"`.
pub fn is_entry_etag(tag: &str, id: i64, rev: i64) -> bool {
    let Some(inner) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return false;
    };
    let Some(digits) = inner.strip_prefix(&format!("e{id}-{rev}-")) else {
        return false;
    };
    digits.len() == 8
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Adds each of `anime` to the list as `client` (watching), in order; the
/// entries' ids.
pub async fn add_all(client: &anitrack_client::Client, anime: &[i64]) -> Vec<i64> {
    let mut ids = Vec::new();
    for anime_id in anime {
        let entry = client
            .list_entry_create()
            .body(new_entry(*anime_id, ListStatus::Watching))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /list of anime {anime_id}: {e:?}"));
        ids.push(entry.into_inner().id);
    }
    ids
}

/// The `next_cursor` of `GET /list?limit=1` as `client` (a list of two
/// entries or more).
pub async fn page_cursor(client: &anitrack_client::Client) -> String {
    client
        .list_entries()
        .limit(limit(1))
        .send()
        .await
        .expect("a page")
        .into_inner()
        .next_cursor
        .expect("a next page")
}

/// `limit` for the generated client.
pub fn limit(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("a limit of at least 1")
}

/// An entry as JSON, to compare the feed's copy with `GET /list` whole.
pub fn as_json(entry: &types::ListEntry) -> Value {
    serde_json::to_value(entry).expect("an entry serializes")
}

/// The list as `GET /list` answers it: entry id → entry.
pub async fn listed(client: &anitrack_client::Client) -> BTreeMap<i64, Value> {
    let list = client
        .list_entries()
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /list: {e:?}"))
        .into_inner();
    let mut map = BTreeMap::new();
    for entry in &list.data {
        assert!(
            map.insert(entry.id, as_json(entry)).is_none(),
            "entry {} listed twice",
            entry.id
        );
    }
    map
}

/// Panics, showing what differs, unless the follower's copy is the list.
pub fn assert_same_list(copy: &BTreeMap<i64, Value>, list: &BTreeMap<i64, Value>, context: &str) {
    if copy == list {
        return;
    }
    let mut differences = Vec::new();
    for (id, entry) in list {
        match copy.get(id) {
            None => differences.push(format!("entry {id} is missing from the copy: {entry}")),
            Some(mine) if mine != entry => {
                differences.push(format!("entry {id}: the copy has {mine}, the list {entry}"))
            }
            Some(_) => {}
        }
    }
    for (id, entry) in copy {
        if !list.contains_key(id) {
            differences.push(format!("entry {id} is in the copy only: {entry}"));
        }
    }
    panic!(
        "{context}: the feed's copy differs from GET /list:\n{}",
        differences.join("\n")
    );
}

/// A client keeping a copy of its list in step through the feed, as
/// `docs/sync.md` tells one to: apply each answer's changes in order, store
/// `next_cursor`, ask again at once while `has_more`. It checks what every
/// answer promises: each entry at most once, an upsert carrying the entry
/// with the change's id, anime and revision, a delete carrying none,
/// revisions only growing, nothing after a delete.
#[derive(Default, Debug)]
pub struct Follower {
    pub cursor: Option<String>,
    /// Entry id → the entry, as JSON.
    pub copy: BTreeMap<i64, Value>,
    /// Entries seen deleted: final.
    deleted: BTreeSet<i64>,
    /// Revisions last seen per entry (deletes included).
    revs: BTreeMap<i64, i64>,
}

impl Follower {
    /// One answer from where the follower stands, applied.
    pub async fn page(
        &mut self,
        client: &anitrack_client::Client,
        page_limit: Option<u32>,
    ) -> types::ListChanges {
        let mut request = client.list_changes();
        if let Some(cursor) = &self.cursor {
            request = request.cursor(cursor.clone());
        }
        if let Some(n) = page_limit {
            request = request.limit(limit(n));
        }
        let page = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /list/changes from {:?}: {e:?}", self.cursor))
            .into_inner();
        self.apply(&page);
        page
    }

    /// Pages until nothing more is waiting; the answers, in order.
    pub async fn catch_up(
        &mut self,
        client: &anitrack_client::Client,
        page_limit: Option<u32>,
    ) -> Vec<types::ListChanges> {
        let mut pages = Vec::new();
        loop {
            let page = self.page(client, page_limit).await;
            let more = page.has_more;
            pages.push(page);
            if !more {
                return pages;
            }
            assert!(pages.len() < 10_000, "the feed never ends: {pages:?}");
        }
    }

    /// Drops the copy, to start again without a cursor.
    pub fn restart(&mut self) {
        *self = Follower::default();
    }

    pub fn apply(&mut self, page: &types::ListChanges) {
        let mut in_answer = BTreeSet::new();
        for change in &page.data {
            let id = change.entry_id;
            assert!(
                in_answer.insert(id),
                "entry {id} appears twice in one answer: {page:?}"
            );
            assert!(
                !self.deleted.contains(&id),
                "entry {id} changed after its delete: {change:?}"
            );
            if let Some(seen) = self.revs.get(&id) {
                assert!(
                    change.rev > *seen,
                    "entry {id} came back at rev {} after rev {seen}: {change:?}",
                    change.rev
                );
            }
            self.revs.insert(id, change.rev);
            match change.op {
                ChangeOp::Upsert => {
                    let entry = change
                        .entry
                        .as_ref()
                        .unwrap_or_else(|| panic!("an upsert without its entry: {change:?}"));
                    assert_eq!(
                        (entry.id, entry.anime_id, entry.rev),
                        (id, change.anime_id, change.rev),
                        "the change and its entry disagree: {change:?}"
                    );
                    self.copy.insert(id, as_json(entry));
                }
                ChangeOp::Delete => {
                    assert!(change.entry.is_none(), "a delete with an entry: {change:?}");
                    self.copy.remove(&id);
                    self.deleted.insert(id);
                }
            }
        }
        self.cursor = Some(page.next_cursor.clone());
    }
}

/// `(op, entry_id)` of each change of an answer, in order.
pub fn ops(page: &types::ListChanges) -> Vec<(ChangeOp, i64)> {
    page.data.iter().map(|c| (c.op, c.entry_id)).collect()
}

/// Waits (up to `within`) until `ready` says so; false if it never did.
pub async fn eventually<F, Fut>(within: Duration, mut ready: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if ready().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Advisory lock key of the gate (two-key form, apart from any lock the
/// server takes with one key).
const GATE_SQL_KEY: &str = "7340, 7340";
const GATE_LOCKS: &str = "FROM pg_locks WHERE locktype = 'advisory' AND classid = 7340 \
                          AND objid = 7340 AND objsubid = 2";

/// Holds chosen writes inside their transactions. A trigger added to
/// `list_entries` makes every write to an entry of a gated anime wait,
/// after its row is written (so after it took its feed position, and with
/// whatever the server locks to take it), for an advisory lock that the
/// test holds from a psql session while the gate is closed. Opening the
/// gate lets them commit.
pub struct Gate {
    psql: Psql,
    holder: Option<std::process::Child>,
    holder_pid: String,
}

impl Gate {
    /// Adds the trigger to the test's database; no anime is gated yet.
    pub async fn install(env: &TestEnv) {
        sql(
            env,
            &format!(
                "CREATE TABLE conformance_gated (anime_id bigint PRIMARY KEY);
                 CREATE FUNCTION conformance_gate() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF EXISTS (SELECT 1 FROM conformance_gated WHERE anime_id = NEW.anime_id) THEN
                         PERFORM pg_advisory_xact_lock_shared({GATE_SQL_KEY});
                     END IF;
                     RETURN NULL;
                 END $$;
                 CREATE TRIGGER conformance_gate AFTER INSERT OR UPDATE ON list_entries
                     FOR EACH ROW EXECUTE FUNCTION conformance_gate();"
            ),
        )
        .await;
    }

    /// Writes to `anime_id`'s entries wait at the gate from now on.
    pub async fn gate_anime(env: &TestEnv, anime_id: i64) {
        sql(
            env,
            &format!("INSERT INTO conformance_gated VALUES ({anime_id}) ON CONFLICT DO NOTHING"),
        )
        .await;
    }

    /// Writes to `anime_id`'s entries pass freely again.
    pub async fn ungate_anime(env: &TestEnv, anime_id: i64) {
        sql(
            env,
            &format!("DELETE FROM conformance_gated WHERE anime_id = {anime_id}"),
        )
        .await;
    }

    /// Closes the gate: returns once the lock is held.
    pub async fn close(env: &TestEnv) -> Gate {
        let psql = env.sql();
        let holder = psql
            .command(&format!(
                "SELECT pg_advisory_lock({GATE_SQL_KEY}); SELECT pg_sleep(60);"
            ))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("psql holding the gate");
        let mut gate = Gate {
            psql,
            holder: Some(holder),
            holder_pid: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pid = gate
                .value(&format!(
                    "SELECT pid {GATE_LOCKS} AND mode = 'ExclusiveLock' AND granted"
                ))
                .await;
            if !pid.is_empty() {
                gate.holder_pid = pid;
                return gate;
            }
            assert!(Instant::now() < deadline, "the gate never closed");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// How many writes wait at the gate.
    pub async fn waiting(&self) -> usize {
        self.value(&format!("SELECT count(*) {GATE_LOCKS} AND NOT granted"))
            .await
            .parse()
            .expect("a count")
    }

    /// Waits until `n` writes wait at the gate.
    pub async fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.waiting().await < n {
            assert!(
                Instant::now() < deadline,
                "{n} writes never reached the gate"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// How many statements of the database wait for any lock (the gated
    /// writes, and whatever waits behind them).
    pub async fn lock_waiters(&self) -> usize {
        self.value(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock'",
        )
        .await
        .parse()
        .expect("a count")
    }

    /// Opens the gate: the writes waiting at it go on.
    pub async fn open(mut self) {
        self.release().await;
    }

    async fn release(&mut self) {
        if let Some(mut holder) = self.holder.take() {
            let pid = self.holder_pid.clone();
            self.value(&format!("SELECT pg_terminate_backend({pid})"))
                .await;
            let _ = tokio::task::spawn_blocking(move || {
                let _ = holder.kill();
                holder.wait()
            })
            .await;
        }
    }

    async fn value(&self, sql: &str) -> String {
        psql_value(self.psql.clone(), sql).await
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        // A test that failed with the gate closed: free the writes at once.
        if let Some(mut holder) = self.holder.take() {
            if !self.holder_pid.is_empty() {
                let _ = self
                    .psql
                    .value(&format!("SELECT pg_terminate_backend({})", self.holder_pid));
            }
            let _ = holder.kill();
            let _ = holder.wait();
        }
    }
}
