//! Fault injection: the database stops and returns, every pool connection
//! is held, a client stalls, SIGTERM arrives mid-request, the server is
//! killed mid-write. Each test prints what it measured (`cargo xtask
//! conformance` shows it; `docs/reliability.md` records it).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anitrack_client::types::ListStatus;
use anitrack_conformance::harness::{Catalog, Server, client_over, run_server_cli};
use anitrack_conformance::pg::{PgCluster, Psql};
use anitrack_conformance::world::{DEMON_SLAYER, FMAB, World, new_entry, notes, patch};
use serde_json::json;

use crate::support::{PASSWORD, TestEnv, api_error_json, error_response, head, refusal_json};

const UNTHROTTLED: (&str, &str) = ("ANITRACK_RATE_LIMIT_PER_MINUTE", "1000000");

/// A request timeout far below the statement timeout, so a blocked query
/// meets the former.
const REQUEST_TIMEOUT_700_MS: [(&str, &str); 3] = [
    UNTHROTTLED,
    ("ANITRACK_REQUEST_TIMEOUT_MS", "700"),
    ("ANITRACK_DB_STATEMENT_TIMEOUT_MS", "20000"),
];

/// Holds an exclusive lock on `table` for `hold`, from a separate psql
/// session, so requests that touch it block.
fn lock_table(database_url: &str, table: &str, hold: Duration) -> std::process::Child {
    let sql = format!(
        "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({}); COMMIT;",
        hold.as_secs_f64()
    );
    let child = Psql::new(database_url)
        .expect("psql")
        .command(&sql)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("psql");
    // Let psql take the lock before the caller sends requests.
    std::thread::sleep(Duration::from_millis(400));
    child
}

