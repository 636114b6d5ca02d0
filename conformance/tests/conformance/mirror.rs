//! The example mirror (`client/examples/mirror.rs`) as a real process: it
//! is killed with SIGKILL (`kill -9`) at random points of its first sync,
//! of its polls while the list changes, and of its writes, then started
//! again; its file must converge to `GET /list`, and a killed write must
//! be done exactly once. The random points come from a seed printed by
//! each test (`ANITRACK_MIRROR_SEED=<seed>` replays one).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anitrack_client::types::{self, ListStatus};
use anitrack_conformance::harness::{LockHolder, mirror_bin};
use anitrack_conformance::world::{FMAB, ONE_PIECE, World, new_entry, patch};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::Value;

const UNTHROTTLED: (&str, &str) = ("ANITRACK_RATE_LIMIT_PER_MINUTE", "1000000");

/// The test's random source, from `ANITRACK_MIRROR_SEED` or the clock; the
/// seed is printed so a failure can be replayed.
fn rng(test: &str) -> StdRng {
    let seed = std::env::var("ANITRACK_MIRROR_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
    println!("mirror: {test}: seed {seed} (ANITRACK_MIRROR_SEED={seed} replays it)");
    StdRng::seed_from_u64(seed)
}

/// The mirror's files in a directory of their own, and the way to run it
/// against a world's server as the world's account.
struct Mirror {
    dir: tempfile::TempDir,
    base_url: String,
    token: String,
}

/// What a run to completion did.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Mirror {
    fn new(world: &World) -> Mirror {
        Mirror {
            dir: tempfile::tempdir().expect("temporary directory"),
            base_url: world.env.server.base_url(),
            token: world.token.clone(),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("list.json")
    }

    fn pending(&self) -> PathBuf {
        self.dir.path().join("list.json.pending-write")
    }

    /// Everything every run printed.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mirror.log")).unwrap_or_default()
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let bin = mirror_bin();
        assert!(
            bin.exists(),
            "{} is missing: build it with `cargo build -p anitrack-client --example mirror` \
             (`cargo xtask conformance` does)",
            bin.display()
        );
        let mut command = tokio::process::Command::new(bin);
        command
            .args(args)
            .env("ANITRACK_URL", &self.base_url)
            .env("ANITRACK_TOKEN", &self.token)
            .env("ANITRACK_MIRROR_FILE", self.file())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Starts the mirror, its output appended to the log, to be killed.
    fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mirror.log"))
            .expect("log file");
        let err = log.try_clone().expect("log file");
        self.command(args)
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("starting the mirror")
    }

    /// Runs the mirror to its end (at most a minute).
    async fn run(&self, args: &[&str]) -> Run {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the mirror");
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("mirror {args:?} did not finish within 60 s"))
            .expect("the mirror's output");
        let run = Run {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mirror.log"))
            .expect("log file");
        let _ = std::io::Write::write_all(
            &mut log,
            format!("$ mirror {}\n{}{}", args.join(" "), run.stdout, run.stderr).as_bytes(),
        );
        run
    }

    /// The mirror file, parsed: `None` before its first save. A file that
    /// is there but does not parse (a torn write) fails the test.
    fn read(&self) -> Option<Value> {
        let bytes = match std::fs::read(self.file()) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("reading the mirror file: {e}"),
        };
        let file: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "the mirror file is torn ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert_eq!(file["format"], 1, "{file}");
        Some(file)
    }
}

