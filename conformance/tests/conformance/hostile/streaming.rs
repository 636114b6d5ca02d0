//! A client that reads the head of a big `GET /list` and stops: the server
//! holds a small, fixed buffer for it, cuts the transfer after the stall
//! timeout and gives the database connection back.

use std::time::{Duration, Instant};

use anitrack_conformance::harness::Catalog;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::TestEnv;

/// The server's resident memory, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

#[tokio::test]
async fn a_client_that_stops_reading_a_big_list_is_cut_and_frees_its_connection() {
    let env = TestEnv::start_configured(
        Catalog::Empty,
        &[
            ("ANITRACK_STREAM_STALL_TIMEOUT_MS", "2000"),
            // One connection for streams, so a stream still holding its
            // connection would keep the next list waiting.
            ("ANITRACK_DB_POOL_SIZE", "2"),
        ],
    )
    .await;
    let token = env.user_with_token("hoarder@example.test").await;
    // 6,000 entries with 2,000-character notes: a body of about 14 MB.
    env.psql(
        "INSERT INTO anime (anilist_id, slug, title, search_text, source_hash) \
         SELECT 5000000 + g, 'bulk-' || g, 'Bulk ' || g, 'bulk ' || g, '\\x00' \
         FROM generate_series(1, 6000) g; \
         INSERT INTO list_entries (account_id, anime_id, status, notes) \
         SELECT a.id, n.id, 'watching', repeat('n', 2000) \
         FROM accounts a, anime n WHERE n.anilist_id > 5000000",
    );
    let pid = env.server.pid().expect("server pid");
    let before = rss_bytes(pid);

    // A client with a tiny receive window reads the head and stops.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream = socket.connect(env.server.addr).await.expect("connect");
    let request = format!(
        "GET /api/v1/list HTTP/1.1\r\nHost: anitrack\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut head = vec![0u8; 4096];
    let read = stream.read(&mut head).await.expect("read");
    let head = String::from_utf8_lossy(&head[..read]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // While it does not read, the server holds a fixed buffer, not the list.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let held = rss_bytes(pid).saturating_sub(before);
    println!(
        "hostile: a stalled 14 MB list grew the server by {} KiB",
        held / 1024
    );
    assert!(
        held < 6 * 1024 * 1024,
        "the server holds {held} bytes for one stalled client"
    );

    // After the stall timeout the transfer is cut and the log says so.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !env
        .server
        .log_text()
        .contains("stopped reading; transfer cut")
    {
        assert!(
            Instant::now() < deadline,
            "never cut:\n{}",
            env.server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its connection is back: another list is served at once.
    let other = env.user_with_token("reader@example.test").await;
    let response = env
        .http
        .get(env.url("/api/v1/list"))
        .bearer_auth(&other)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("another list");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.expect("body"), "{\"data\":[]}");

    // The stalled client, reading again, gets a broken transfer, never a
    // complete document.
    let mut rest = Vec::new();
    let outcome =
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest)).await;
    let body = String::from_utf8_lossy(&rest);
    assert!(outcome.is_ok(), "the cut connection ends");
    assert!(
        !body.ends_with("0\r\n\r\n"),
        "the chunked body has no clean end"
    );
}