#[tokio::test]
async fn a_stopped_database_gives_fast_503s_and_the_same_process_recovers() {
    // A cluster of its own: this test stops it.
    let mut cluster = tokio::task::spawn_blocking(PgCluster::start_temporary)
        .await
        .expect("join")
        .expect("cluster");
    cluster.create_database("outage", None).expect("database");
    let url = cluster.url("outage");
    let setup = url.clone();
    tokio::task::spawn_blocking(move || run_server_cli(&setup, &["migrate"]))
        .await
        .expect("join")
        .expect("migrate");
    let out = anitrack_conformance::harness::cli(
        Some(&url),
        &[
            "user",
            "create",
            "--email",
            "outage@example.test",
            "--name",
            "Outage",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    )
    .await
    .expect("cli");
    assert!(out.success, "{}", out.stderr);
    let out = anitrack_conformance::harness::cli(
        Some(&url),
        &[
            "token",
            "create",
            "--email",
            "outage@example.test",
            "--name",
            "t",
        ],
        None,
    )
    .await
    .expect("cli");
    let token = out.stdout.lines().last().expect("token").to_string();
    let server = Server::start(&url, &[UNTHROTTLED, ("ANITRACK_DB_POOL_SIZE", "4")])
        .await
        .expect("server");
    let client = client_over(
        &server.base_url(),
        Some(&token),
        reqwest::Client::builder().timeout(Duration::from_secs(10)),
    );
    let get = || client.user_view().send();

    for _ in 0..20 {
        assert_eq!(head(&get().await).0, 200);
    }
    let stopped = Instant::now();
    let mut cluster = tokio::task::spawn_blocking(move || {
        cluster.stop().expect("stop");
        cluster
    })
    .await
    .expect("join");
    let stop_took = stopped.elapsed();

    // Under a bounded load while it is down: every answer is a quick JSON 503.
    let mut slowest = Duration::ZERO;
    let mut first_503 = None;
    for _ in 0..20 {
        let sent = Instant::now();
        // A refusal, not a transport error: the server answers while the
        // database is down.
        let refusal = error_response(get().await);
        slowest = slowest.max(sent.elapsed());
        assert_eq!(refusal.status().as_u16(), 503);
        assert!(refusal.headers().get("retry-after").is_some());
        let (_, body) = refusal_json(refusal);
        assert_eq!(body, json!({"message": "Service Unavailable"}));
        first_503.get_or_insert(stopped.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(2500),
        "slowest 503 took {slowest:?}"
    );

    let restarted = Instant::now();
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.restart().expect("restart");
        cluster
    })
    .await
    .expect("join");
    let mut recovered = None;
    for _ in 0..100 {
        if head(&get().await).0 == 200 {
            recovered = Some(restarted.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered =
        recovered.expect("the same process serves 200 again after the database returns");
    assert!(
        server.log_text().contains("request failed"),
        "503s are logged"
    );
    println!(
        "fault: database stop ({stop_took:.1?} to stop): first 503 after {:.1?}, slowest 503 {slowest:.1?}; \
         after restart, first 200 in {recovered:.1?}",
        first_503.unwrap_or_default()
    );
    drop(cluster);
}

#[tokio::test]
async fn holding_every_pool_connection_gives_503_not_a_pile_up() {
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[
            UNTHROTTLED,
            ("ANITRACK_DB_POOL_SIZE", "2"),
            ("ANITRACK_DB_ACQUIRE_TIMEOUT_MS", "500"),
            // The table lock stands for a slow statement: neither timeout
            // may end it early.
            ("ANITRACK_DB_STATEMENT_TIMEOUT_MS", "20000"),
            ("ANITRACK_DB_LOCK_TIMEOUT_MS", "20000"),
        ],
    )
    .await;
    let token = env.user_with_token("pool@example.test").await;
    // Used once, the token is familiar to the server: its lookups may take
    // any pool connection, not only the lane kept for unfamiliar tokens.
    assert_eq!(head(&env.client(&token).user_view().send().await).0, 200);
    let mut lock = lock_table(&env.database_url, "api_tokens", Duration::from_secs(3));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = env.client(&token);
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let answer = client.user_view().send().await;
            (head(&answer).0, sent.elapsed())
        }));
    }
    let mut unavailable = Vec::new();
    let mut served = 0;
    for task in tasks {
        match task.await.expect("task") {
            (503, took) => unavailable.push(took),
            (200, _) => served += 1,
            (other, _) => panic!("unexpected {other}"),
        }
    }
    lock.wait().expect("psql");
    // Two requests held the two connections until the lock went; the rest
    // were told to come back after the acquire timeout instead of queueing.
    assert_eq!((served, unavailable.len()), (2, 6));
    let slowest = unavailable.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < Duration::from_millis(2000),
        "slowest 503 {slowest:?}"
    );
    println!(
        "fault: pool of 2 held by a lock for 3 s: 6 of 8 requests got 503 within {slowest:.1?}, \
         2 served when the lock went ({:.1?})",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_request_over_the_request_timeout_is_503() {
    let env = TestEnv::start_configured(Catalog::Empty, &REQUEST_TIMEOUT_700_MS).await;
    let token = env.user_with_token("slow@example.test").await;
    let mut lock = lock_table(&env.database_url, "api_tokens", Duration::from_secs(2));
    let sent = Instant::now();
    let answer = env.client(&token).user_view().send().await;
    let took = sent.elapsed();
    assert_eq!(head(&answer).0, 503);
    assert!(
        took < Duration::from_millis(1500),
        "answered after {took:?}"
    );
    lock.wait().expect("psql");
    assert_eq!(
        env.client(&token)
            .user_view()
            .send()
            .await
            .expect("ok")
            .status()
            .as_u16(),
        200
    );
    println!("fault: request timeout 700 ms: a blocked request got 503 after {took:.1?}");
}

#[tokio::test]
async fn a_list_blocked_in_the_database_is_still_a_json_503() {
    let env = TestEnv::start_configured(Catalog::Empty, &REQUEST_TIMEOUT_700_MS).await;
    let token = env.user_with_token("blocked-list@example.test").await;
    let mut lock = lock_table(&env.database_url, "list_entries", Duration::from_secs(2));
    let refusal = error_response(env.client(&token).list_entries().send().await);
    assert!(refusal.headers().get("retry-after").is_some());
    assert_eq!(
        refusal_json(refusal),
        (503, json!({"message": "Service Unavailable"}))
    );
    lock.wait().expect("psql");
    let list = env
        .client(&token)
        .list_entries()
        .send()
        .await
        .expect("served again once the lock is gone");
    assert!(list.into_inner().data.is_empty());
}

/// Makes the account's oldest entry one this version cannot read (a status
/// a newer version might write) and moves it to `updated_at`, which puts it
/// first or last in the list's order.
fn make_one_entry_unreadable(env: &TestEnv, updated_at: &str) {
    env.psql(&format!(
        "ALTER TABLE list_entries DROP CONSTRAINT list_entries_status_check; \
             UPDATE list_entries SET status = 'rewatching', updated_at = '{updated_at}' \
             WHERE id = (SELECT min(id) FROM list_entries)"
    ));
}

#[tokio::test]
async fn a_list_failing_mid_stream_breaks_the_transfer_instead_of_ending_it() {
    // One pool connection: the requests after the failure must reuse it.
    let world = World::with_env(&[UNTHROTTLED, ("ANITRACK_DB_POOL_SIZE", "1")]).await;
    world.fill_the_list().await;
    // Last in order, so the body is well under way when the bad row comes.
    make_one_entry_unreadable(&world.env, "2001-01-01Z");
    let response = world.get_list().await;
    assert_eq!(response.status().as_u16(), 200);
    let body = response.bytes().await;
    assert!(
        body.is_err(),
        "a failed list must not end like a complete one: {:?}",
        body.map(|b| b.len())
    );
    let log = world.env.server.log_text();
    assert!(
        log.contains("GET /list: the body was cut short"),
        "the failure is logged: {log}"
    );
    // The only pool connection is usable again, for other requests and for
    // the same list (which fails the same way, not worse).
    let user = world
        .env
        .client(&world.token)
        .user_view()
        .send()
        .await
        .expect("the server goes on serving");
    assert_eq!(user.status().as_u16(), 200);
    let again = world.get_list().await;
    assert_eq!(again.status().as_u16(), 200);
    assert!(again.bytes().await.is_err());
}

#[tokio::test]
async fn a_list_whose_first_entry_cannot_be_read_is_a_json_500() {
    let world = World::unthrottled().await;
    for anilist_id in [DEMON_SLAYER, FMAB] {
        let anime = world.anime(anilist_id).await;
        world.add(new_entry(anime, ListStatus::Watching)).await;
    }
    // First in order: nothing has been sent when it fails, so the client
    // gets the contract's error, not a 200 cut short.
    make_one_entry_unreadable(&world.env, "2999-01-01Z");
    assert_eq!(
        api_error_json(world.client().list_entries().send().await),
        (500, json!({"message": "Server Error"}))
    );
}

#[tokio::test]
async fn a_stalled_client_is_disconnected_while_others_are_served() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let token = env.user_with_token("slowloris@example.test").await;
    let addr = env.server.addr;
    let started = Instant::now();
    // Raw TCP: headers that never end, which no HTTP client sends.
    let stalled = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout");
        stream
            .write_all(b"GET /api/v1/user HTTP/1.1\r\nHost: x\r\n")
            .expect("write");
        // Dribble a header byte now and then, never finishing the headers.
        let deadline = Instant::now() + Duration::from_secs(45);
        let mut buffer = [0u8; 512];
        while Instant::now() < deadline {
            match stream.read(&mut buffer) {
                Ok(0) => return Some(started.elapsed()),
                Ok(_) => return Some(started.elapsed()),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return Some(started.elapsed()),
            }
            if stream.write_all(b"X").is_err() {
                return Some(started.elapsed());
            }
        }
        None
    });
    // Meanwhile the server serves everyone else.
    for _ in 0..5 {
        assert_eq!(
            env.client(&token)
                .user_view()
                .send()
                .await
                .expect("served")
                .status()
                .as_u16(),
            200
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let closed = stalled
        .await
        .expect("join")
        .expect("the stalled connection is closed by the server");
    assert!(closed < Duration::from_secs(40), "closed after {closed:?}");
    println!(
        "fault: slowloris: the stalled connection was closed after {closed:.1?} (header-read timeout)"
    );
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[("ANITRACK_DB_STATEMENT_TIMEOUT_MS", "20000")],
    )
    .await;
    let token = env.user_with_token("drain@example.test").await;
    let mut server = Server::start(
        &env.database_url,
        // The table lock stands for a slow statement: neither timeout may
        // end it early.
        &[
            ("ANITRACK_DB_STATEMENT_TIMEOUT_MS", "20000"),
            ("ANITRACK_DB_LOCK_TIMEOUT_MS", "20000"),
        ],
    )
    .await
    .expect("server");
    let client = client_over(&server.base_url(), Some(&token), reqwest::Client::builder());
    let mut lock = lock_table(&env.database_url, "api_tokens", Duration::from_secs(2));
    let in_flight = tokio::spawn(async move {
        let sent = Instant::now();
        // head() panics unless the in-flight request is answered.
        let answer = client.user_view().send().await;
        (head(&answer).0, sent.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    let pid = server.pid().expect("pid");
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // dropshot stops calling accept(); the kernel may still complete the
    // handshake, but no new request is served. Raw: the probe is /health,
    // outside the contract and the client, and it does not wait on the
    // locked table, so only a refused request can fail it.
    let late = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .expect("client");
    let refused = late
        .get(format!("{}/health", server.base_url()))
        .send()
        .await
        .is_err();
    let (status, took) = in_flight.await.expect("join");
    lock.wait().expect("psql");
    let exit = server
        .terminate(Duration::from_secs(10))
        .await
        .expect("exit");
    assert_eq!(status, 200, "the in-flight request completes");
    assert!(refused, "no new request is served after SIGTERM");
    assert!(exit.success(), "exit status {exit}");
    println!(
        "fault: SIGTERM with a request in flight: it completed (200 after {took:.1?}), no new request served, \
         exit 0 after {:.1?}",
        signalled.elapsed()
    );
}

#[tokio::test]
async fn kill_9_mid_write_loses_no_acknowledged_write() {
    let env = TestEnv::start_configured(Catalog::Demo, &[UNTHROTTLED]).await;
    let mut server = Server::start(&env.database_url, &[UNTHROTTLED])
        .await
        .expect("server");
    let base = server.base_url();
    let mut tokens = Vec::new();
    for n in 0..4 {
        tokens.push(
            env.user_with_token(&format!("writer{n}@example.test"))
                .await,
        );
    }
    let catalog = env
        .client(&tokens[0])
        .anime_list()
        .limit(100)
        .send()
        .await
        .expect("catalog")
        .into_inner();
    let anime: Vec<i64> = catalog.data.iter().map(|a| a.id).collect();

    // Each worker adds entries and then updates each one's notes, recording
    // what the server acknowledged.
    let mut workers = Vec::new();
    for token in tokens {
        let anime = anime.clone();
        let base = base.clone();
        workers.push(tokio::spawn(async move {
            let client = client_over(&base, Some(&token), reqwest::Client::builder());
            // (entry id, anime id, acknowledged notes, notes in flight)
            let mut acknowledged: Vec<(i64, i64, String, Option<String>)> = Vec::new();
            let mut sequence = 0u32;
            let mut writes = 0u32;
            // Bounded: the kill comes long before this many writes.
            'writing: for pass in 0..200 {
                for (index, anime_id) in anime.iter().enumerate() {
                    sequence += 1;
                    let written = format!("write {sequence}");
                    if pass == 0 {
                        let entry = new_entry(*anime_id, ListStatus::Watching);
                        // Ok is the contract's 201 with the entry read whole.
                        let created = client
                            .list_entry_create()
                            .body(entry.notes(notes(&written)))
                            .send()
                            .await;
                        let Ok(entry) = created else { break 'writing };
                        acknowledged.push((entry.into_inner().id, *anime_id, written, None));
                        writes += 1;
                    } else {
                        let Some(slot) = acknowledged.get_mut(index) else {
                            break 'writing;
                        };
                        slot.3 = Some(written.clone());
                        // Ok is the contract's 200.
                        let patched = client
                            .list_entry_update()
                            .entry_id(slot.0)
                            .body(patch().notes(notes(&written)))
                            .send()
                            .await;
                        match patched {
                            Ok(_) => {
                                slot.2 = written;
                                slot.3 = None;
                                writes += 1;
                            }
                            Err(_) => break 'writing,
                        }
                    }
                }
            }
            (acknowledged, writes)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = server.pid().expect("pid");
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill -9");
    let mut acknowledged = Vec::new();
    let mut writes = 0;
    for worker in workers {
        let (entries, acked) = worker.await.expect("worker");
        acknowledged.extend(entries);
        writes += acked;
    }
    let _ = server.terminate(Duration::from_secs(5)).await;

    let stored = env.psql_value(
        "SELECT concat_ws(E'\\t', id, anime_id, status, coalesce(notes, '')) FROM list_entries",
    );
    let rows: Vec<(i64, i64, String, String)> = stored
        .lines()
        .filter_map(|line| {
            let parts: Vec<&str> = line.splitn(4, '\t').collect();
            Some((
                parts.first()?.parse().ok()?,
                parts.get(1)?.parse().ok()?,
                parts.get(2)?.to_string(),
                // Empty notes end the last line in a tab, which
                // psql_value trims.
                parts.get(3).copied().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    assert!(
        acknowledged.len() > 10,
        "the loop wrote before the kill ({} entries)",
        acknowledged.len()
    );
    let in_flight = acknowledged.iter().filter(|a| a.3.is_some()).count();
    assert!(
        in_flight > 0,
        "the kill came after the write loop ended; nothing was in flight"
    );
    for (id, anime_id, notes, pending) in &acknowledged {
        let row = rows
            .iter()
            .find(|r| r.0 == *id)
            .unwrap_or_else(|| panic!("acknowledged entry {id} is missing"));
        assert_eq!(row.1, *anime_id, "entry {id}");
        // The acknowledged write, or the one in flight when the server died.
        assert!(
            row.3 == *notes || Some(&row.3) == pending.as_ref(),
            "entry {id}: acknowledged {notes:?}, in flight {pending:?}, stored {:?}",
            row.3
        );
    }
    // No half-written entry: every row carries all it was written with.
    for row in &rows {
        assert_eq!(row.2, "watching", "{row:?}");
        assert!(row.3.starts_with("write "), "{row:?}");
    }
    println!(
        "fault: kill -9 during a write loop: {writes} writes acknowledged ({} adds, the rest updates), all found; \
         {in_flight} were in flight at the kill; {} rows stored, none partial",
        acknowledged.len(),
        rows.len()
    );
}

#[tokio::test]
async fn instances_starting_at_once_on_a_fresh_database_all_serve() {
    // The first instance to start makes the shared cookie-signing key; the
    // others, starting while it does, must read that one, not fail.
    let url = tokio::task::spawn_blocking(|| {
        anitrack_conformance::harness::fresh_database(Catalog::Empty)
    })
    .await
    .expect("join")
    .expect("database");
    // Deterministic: another starter's insert of the key is held
    // uncommitted while these start, so their inserts wait for it and then
    // find the row taken.
    let holder = Psql::new(&url)
        .expect("psql")
        .command(
            "BEGIN; INSERT INTO server_secrets (name, secret) \
             VALUES ('cookie-hmac', decode(repeat('ab', 32), 'hex')); \
             SELECT pg_sleep(2); COMMIT;",
        )
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("psql");
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Lock waits longer than the holder's sleep (the default is 1 s).
    let starts = (0..2).map(|_| Server::start(&url, &[("ANITRACK_DB_LOCK_TIMEOUT_MS", "10000")]));
    let servers = futures_util::future::join_all(starts).await;
    let held = tokio::task::spawn_blocking(move || holder.wait_with_output())
        .await
        .expect("join")
        .expect("psql");
    assert!(held.status.success());
    for (n, server) in servers.iter().enumerate() {
        let server = server
            .as_ref()
            .unwrap_or_else(|e| panic!("instance {n} did not start: {e:#}"));
        let ready = reqwest::get(format!("{}/ready", server.base_url()))
            .await
            .expect("ready");
        assert_eq!(ready.status().as_u16(), 200, "instance {n}");
    }
}