/// Waits (up to a minute) until the mirror's file is there and `ready`
/// says yes; fails if the mirror exits first.
async fn wait_for_file(
    mirror: &Mirror,
    child: &mut tokio::process::Child,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !mirror.read().is_some_and(|file| ready(&file)) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the mirror exited ({status}):\n{}", mirror.log());
        }
        assert!(
            Instant::now() < deadline,
            "{what} stalled:\n{}",
            mirror.log()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// SIGKILL, as `kill -9` sends it, and the exit reaped.
async fn kill_9(child: &mut tokio::process::Child) {
    // tokio's kill() is SIGKILL on Unix.
    child.kill().await.expect("kill -9 the mirror");
}

/// Entries as JSON, through the client's `ListEntry` (so a null field and
/// a missing one compare alike), by id.
fn normalized(entries: Vec<types::ListEntry>) -> Vec<Value> {
    let mut entries = entries;
    entries.sort_by_key(|e| e.id);
    entries
        .into_iter()
        .map(|e| serde_json::to_value(e).expect("an entry serializes"))
        .collect()
}

/// The entries of a mirror file.
fn file_entries(file: &Value) -> Vec<Value> {
    let entries: Vec<types::ListEntry> =
        serde_json::from_value(file["entries"].clone()).expect("the file's entries");
    normalized(entries)
}

/// The list as `GET /list` answers it.
async fn server_list(world: &World) -> Vec<Value> {
    let list = world
        .client()
        .list_entries()
        .send()
        .await
        .expect("GET /list")
        .into_inner();
    normalized(list.data)
}

/// Where the copy and the list differ, in short (empty when they agree).
fn differences(copy: &[Value], list: &[Value]) -> String {
    let ids = |v: &[Value]| -> Vec<i64> { v.iter().filter_map(|e| e["id"].as_i64()).collect() };
    let (copy_ids, list_ids) = (ids(copy), ids(list));
    let missing: Vec<i64> = list_ids
        .iter()
        .copied()
        .filter(|i| !copy_ids.contains(i))
        .collect();
    let extra: Vec<i64> = copy_ids
        .iter()
        .copied()
        .filter(|i| !list_ids.contains(i))
        .collect();
    let mut text = String::new();
    if !missing.is_empty() {
        text.push_str(&format!("missing from the copy: {missing:?}; "));
    }
    if !extra.is_empty() {
        text.push_str(&format!("in the copy, not on the list: {extra:?}; "));
    }
    for entry in list {
        if let Some(mine) = copy.iter().find(|c| c["id"] == entry["id"])
            && mine != entry
        {
            text.push_str(&format!("entry differs: copy {mine} list {entry}; "));
            break;
        }
    }
    text
}

/// Waits (up to `within`) until the mirror's file is complete and holds
/// exactly what `GET /list` answers.
async fn wait_converged(world: &World, mirror: &Mirror, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let list = server_list(world).await;
        let (complete, copy) = match mirror.read() {
            Some(file) => (file["complete"] == true, file_entries(&file)),
            None => (false, Vec::new()),
        };
        if complete && copy == list {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "the mirror did not converge within {within:?} (complete: {complete}): {}\n{}",
                differences(&copy, &list),
                mirror.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The copy right now equals `GET /list`, and says it is complete.
async fn assert_converged(world: &World, mirror: &Mirror) {
    let file = mirror.read().expect("the mirror file");
    assert_eq!(file["complete"], true, "{}", mirror.log());
    let (copy, list) = (file_entries(&file), server_list(world).await);
    assert!(
        copy == list,
        "the copy is not the list: {}\n{}",
        differences(&copy, &list),
        mirror.log()
    );
}

/// The ids of every anime in the catalog.
fn catalog(world: &World) -> Vec<i64> {
    let ids = world
        .env
        .psql_value("SELECT string_agg(id::text, ',' ORDER BY id) FROM anime");
    ids.split(',')
        .map(|id| id.parse().expect("an anime id"))
        .collect()
}

/// Adds `count` anime of its own to the catalog (through the operator CLI)
/// and returns the ids of every anime in the catalog: the demo catalog has
/// 166, too few for a list of a few hundred entries.
async fn catalog_with_extra_anime(world: &World, count: usize) -> Vec<i64> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("extra.jsonl");
    let lines: Vec<String> = (1..=count)
        .map(|n| {
            serde_json::json!({
                "id": 9_000_000 + n,
                "title": {"romaji": format!("Mirror Test {n}")},
                "format": "TV",
                "genres": [],
            })
            .to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n")).expect("writing the catalog");
    let out = world
        .env
        .cli(&["catalog", "import", &path.to_string_lossy()], None)
        .await;
    assert!(out.success, "catalog import: {}", out.stderr);
    catalog(world)
}

/// Adds `anime_id` to the list; returns the entry's id.
async fn add(client: &anitrack_client::Client, anime_id: i64, status: ListStatus) -> i64 {
    client
        .list_entry_create()
        .body(new_entry(anime_id, status))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /list for anime {anime_id}: {e:?}"))
        .into_inner()
        .id
}

async fn delete(client: &anitrack_client::Client, entry_id: i64) {
    client
        .list_entry_delete()
        .entry_id(entry_id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DELETE /list/{entry_id}: {e:?}"));
}

/// Adds every anime in `anime` to the list, four requests at a time;
/// returns (entry id, anime id) of each.
async fn add_all(world: &World, anime: &[i64]) -> Vec<(i64, i64)> {
    let mut tasks = Vec::new();
    for chunk in anime.chunks(anime.len().div_ceil(4).max(1)) {
        let client = world.client();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut added = Vec::new();
            for anime_id in chunk {
                added.push((
                    add(&client, anime_id, ListStatus::PlanToWatch).await,
                    anime_id,
                ));
            }
            added
        }));
    }
    let mut added = Vec::new();
    for task in tasks {
        added.extend(task.await.expect("adding entries"));
    }
    added
}

/// Someone else changing the list while the mirror runs: patches (some of
/// one entry twice in a row), deletions, additions and re-additions, until
/// `stop`. Returns how many writes it made.
fn writer(
    client: anitrack_client::Client,
    mut live: Vec<(i64, i64)>,
    mut free: Vec<i64>,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut writes = 0;
        while !stop.load(Ordering::SeqCst) {
            let roll = rng.random_range(0..100);
            if (roll < 50 && !live.is_empty()) || free.is_empty() {
                let (entry_id, _) = live[rng.random_range(0..live.len())];
                let times = if roll < 10 { 2 } else { 1 };
                for _ in 0..times {
                    let body = patch()
                        .score(rng.random_range(0..=100))
                        .is_private(rng.random_bool(0.5));
                    client
                        .list_entry_update()
                        .entry_id(entry_id)
                        .body(body)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("PATCH /list/{entry_id}: {e:?}"));
                    writes += 1;
                }
            } else if roll < 75 && !live.is_empty() {
                let (entry_id, anime_id) = live.swap_remove(rng.random_range(0..live.len()));
                delete(&client, entry_id).await;
                free.push(anime_id);
                writes += 1;
            } else {
                let anime_id = free.swap_remove(rng.random_range(0..free.len()));
                live.push((add(&client, anime_id, ListStatus::Watching).await, anime_id));
                writes += 1;
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(1..12))).await;
        }
        writes
    })
}

