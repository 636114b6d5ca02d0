//! The proof of issue 14 (item 6): random interleavings of adds, patches,
//! deletes and re-adds from two clients, one through a second server
//! instance on the same database, some of them concurrent, while a third
//! client follows the feed: from no cursor (in small pages), then
//! incrementally, sometimes starting over, reading through either
//! instance, and reading while concurrent writes are under way. After every
//! step its copy (entry id → entry) equals `GET /list`, whole entries
//! compared; and every answer it reads keeps the feed's promises
//! ([`Follower::apply`]).
//!
//! 32 cases of up to 12 steps, each case on a fresh account
//! (`ANITRACK_FEED_PROPTEST_CASES` overrides the count). Shrunk failures
//! are kept in `properties.proptest-regressions` beside this file and
//! replayed first.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use anitrack_client::types::ListStatus;
use anitrack_conformance::harness::client_over;
use anitrack_conformance::world::{World, new_entry, notes, patch, tags};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

use super::{Follower, UNTHROTTLED, anime_ids, assert_same_list, listed, second_instance};
use crate::support::head;

/// The anime the writers share: few, so that adds collide, deletes hit
/// listed entries and re-adds happen.
const ANIME: usize = 4;

#[derive(Clone, Copy, Debug)]
enum Writer {
    /// Through the first instance.
    First,
    /// Through the second instance.
    Second,
}

#[derive(Clone, Debug)]
enum Edit {
    Progress(i32),
    Score(i32),
    Notes(String),
    Status(ListStatus),
    Private(bool),
    Tags(Vec<String>),
}

#[derive(Clone, Debug)]
enum Op {
    /// `retried`: sent twice with one `Idempotency-Key`.
    Add {
        by: Writer,
        anime: usize,
        status: ListStatus,
        retried: bool,
    },
    /// Of the anime's entry on the list (or of its last deleted one).
    Patch {
        by: Writer,
        anime: usize,
        edit: Edit,
    },
    Delete {
        by: Writer,
        anime: usize,
    },
}

#[derive(Clone, Debug)]
enum Step {
    One(Op),
    /// Both at once, the follower reading meanwhile.
    Both(Op, Op),
    /// The follower drops its copy and starts again without a cursor.
    StartOver,
}

#[derive(Clone, Debug)]
struct Case {
    /// Steps before the follower's first read (it then starts from a list
    /// that already has a history).
    unfollowed: usize,
    steps: Vec<Step>,
    /// The follower's page size.
    page: u32,
}

fn status() -> impl Strategy<Value = ListStatus> {
    prop_oneof![
        Just(ListStatus::Watching),
        Just(ListStatus::Completed),
        Just(ListStatus::OnHold),
        Just(ListStatus::Dropped),
        Just(ListStatus::PlanToWatch),
    ]
}

