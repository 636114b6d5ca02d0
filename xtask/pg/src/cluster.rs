//! A private PostgreSQL cluster.
//!
//! Layout of a cluster whose data directory is `<base>/data`:
//!
//! * `<base>/data` — the data directory (owned by the user the server runs as);
//! * `<base>/postgres.log` — server log (`pg_ctl -l`), appended across starts.
//!
//! A cluster from [`PgCluster::start_temporary_tls`] also has
//! `<base>/ca.crt` (the CA a verifying client trusts) and, in the data
//! directory, `server.crt`/`server.key` for the name `localhost` (see
//! `tls.rs`); it accepts TLS connections only.
//!
//! The server only listens on TCP `127.0.0.1:<port>`; Unix-domain sockets are
//! disabled (`unix_socket_directories = ''`) so that long data-directory paths
//! cannot exceed the ~107 byte socket path limit and no socket directory needs
//! special permissions. All clients (`psql`, readiness checks) use TCP.

mod control;
mod replication;
mod setup;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tempfile::TempDir;

use crate::os_user::{RunAs, server_os_user};
use crate::sql::validate_name;
use crate::{PgBinaries, Psql, SUPERUSER, free_loopback_port};

const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often to retry with a new port when a picked free port got taken by
/// someone else between `free_loopback_port` and the server binding it.
const PORT_ATTEMPTS: usize = 5;

/// How to start a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// Data directory; `initdb` runs if it has no `PG_VERSION`. Its parent
    /// receives `postgres.log`.
    pub data_dir: PathBuf,
    /// `false` sets `fsync`, `synchronous_commit` and `full_page_writes` off:
    /// much faster, and a crash may lose or corrupt data, which is fine for
    /// tests.
    pub durable: bool,
    /// `None` picks a free loopback port (and retries with another one if it
    /// got taken before the server could bind it).
    pub port: Option<u16>,
}

/// A running (or stopped) PostgreSQL cluster. Dropping it stops the server
/// and, for [`PgCluster::start_temporary`], deletes its directory.
#[derive(Debug)]
pub struct PgCluster {
    bins: PgBinaries,
    data_dir: PathBuf,
    log_file: PathBuf,
    port: u16,
    durable: bool,
    /// `Some` when we are root and the server binaries run as `postgres`.
    run_as: Option<RunAs>,
    /// For a TLS-only cluster, the CA file that vouches for its certificate.
    tls_ca_file: Option<PathBuf>,
    /// Lines appended to the settings file rewritten before every start
    /// (a standby's `primary_conninfo`).
    extra_settings: String,
    /// Whether we started the server and have not stopped it yet.
    running: bool,
    /// Declared last so that it is removed after `Drop::drop` stopped the
    /// server.
    temp_dir: Option<TempDir>,
}

impl PgCluster {
    /// `initdb` if `data_dir` has no `PG_VERSION` (superuser "postgres", auth
    /// trust on 127.0.0.1 only, encoding UTF8, locale C), then start it with
    /// `pg_ctl` on `127.0.0.1:<port>` (`listen_addresses=127.0.0.1`,
    /// `max_connections=200`, Unix sockets disabled), logging to
    /// `<data_dir>/../postgres.log`. Waits up to 30 s until `select 1`
    /// succeeds; errors include the last 40 lines of the log.
    ///
    /// A server left running on `data_dir` by a previous run is stopped first;
    /// a stale `postmaster.pid` whose process is gone is removed.
    pub fn start(options: ClusterOptions) -> Result<PgCluster> {
        Self::start_inner(options, None, false, String::new())
    }

    /// A throwaway, non-durable cluster in a fresh temporary directory that is
    /// deleted when the returned value is dropped.
    pub fn start_temporary() -> Result<PgCluster> {
        Self::temporary(false, false)
    }

    /// Like [`PgCluster::start_temporary`], but durable (`fsync`,
    /// `synchronous_commit` and `full_page_writes` on): what a primary with a
    /// synchronous standby needs, since `synchronous_commit = off` would
    /// acknowledge commits before the standby has them.
    pub fn start_temporary_durable() -> Result<PgCluster> {
        Self::temporary(false, true)
    }

    /// Like [`PgCluster::start_temporary`], but the server speaks TLS with a
    /// certificate for `localhost` only, signed by a fresh CA
    /// ([`PgCluster::tls_ca_file`]), and its `pg_hba.conf` rejects every
    /// connection that is not TLS: a client that gets in used TLS.
    pub fn start_temporary_tls() -> Result<PgCluster> {
        Self::temporary(true, false)
    }

    fn temporary(tls: bool, durable: bool) -> Result<PgCluster> {
        let temp_dir = Self::temporary_dir()?;
        let options = ClusterOptions {
            data_dir: temp_dir.path().join("data"),
            durable,
            port: None,
        };
        Self::start_inner(options, Some(temp_dir), tls, String::new())
    }