#[tokio::test]
async fn the_mirror_killed_at_random_points_of_its_first_sync_and_polls_converges() {
    let mut rng = rng("first sync and polls");
    let world = World::with_env(&[UNTHROTTLED]).await;
    let started = Instant::now();
    let mut anime = catalog_with_extra_anime(&world, 300).await;
    anime.shuffle(&mut rng);
    // A list of 400 entries, and 60 deletions (tombstones in the feed), 20
    // of them added again under new entry ids.
    let (listed, spare) = anime.split_at(400);
    let mut live = add_all(&world, listed).await;
    live.shuffle(&mut rng);
    let client = world.client();
    let mut free: Vec<i64> = spare.to_vec();
    for _ in 0..60 {
        let (entry_id, anime_id) = live.pop().expect("an entry");
        delete(&client, entry_id).await;
        free.push(anime_id);
    }
    live.extend(add_all(&world, &free.split_off(free.len() - 20)).await);
    let entries = live.len();
    println!(
        "mirror: a list of {entries} entries and 60 deletions in {:.1?}",
        started.elapsed()
    );

    // The first sync, in pages of 7 changes (about 60 pages), killed at
    // random points: each time once the file holds a random number of
    // entries (it only grows during a first sync), plus a few milliseconds.
    let mirror = Mirror::new(&world);
    let mut thresholds: Vec<usize> = (0..5)
        .map(|_| rng.random_range(1..entries * 3 / 4))
        .collect();
    thresholds.sort_unstable();
    let mut killed_mid_first_sync = 0;
    for threshold in thresholds {
        let mut child = mirror.spawn(&["sync", "--interval", "0.05", "--page-size", "7"]);
        // The file only grows during a first sync.
        wait_for_file(&mirror, &mut child, "the first sync", |file| {
            file["complete"] == true || file["entries"].as_array().map_or(0, Vec::len) >= threshold
        })
        .await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..15))).await;
        kill_9(&mut child).await;
        let file = mirror.read().expect("the mirror file");
        let held = file["entries"].as_array().map_or(0, Vec::len);
        println!(
            "mirror: killed at {held} entries (complete: {})",
            file["complete"]
        );
        if file["complete"] == false {
            killed_mid_first_sync += 1;
        }
    }
    assert!(
        killed_mid_first_sync >= 3,
        "only {killed_mid_first_sync} kills landed during the first sync"
    );

    // Polls while someone else changes the list, killed at random moments
    // (and left dead for a while, as changes go on), with random page sizes
    // so that polls span several pages.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = writer(world.client(), live, free, rng.random(), Arc::clone(&stop));
    for _ in 0..8 {
        let page_size = rng.random_range(1..=10).to_string();
        let mut child = mirror.spawn(&["sync", "--interval", "0.03", "--page-size", &page_size]);
        tokio::time::sleep(Duration::from_millis(rng.random_range(20..400))).await;
        kill_9(&mut child).await;
        assert!(mirror.read().is_some());
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..100))).await;
    }
    stop.store(true, Ordering::SeqCst);
    let writes = writes.await.expect("the writer");
    println!("mirror: {writes} writes by someone else while it was killed 8 times");

    // Left running, the poll loop catches up; a last pass finds nothing new.
    let mut child = mirror.spawn(&["sync", "--interval", "0.05", "--page-size", "25"]);
    wait_converged(&world, &mirror, Duration::from_secs(30)).await;
    kill_9(&mut child).await;
    assert_converged(&world, &mirror).await;
    let run = mirror.run(&["sync", "--once"]).await;
    assert!(run.success, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("(0 changes applied)"), "{}", run.stdout);
    assert_converged(&world, &mirror).await;
    println!(
        "mirror: converged after every kill ({:.1?} in all)",
        started.elapsed()
    );
}

