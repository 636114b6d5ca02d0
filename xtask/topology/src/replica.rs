//! The instances' catalog reads from the standby (`--db-replica-url`, the
//! standby's PgBouncer): served there before the kill, and still answered
//! (from the new primary) once the standby is promoted and the replica URL
//! names a primary. What the instances did is read from their logs: each
//! catalog request's line says where it read (`read_from`), and each
//! change of the replica's state is a line of its own.

use std::time::{Duration, Instant};

use anitrack_conformance::harness::Server;
use anyhow::{Result, bail};

use crate::api::Api;

/// Longest an instance may take to read from the replica after the flows.
const REPLICA_DEADLINE: Duration = Duration::from_secs(10);
/// The catalog read the check makes.
pub const CATALOG_READ: &str = "/api/v1/anime?q=steins";
/// The replica's state lines, by the words that start their message.
const STATES: [(&str, &str); 4] = [
    ("replica up:", "up"),
    ("replica lagging:", "lagging"),
    ("replica down:", "down"),
    ("replica is not a standby", "not a standby"),
];

/// One instance's catalog reads, from its log.
#[derive(Debug, Default, Clone)]
pub struct ReplicaFigures {
    /// Catalog reads served by the replica before the kill.
    pub reads_before_kill: usize,
    /// The replica's state changes, in order, over the whole run.
    pub states: Vec<&'static str>,
    /// Where the last catalog read (after the failover) read.
    pub last_read_from: Option<String>,
}

impl ReplicaFigures {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "catalog_reads_from_replica_before_kill": self.reads_before_kill,
            "replica_states": self.states,
            "last_catalog_read_from": self.last_read_from,
        })
    }
}

/// Catalog requests an instance's log says were read from the replica.
pub fn reads_from_replica(log: &str) -> usize {
    log.lines()
        .filter(|line| line.contains("read_from=replica}") && line.contains("request completed"))
        .count()
}

/// Where the instance's last catalog request read.
pub fn last_read_from(log: &str) -> Option<&str> {
    log.lines().rev().find_map(|line| {
        let (_, rest) = line.split_once("read_from=")?;
        rest.split_once('}').map(|(source, _)| source)
    })
}

/// The replica's state changes in an instance's log, in order.
pub fn states(log: &str) -> Vec<&'static str> {
    log.lines()
        .filter(|line| line.contains("anitrack_server::db::replica"))
        .filter_map(|line| {
            STATES
                .iter()
                .find(|(words, _)| line.contains(words))
                .map(|(_, state)| *state)
        })
        .collect()
}

/// Reads the catalog on `api` until its log shows a read from the replica
/// (the flows' reads may have come before the replica's first check);
/// returns how many it shows.
pub async fn until_read_from_replica(api: &Api, token: &str, server: &Server) -> Result<usize> {
    let deadline = Instant::now() + REPLICA_DEADLINE;
    loop {
        let served = reads_from_replica(&server.log_text());
        if served > 0 {
            return Ok(served);
        }
        if Instant::now() > deadline {
            bail!(
                "no catalog read from the replica within {REPLICA_DEADLINE:?} on {} (replica \
                 states logged: {:?})",
                api.base(),
                states(&server.log_text())
            );
        }
        api.get(CATALOG_READ, Some(token))
            .await
            .into_json("GET /anime (before the kill)", 200)?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2026-11-30T18:00:00Z  INFO anitrack_server::db::replica: replica up: catalog reads go to the replica max_lag_ms=5000
2026-11-30T18:00:01Z  INFO request{request_id=1 read_from=replica}: anitrack_server::request: request completed method=GET path=/api/v1/anime status=200
2026-11-30T18:00:02Z  INFO request{request_id=2}: anitrack_server::request: request completed method=GET path=/api/v1/user status=200
2026-11-30T18:00:03Z  WARN anitrack_server::db::replica: replica is not a standby of the primary: catalog reads go to the primary reason=it is not in recovery
2026-11-30T18:00:04Z  INFO request{request_id=3 read_from=primary (replica not a standby of the primary)}: anitrack_server::request: request completed method=GET path=/api/v1/anime status=200
";

    #[test]
    fn the_log_says_where_catalog_reads_went() {
        assert_eq!(reads_from_replica(LOG), 1);
        assert_eq!(
            last_read_from(LOG),
            Some("primary (replica not a standby of the primary)")
        );
        assert_eq!(states(LOG), ["up", "not a standby"]);
    }
}
