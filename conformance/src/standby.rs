//! A primary with streaming standbys, for the tests of catalog reads from
//! a replica (`--db-replica-url`).
//!
//! Not the shared cluster of [`crate::harness`]: a standby copies its whole
//! primary (`pg_basebackup`), and the shared one holds a database per test
//! of the run. This primary is a small cluster of the test process's own,
//! made once (migrated, the demo catalog imported, in one template
//! database); each test gets a database cloned from the template and a
//! standby of its own, which it may pause, freeze or kill without touching
//! another test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context as _, Result};

use anitrack_pg::PgCluster;

use crate::harness::{demo_catalog, run_server_cli};

const TEMPLATE: &str = "replica_template";

static PRIMARY: OnceLock<Result<PgCluster, String>> = OnceLock::new();
static CLONE_LOCK: Mutex<()> = Mutex::new(());
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The process's primary: a throwaway cluster (stopped when the process
/// exits) with the template database.
fn primary() -> Result<&'static PgCluster> {
    PRIMARY
        .get_or_init(|| start_primary().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("the replicated primary did not start: {e}"))
}

fn start_primary() -> Result<PgCluster> {
    let cluster = PgCluster::start_temporary()?;
    cluster.stop_when_this_process_exits()?;
    // Standbys are made at once by tests running together, each
    // `pg_basebackup` forcing a checkpoint; without WAL kept back, one
    // checkpoint can recycle the segment another copy (or a new standby
    // about to stream) still needs ("requested WAL segment ... has already
    // been removed", seen with four at once).
    cluster
        .sql("postgres")?
        .run("ALTER SYSTEM SET wal_keep_size = '512MB';\nSELECT pg_reload_conf();")?;
    cluster.create_database(TEMPLATE, None)?;
    let url = cluster.url(TEMPLATE);
    run_server_cli(&url, &["migrate"])?;
    let demo = demo_catalog();
    run_server_cli(&url, &["catalog", "import", &demo.to_string_lossy()])?;
    Ok(cluster)
}

/// A fresh database with the demo catalog on a primary, and a streaming
/// standby of that primary made after it (so it has the database),
/// stopped and deleted when dropped.
pub struct Replicated {
    /// The database's name, the same on both.
    pub database: String,
    /// Shared by the process's tests: never paused, frozen or stopped.
    pub primary: &'static PgCluster,
    pub standby: PgCluster,
}

impl Replicated {
    /// Blocking (`initdb` the first time, `pg_basebackup` every time): call
    /// it from `tokio::task::spawn_blocking`.
    pub fn start() -> Result<Replicated> {
        let primary = primary()?;
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let database = format!("replica_t{}_{n}", std::process::id());
        {
            // CREATE DATABASE ... TEMPLATE refuses while another clone copies it.
            let _guard = CLONE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            primary.create_database(&database, Some(TEMPLATE))?;
        }
        let standby = primary
            .start_temporary_standby(&format!("standby_{n}"))
            .context("starting a standby of the replicated primary")?;
        Ok(Replicated {
            database,
            primary,
            standby,
        })
    }

    /// The primary's connection URL for the database.
    pub fn primary_url(&self) -> String {
        self.primary.url(&self.database)
    }

    /// The standby's connection URL for the database.
    pub fn standby_url(&self) -> String {
        self.standby.url(&self.database)
    }
}