/// Runs a write command, killing it at a random point of its `lifetime`
/// (how long a write takes from the start of the process to its end), again
/// and again, until one run finishes or prints its result (the last one is
/// left alone): returns that run. A run killed before it printed a result
/// may have written; the next run of the same command must not write again.
async fn write_killed_at_random(
    mirror: &Mirror,
    rng: &mut StdRng,
    lifetime: Duration,
    args: &[&str],
) -> Run {
    let mut kills = 0;
    let mut kills_with_key = 0;
    let mut finished = None;
    for attempt in 0..8 {
        let out = mirror.dir.path().join(format!("attempt-{attempt}.out"));
        let mut child = mirror
            .command(args)
            .stdout(std::fs::File::create(&out).expect("output file"))
            .stderr(std::fs::File::create(out.with_extension("err")).expect("output file"))
            .spawn()
            .expect("starting the mirror");
        tokio::time::sleep(lifetime.mul_f64(rng.random_range(0.0..1.1))).await;
        if let Some(status) = child.try_wait().expect("the mirror's status") {
            // It finished before the kill: that run is the write's.
            finished = Some(Run {
                success: status.success(),
                stdout: std::fs::read_to_string(&out).unwrap_or_default(),
                stderr: std::fs::read_to_string(out.with_extension("err")).unwrap_or_default(),
            });
            break;
        }
        kill_9(&mut child).await;
        let stdout = std::fs::read_to_string(&out).unwrap_or_default();
        if stdout.starts_with("deleted entry ")
            || serde_json::from_str::<types::ListEntry>(&stdout).is_ok()
        {
            // Killed after it printed its result: the write is done, as
            // that run said (and its key may be gone: the same command now
            // is a new write).
            finished = Some(Run {
                success: true,
                stdout,
                stderr: std::fs::read_to_string(out.with_extension("err")).unwrap_or_default(),
            });
            break;
        }
        kills += 1;
        if mirror.pending().exists() {
            kills_with_key += 1;
        }
    }
    println!("mirror: {args:?} killed {kills} times, {kills_with_key} of them with its key stored");
    let run = match finished {
        Some(run) => run,
        None => mirror.run(args).await,
    };
    assert!(
        run.success,
        "{args:?} after the kills: {}{}\n{}",
        run.stdout,
        run.stderr,
        mirror.log()
    );
    assert!(
        !mirror.pending().exists(),
        "the pending write stays after its answer"
    );
    run
}

/// The entries of `anime_id` on the list.
async fn entries_of(world: &World, anime_id: i64) -> Vec<types::ListEntry> {
    let list = world
        .client()
        .list_entries()
        .send()
        .await
        .expect("GET /list")
        .into_inner();
    list.data
        .into_iter()
        .filter(|e| e.anime_id == anime_id)
        .collect()
}