fn writer() -> impl Strategy<Value = Writer> {
    prop_oneof![Just(Writer::First), Just(Writer::Second)]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..=12i32).prop_map(Edit::Progress),
        (0..=100i32).prop_map(Edit::Score),
        "[a-z]{1,12}".prop_map(Edit::Notes),
        status().prop_map(Edit::Status),
        any::<bool>().prop_map(Edit::Private),
        proptest::collection::vec("[a-z]{1,6}", 0..3).prop_map(Edit::Tags),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let anime = 0..ANIME;
    prop_oneof![
        3 => (writer(), anime.clone(), status(), proptest::bool::weighted(0.25)).prop_map(
            |(by, anime, status, retried)| Op::Add { by, anime, status, retried }
        ),
        4 => (writer(), anime.clone(), edit()).prop_map(|(by, anime, edit)| Op::Patch { by, anime, edit }),
        2 => (writer(), anime).prop_map(|(by, anime)| Op::Delete { by, anime }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let step = prop_oneof![
        5 => op().prop_map(Step::One),
        4 => (op(), op()).prop_map(|(a, b)| Step::Both(a, b)),
        1 => Just(Step::StartOver),
    ];
    (0usize..4, proptest::collection::vec(step, 1..12), 1u32..=4).prop_map(
        |(unfollowed, steps, page)| Case {
            unfollowed,
            steps,
            page,
        },
    )
}

/// Cases; `ANITRACK_FEED_PROPTEST_CASES` overrides.
fn cases() -> u32 {
    std::env::var("ANITRACK_FEED_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

/// The statuses an op may be answered with: `alone` when no other write
/// runs beside it, so that the list before it decides; `live`: whether the
/// anime had an entry on the list before the step.
fn allowed(op: &Op, live: bool, alone: bool) -> Vec<u16> {
    let (yes, no) = match op {
        Op::Add { .. } => (422, 201),
        Op::Patch { .. } => (200, 404),
        Op::Delete { .. } => (204, 404),
    };
    match (alone, live) {
        (true, true) => vec![yes],
        (true, false) => vec![no],
        (false, _) => vec![yes, no],
    }
}

/// One account's writers and follower, for one case.
struct Scene {
    writers: [anitrack_client::Client; 2],
    /// The follower reads through either instance, in turn.
    readers: [anitrack_client::Client; 2],
    anime: Vec<i64>,
    /// Anime id → its entry on the list, as of the last `GET /list`.
    live: BTreeMap<i64, i64>,
    /// Anime id → its last entry ever (perhaps deleted).
    last: BTreeMap<i64, i64>,
    reads: usize,
    keys: usize,
}

impl Scene {
    fn reader(&mut self) -> anitrack_client::Client {
        self.reads += 1;
        self.readers[self.reads % 2].clone()
    }

    /// The entry an op on `anime` targets: the listed one, else the last
    /// deleted one, else an id no entry of this account has.
    fn target(&self, anime: i64) -> i64 {
        self.live
            .get(&anime)
            .or_else(|| self.last.get(&anime))
            .copied()
            .unwrap_or(i64::MAX / 2)
    }

    /// Sends `op` as built before the step; checks its answer.
    async fn perform(&self, op: Op, key: String, alone: bool) {
        let (by, anime) = match &op {
            Op::Add { by, anime, .. } | Op::Patch { by, anime, .. } | Op::Delete { by, anime } => {
                (*by, self.anime[*anime])
            }
        };
        let client = &self.writers[by as usize];
        let live = self.live.contains_key(&anime);
        let expected = allowed(&op, live, alone);
        let entry_id = self.target(anime);
        let status = match &op {
            Op::Add {
                status, retried, ..
            } => {
                let send = || {
                    let mut request = client.list_entry_create().body(new_entry(anime, *status));
                    if *retried {
                        request = request.idempotency_key(key.clone());
                    }
                    request.send()
                };
                let first = send().await;
                let status = head(&first).0;
                if *retried && status == 201 {
                    let retry = send().await;
                    let (again, headers) = head(&retry);
                    assert_eq!(again, 201, "{op:?}: the retry");
                    assert_eq!(
                        headers
                            .get("idempotent-replayed")
                            .and_then(|v| v.to_str().ok()),
                        Some("true"),
                        "{op:?}: the retry"
                    );
                    let (first, retry) = (
                        first.expect("201").into_inner(),
                        retry.expect("201").into_inner(),
                    );
                    assert_eq!(super::as_json(&first), super::as_json(&retry), "{op:?}");
                }
                status
            }
            Op::Patch { edit, .. } => {
                let body = match edit {
                    Edit::Progress(n) => patch().progress(*n),
                    Edit::Score(n) => patch().score(*n),
                    Edit::Notes(text) => patch().notes(notes(text)),
                    Edit::Status(status) => patch().status(*status),
                    Edit::Private(private) => patch().is_private(*private),
                    Edit::Tags(items) => {
                        let items: Vec<&str> = items.iter().map(String::as_str).collect();
                        patch().tags(tags(&items))
                    }
                };
                let answer = client
                    .list_entry_update()
                    .entry_id(entry_id)
                    .body(body)
                    .send()
                    .await;
                head(&answer).0
            }
            Op::Delete { .. } => {
                head(&client.list_entry_delete().entry_id(entry_id).send().await).0
            }
        };
        assert!(
            expected.contains(&status),
            "{op:?} (entry {entry_id}, listed: {live}, alone: {alone}) answered {status}, not one of {expected:?}"
        );
    }

    fn key(&mut self) -> String {
        self.keys += 1;
        format!("prop-{}", self.keys)
    }

    /// Reads `GET /list` into `live` and `last`; returns it.
    async fn refresh(&mut self) -> BTreeMap<i64, serde_json::Value> {
        let list = listed(&self.writers[0]).await;
        self.live.clear();
        for (id, entry) in &list {
            let anime = entry["anime_id"].as_i64().expect("anime_id");
            self.live.insert(anime, *id);
            self.last.insert(anime, *id);
        }
        list
    }
}

#[test]
fn a_follower_of_the_feed_converges_to_the_list_under_every_interleaving() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let world = runtime.block_on(World::with_env(&[UNTHROTTLED]));
    let (second, _) = runtime.block_on(second_instance(&world));
    let anime = runtime.block_on(anime_ids(&world.env, ANIME));
    let accounts = AtomicUsize::new(0);
    let config = Config {
        cases: cases(),
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        // A shrink step costs a fresh account and its requests: bounded.
        max_shrink_iters: 200,
        max_shrink_time: 120_000,
        ..Config::default()
    };
    let result = TestRunner::new(config).run(&case(), |case| {
        runtime.block_on(async {
            let n = accounts.fetch_add(1, Ordering::SeqCst);
            let token = world
                .env
                .user_with_token(&format!("follower{n}@example.test"))
                .await;
            let on = |base: String| client_over(&base, Some(&token), reqwest::Client::builder());
            let first = on(world.env.server.base_url());
            let other = on(second.base_url());
            let mut scene = Scene {
                writers: [first.clone(), other.clone()],
                readers: [first, other],
                anime: anime.clone(),
                live: BTreeMap::new(),
                last: BTreeMap::new(),
                reads: 0,
                keys: 0,
            };
            let mut follower = Follower::default();
            for (index, step) in case.steps.iter().enumerate() {
                let following = index >= case.unfollowed;
                match step {
                    Step::One(op) => {
                        let key = scene.key();
                        scene.perform(op.clone(), key, true).await;
                    }
                    Step::Both(a, b) => {
                        let (key_a, key_b) = (scene.key(), scene.key());
                        let reader = scene.reader();
                        let reading = async {
                            if following {
                                follower.catch_up(&reader, Some(case.page)).await;
                            }
                        };
                        tokio::join!(
                            scene.perform(a.clone(), key_a, false),
                            scene.perform(b.clone(), key_b, false),
                            reading,
                        );
                    }
                    Step::StartOver => follower.restart(),
                }
                let list = scene.refresh().await;
                if following {
                    let reader = scene.reader();
                    follower.catch_up(&reader, Some(case.page)).await;
                    assert_same_list(
                        &follower.copy,
                        &list,
                        &format!("after step {index} ({step:?})"),
                    );
                }
            }
        });
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