    /// A fresh directory for a throwaway cluster, owned by the server user.
    fn temporary_dir() -> Result<TempDir> {
        // The system's temporary directory, never the clone: as root the
        // server runs as `postgres`, which must enter every directory above
        // its data, and a clone may sit under a mode-700 home.
        let temp_dir = tempfile::Builder::new()
            .prefix("anitrack-pg-")
            .tempdir()
            .context("failed to create a temporary directory for PostgreSQL")?;
        if let Some(run_as) = server_os_user()? {
            // tempfile creates the directory 0700 root-owned; the server user
            // has to be able to enter it and create postgres.log in it.
            run_as.chown(temp_dir.path())?;
        }
        Ok(temp_dir)
    }

    fn start_inner(
        options: ClusterOptions,
        temp_dir: Option<TempDir>,
        tls: bool,
        extra_settings: String,
    ) -> Result<PgCluster> {
        let bins = PgBinaries::find()?;
        let run_as = server_os_user()?;
        let data_dir = std::path::absolute(&options.data_dir)
            .with_context(|| format!("invalid data directory {}", options.data_dir.display()))?;
        let base_dir = data_dir
            .parent()
            .with_context(|| format!("data directory {} has no parent", data_dir.display()))?
            .to_path_buf();
        let mut cluster = PgCluster {
            bins,
            log_file: base_dir.join("postgres.log"),
            data_dir,
            port: options.port.unwrap_or(0),
            durable: options.durable,
            run_as,
            tls_ca_file: tls.then(|| base_dir.join("ca.crt")),
            extra_settings,
            running: false,
            temp_dir,
        };
        cluster.prepare(&base_dir)?;
        cluster.take_over_previous_server()?;
        let deadline = Instant::now() + START_TIMEOUT;
        match options.port {
            Some(port) => {
                cluster.port = port;
                cluster.try_start(deadline).map_err(|e| e.error)?;
            }
            None => {
                let mut attempt = 1;
                loop {
                    cluster.port = free_loopback_port()?;
                    match cluster.try_start(deadline) {
                        Ok(()) => break,
                        Err(e) if e.port_in_use && attempt < PORT_ATTEMPTS => attempt += 1,
                        Err(e) => return Err(e.error),
                    }
                }
            }
        }
        Ok(cluster)
    }

    /// TCP port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log (`<data_dir>/../postgres.log`).
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The PEM file of the CA that signed the server's certificate, for a
    /// cluster from [`PgCluster::start_temporary_tls`].
    pub fn tls_ca_file(&self) -> Option<&Path> {
        self.tls_ca_file.as_deref()
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>` (trust auth, no
    /// password).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// [`Psql`] on `database` as the superuser. Names must match
    /// `[a-z0-9_]{1,63}`.
    pub fn sql(&self, database: &str) -> Result<Psql> {
        validate_name("database name", database)?;
        Ok(Psql::with_binaries(&self.bins, self.url(database)))
    }

    /// `CREATE DATABASE "<name>" [TEMPLATE "<template>"]`. Names must match
    /// `[a-z0-9_]{1,63}` so they never need escaping. The template must have
    /// no open connections.
    pub fn create_database(&self, name: &str, template: Option<&str>) -> Result<()> {
        validate_name("database name", name)?;
        let mut sql = format!("CREATE DATABASE \"{name}\"");
        if let Some(template) = template {
            validate_name("template database name", template)?;
            sql.push_str(&format!(" TEMPLATE \"{template}\""));
        }
        self.sql("postgres")?.run(&sql)?;
        Ok(())
    }

    /// `pg_ctl stop -m fast -w`. Does nothing if the server is not running
    /// (already stopped, or it died on its own).
    pub fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        match self.pg_ctl_stop("fast") {
            Ok(()) => {
                self.running = false;
                Ok(())
            }
            Err(_) if !self.server_alive() => {
                self.running = false;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Starts the server again on the same data directory and port (stopping
    /// it first if it is running), for tests that take the database away and
    /// bring it back.
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.take_over_previous_server()?;
        self.try_start(Instant::now() + START_TIMEOUT)
            .map_err(|e| e.error)
    }

    /// For a cluster kept in a `static` (never dropped): a small watchdog
    /// process stops the server once this process is gone, and removes
    /// the directory of a temporary cluster.
    pub fn stop_when_this_process_exits(&self) -> Result<()> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let text = std::fs::read_to_string(&pid_file)
            .with_context(|| format!("reading {}", pid_file.display()))?;
        let postmaster: u32 = text
            .lines()
            .next()
            .and_then(|line| line.trim().parse().ok())
            .with_context(|| format!("no pid in {}", pid_file.display()))?;
        let remove = match self.temp_dir.as_ref() {
            Some(dir) => format!("rm -rf '{}'", dir.path().display()),
            None => "true".to_owned(),
        };
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill -INT {postmaster} 2>/dev/null; \
             for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 {postmaster} 2>/dev/null || break; sleep 0.5; done; \
             {remove}",
            me = std::process::id(),
        );
        std::process::Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the cluster watchdog")?;
        Ok(())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