/// Holds the account's feed row locked for `seconds`, so that every list
/// write of the account waits inside the server; returns once it is held.
async fn hold_the_feed(world: &World, seconds: u32) -> LockHolder {
    world
        .env
        .hold_lock(
            "SELECT last_seq FROM list_feeds WHERE account_id = \
             (SELECT id FROM accounts WHERE email = 'lister@example.test') FOR UPDATE",
            seconds,
        )
        .await
}

/// Starts the write `args`, waits until the server holds it (waiting on the
/// feed row), kills the mirror with its request in flight, and lets the
/// lock go: the server then finishes the write and keeps its answer.
async fn kill_in_flight(world: &World, mirror: &Mirror, args: &[&str]) {
    let holder = hold_the_feed(world, 2).await;
    let mut child = mirror.spawn(args);
    let deadline = Instant::now() + Duration::from_secs(10);
    while world.env.psql_value(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
         AND datname = current_database()",
    ) == "0"
    {
        assert!(
            Instant::now() < deadline,
            "the write never reached the lock:\n{}",
            mirror.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill_9(&mut child).await;
    assert!(
        mirror.pending().exists(),
        "a write in flight has its key stored"
    );
    assert!(holder.finish().await, "the lock holder failed");
}

#[tokio::test]
async fn a_write_killed_at_any_point_is_done_exactly_once() {
    let mut rng = rng("writes");
    // Writes wait for the held feed row longer than the default 1 s.
    let world = World::with_env(&[UNTHROTTLED, ("ANITRACK_DB_LOCK_TIMEOUT_MS", "10000")]).await;
    let mirror = Mirror::new(&world);

    // How long a write takes, start to end of the process, on this machine.
    let client = world.client();
    let scratch = add(&client, world.anime(ONE_PIECE).await, ListStatus::Watching).await;
    let started = Instant::now();
    let run = mirror
        .run(&["patch", "--entry-id", &scratch.to_string(), "--score", "1"])
        .await;
    let lifetime = started.elapsed();
    assert!(run.success, "{}{}", run.stdout, run.stderr);
    delete(&client, scratch).await;
    println!("mirror: a write takes {lifetime:.0?} from start to end");

    // Killed at random points, then run again: one entry, its first
    // revision; one change; one deletion. Three anime, for more kills.
    let (fmab_id, one_piece_id) = (world.anime(FMAB).await, world.anime(ONE_PIECE).await);
    let anime: Vec<i64> = catalog(&world)
        .into_iter()
        .filter(|id| ![fmab_id, one_piece_id].contains(id))
        .take(3)
        .collect();
    for anime_id in anime {
        let add = anime_id.to_string();
        let run = write_killed_at_random(
            &mirror,
            &mut rng,
            lifetime,
            &[
                "add",
                "--anime-id",
                &add,
                "--status",
                "watching",
                "--notes",
                "first",
            ],
        )
        .await;
        let entry: types::ListEntry = serde_json::from_str(&run.stdout).expect("the entry");
        let on_list = entries_of(&world, anime_id).await;
        assert_eq!(on_list.len(), 1);
        assert_eq!((on_list[0].id, on_list[0].rev), (entry.id, 1));

        let id = entry.id.to_string();
        let run = write_killed_at_random(
            &mirror,
            &mut rng,
            lifetime,
            &[
                "patch",
                "--entry-id",
                &id,
                "--score",
                "77",
                "--notes",
                "killed",
            ],
        )
        .await;
        let patched: types::ListEntry = serde_json::from_str(&run.stdout).expect("the entry");
        assert_eq!(
            (patched.id, patched.rev, patched.score),
            (entry.id, 2, Some(77))
        );
        assert_eq!(entries_of(&world, anime_id).await[0].rev, 2);

        // A retried DELETE without its key would be a 404 once the first
        // one went through: with it, every retry is a success.
        write_killed_at_random(&mirror, &mut rng, lifetime, &["delete", "--entry-id", &id]).await;
        assert!(entries_of(&world, anime_id).await.is_empty());
    }

    // Killed while the server holds the request: the server finishes it,
    // and the mirror's retry gets that answer, replayed, not a second
    // write (POST) or a 404 (DELETE).
    let fmab = fmab_id.to_string();
    let add = ["add", "--anime-id", &fmab, "--status", "completed"];
    kill_in_flight(&world, &mirror, &add).await;
    let run = mirror.run(&add).await;
    assert!(run.success, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("replayed"), "{}", run.stderr);
    let entry: types::ListEntry = serde_json::from_str(&run.stdout).expect("the entry");
    let on_list = entries_of(&world, entry.anime_id).await;
    assert_eq!(on_list.len(), 1);
    assert_eq!((on_list[0].id, on_list[0].rev), (entry.id, 1));

    let id = entry.id.to_string();
    let delete = ["delete", "--entry-id", &id];
    kill_in_flight(&world, &mirror, &delete).await;
    let run = mirror.run(&delete).await;
    assert!(run.success, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("replayed"), "{}", run.stderr);
    assert!(entries_of(&world, entry.anime_id).await.is_empty());

    // A write left pending is finished first when another one is asked
    // for: both are done, each once.
    let one_piece = one_piece_id;
    let add = one_piece.to_string();
    let add = ["add", "--anime-id", &add, "--status", "watching"];
    kill_in_flight(&world, &mirror, &add).await;
    let run = mirror
        .run(&["add", "--anime-id", &fmab, "--status", "dropped"])
        .await;
    assert!(run.success, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("finishing the pending"),
        "{}",
        run.stderr
    );
    assert_eq!(entries_of(&world, one_piece).await.len(), 1);
    let dropped = entries_of(&world, entry.anime_id).await;
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].status, ListStatus::Dropped);

    // And the mirror's copy of it all.
    let run = mirror.run(&["sync", "--once"]).await;
    assert!(run.success, "{}{}", run.stdout, run.stderr);
    assert_converged(&world, &mirror).await;
}

