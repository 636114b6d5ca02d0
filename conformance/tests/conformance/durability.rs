//! What a crash of PostgreSQL may cost (docs/reliability.md, "Bookkeeping
//! off the WAL"): the rate-limit windows are bookkeeping in an unlogged
//! table, so a crash starts them over; tokens, revocations and list
//! entries are user data and survive it.

use std::time::Duration;

use anitrack_client::types::ListStatus;
use anitrack_conformance::harness::{Catalog, run_server_cli};
use anitrack_conformance::pg::PgCluster;
use anitrack_conformance::world::new_entry;

use crate::support::{TestEnv, head};

/// A small per-token limit, so a window can be filled in a few requests.
const FIVE_A_MINUTE: (&str, &str) = ("ANITRACK_RATE_LIMIT_PER_MINUTE", "5");

fn remaining(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

#[tokio::test]
async fn the_rate_limit_table_writes_no_wal() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    // 'u': unlogged. A logged table here would make every authenticated
    // read wait for a WAL flush on a durable database.
    assert_eq!(
        env.psql_value("SELECT relpersistence FROM pg_class WHERE relname = 'rate_limits'"),
        "u"
    );
}

#[tokio::test]
async fn a_database_crash_starts_windows_over_and_keeps_every_acknowledged_write() {
    // A durable cluster of its own: this test crashes it.
    let mut cluster = tokio::task::spawn_blocking(PgCluster::start_temporary_durable)
        .await
        .expect("join")
        .expect("cluster");
    cluster.create_database("crash", None).expect("database");
    let url = cluster.url("crash");
    let setup = url.clone();
    let catalog = anitrack_conformance::harness::demo_catalog();
    tokio::task::spawn_blocking(move || {
        run_server_cli(&setup, &["migrate"])?;
        run_server_cli(
            &setup,
            &["catalog", "import", &catalog.display().to_string()],
        )
    })
    .await
    .expect("join")
    .expect("migrate and import");
    let env = TestEnv::start_on(url, &[FIVE_A_MINUTE]).await;
    let kept = env.user_with_token("kept@example.test").await;
    let revoked = env.mint_token("kept@example.test", "to revoke").await;

    // Acknowledged before the crash: an entry and a revocation; counted:
    // four of the kept token's five requests a minute.
    let client = env.client(&kept);
    let anime = client
        .anime_list()
        .limit(1)
        .send()
        .await
        .expect("catalog")
        .into_inner()
        .data[0]
        .id;
    let entry = client
        .list_entry_create()
        .body(new_entry(anime, ListStatus::Watching))
        .send()
        .await
        .expect("201")
        .into_inner();
    let revoking = env.client(&revoked);
    assert_eq!(head(&revoking.token_revoke_current().send().await).0, 204);
    // The catalog read and the creation above were its first two hits.
    for left in ["2", "1"] {
        let read = client.user_view().send().await;
        assert_eq!(remaining(head(&read).1).as_deref(), Some(left));
    }

    let mut cluster = tokio::task::spawn_blocking(move || {
        cluster.kill_9().expect("kill -9");
        cluster.restart().expect("recovery");
        cluster
    })
    .await
    .expect("join");

    // The same server process finds the recovered database.
    let mut answer = None;
    for _ in 0..100 {
        let got = client.user_view().send().await;
        if head(&got).0 != 503 {
            answer = Some(got);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = answer.expect("the server answers again after recovery");
    let (status, headers) = head(&answer);
    assert_eq!(status, 200);
    assert_eq!(
        remaining(headers).as_deref(),
        Some("4"),
        "the crash emptied the window: this request is a fresh one's first"
    );

    let found = client
        .list_entry_for_anime()
        .anime_id(anime)
        .send()
        .await
        .expect("the acknowledged entry survived the crash")
        .into_inner();
    assert_eq!(found.id, entry.id);
    assert_eq!(
        head(&revoking.user_view().send().await).0,
        401,
        "the acknowledged revocation survived the crash"
    );
    drop(env);
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .expect("join")
        .expect("stop");
}