#[tokio::test]
async fn a_mirror_behind_the_purged_tombstones_starts_over_and_converges() {
    let mut rng = rng("410");
    let world = World::with_env(&[
        UNTHROTTLED,
        ("ANITRACK_TOMBSTONE_RETENTION_DAYS", "1"),
        ("ANITRACK_PURGE_INTERVAL_SECS", "1"),
    ])
    .await;
    let mut anime = catalog(&world);
    anime.shuffle(&mut rng);
    let (listed, spare) = anime.split_at(60);
    let mut live = add_all(&world, listed).await;
    let mirror = Mirror::new(&world);
    let run = mirror.run(&["sync", "--once"]).await;
    assert!(run.success, "{}{}", run.stdout, run.stderr);
    assert_converged(&world, &mirror).await;

    // After the mirror's cursor: deletions, then their tombstones aged past
    // the retention and purged; changes and additions too.
    let client = world.client();
    live.shuffle(&mut rng);
    for (entry_id, _) in live.drain(..15) {
        delete(&client, entry_id).await;
    }
    for (entry_id, _) in &live[..5] {
        client
            .list_entry_update()
            .entry_id(*entry_id)
            .body(patch().score(42))
            .send()
            .await
            .expect("PATCH");
    }
    add_all(&world, &spare[..5]).await;
    world.env.psql(
        "UPDATE list_entries SET deleted_at = now() - interval '2 days' \
         WHERE deleted_at IS NOT NULL",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while world
        .env
        .psql_value("SELECT count(*) FROM list_entries WHERE deleted_at IS NOT NULL")
        != "0"
    {
        assert!(
            Instant::now() < deadline,
            "the server never purged the tombstones:\n{}",
            world.env.server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    add_all(&world, &spare[5..8]).await;

    // The mirror gets 410, starts over, and is killed during the new first
    // sync (pages of 2), once the new copy holds a random number of
    // entries: started again, it converges.
    let entries = server_list(&world).await.len();
    let threshold = rng.random_range(1..entries * 3 / 4);
    let mut child = mirror.spawn(&["sync", "--interval", "0.05", "--page-size", "2"]);
    wait_for_file(&mirror, &mut child, "the start over", |file| {
        mirror.log().contains("410 Gone")
            && file["complete"] == false
            && file["entries"].as_array().map_or(0, Vec::len) >= threshold
    })
    .await;
    kill_9(&mut child).await;
    let file = mirror.read().expect("the mirror file");
    println!(
        "mirror: killed after the 410 at {} of {entries} entries (complete: {})",
        file["entries"].as_array().map_or(0, Vec::len),
        file["complete"]
    );
    assert_eq!(file["complete"], false);
    let run = mirror.run(&["sync", "--once"]).await;
    assert!(run.success, "{}{}", run.stdout, run.stderr);
    assert_converged(&world, &mirror).await;
}
