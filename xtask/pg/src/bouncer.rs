//! PgBouncer in front of a cluster: the connection pooler operators put
//! between many application processes and PostgreSQL, here in transaction
//! pooling mode (a server connection is lent to a client for one
//! transaction at a time, so nothing session-scoped survives between two).
//!
//! Layout of a private directory (temporary, deleted on drop, owned by the
//! `postgres` user when we are root, since PgBouncer refuses to run as
//! root): `pgbouncer.ini`, `userlist.txt` (the auth file), `pgbouncer.log`
//! (its standard error). It listens on TCP `127.0.0.1:<port>` only.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;

use crate::binaries::is_executable;
use crate::os_user::server_os_user;
use crate::port::answers_select_1;
use crate::process::{read_log_from, server_user_command};
use crate::{Psql, SUPERUSER, free_loopback_port};

/// Where Debian's `pgbouncer` package puts the binary (not on an ordinary
/// user's `PATH`).
const DEBIAN_BINARY: &str = "/usr/sbin/pgbouncer";
const START_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
const PORT_ATTEMPTS: usize = 5;

/// PgBouncer's settings that decide how a failover looks to its clients.
/// Times are whole seconds (what PgBouncer 1.18 reads reliably).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BouncerOptions {
    /// `default_pool_size`: server connections per database and user.
    pub pool_size: u32,
    /// `query_wait_timeout`: longest a client's query waits for a server
    /// connection before PgBouncer drops the client. Its default, 120 s,
    /// is a hang to an application whose server is gone: the clients
    /// queued when the first reconnection fails wait this long (later ones
    /// are failed at once, see `server_login_retry`).
    pub query_wait_timeout_s: u32,
    /// `server_connect_timeout`: a server's TCP connect and login.
    pub server_connect_timeout_s: u32,
    /// `server_login_retry`: after a failed server connect, how long
    /// PgBouncer waits before trying again; meanwhile it fails new clients
    /// at once ("server login has been failing").
    pub server_login_retry_s: u32,
}

impl Default for BouncerOptions {
    fn default() -> Self {
        BouncerOptions {
            pool_size: 20,
            query_wait_timeout_s: 2,
            server_connect_timeout_s: 2,
            server_login_retry_s: 1,
        }
    }
}

/// A running PgBouncer; dropping it stops it and deletes its directory.
#[derive(Debug)]
pub struct PgBouncer {
    child: Option<Child>,
    port: u16,
    upstream_port: u16,
    log_file: PathBuf,
    config_file: PathBuf,
    /// Declared last: removed after `Drop::drop` stopped the process.
    dir: TempDir,
}

impl PgBouncer {
    /// The `pgbouncer` binary: on `PATH`, else Debian's `/usr/sbin/pgbouncer`.
    pub fn binary() -> Result<PathBuf> {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .map(|dir| dir.join("pgbouncer"))
            .chain(std::iter::once(PathBuf::from(DEBIAN_BINARY)))
            .find(|candidate| is_executable(candidate))
            .ok_or_else(|| {
                anyhow!(
                    "pgbouncer was found neither on PATH nor at {DEBIAN_BINARY}; install it \
                     with `apt-get install pgbouncer`"
                )
            })
    }

    /// PgBouncer in transaction pooling mode on a free loopback port, in
    /// front of the PostgreSQL on `127.0.0.1:<upstream_port>` (every
    /// database name is passed through), clients of the superuser admitted
    /// without a password (`auth_type = trust`, as the clusters of this
    /// crate trust loopback). Returns once a query through it has
    /// succeeded, which also gives PgBouncer the server's parameters, so
    /// later logins no longer need a server connection.
    pub fn start(upstream_port: u16, options: &BouncerOptions) -> Result<PgBouncer> {
        let program = Self::binary()?;
        let run_as = server_os_user()?;
        let dir = tempfile::Builder::new()
            .prefix("anitrack-pgbouncer-")
            .tempdir()
            .context("failed to create a directory for PgBouncer")?;
        let auth_file = dir.path().join("userlist.txt");
        let log_file = dir.path().join("pgbouncer.log");
        let config_file = dir.path().join("pgbouncer.ini");
        fs::write(&auth_file, format!("\"{SUPERUSER}\" \"\"\n"))
            .with_context(|| format!("failed to write {}", auth_file.display()))?;
        if let Some(run_as) = run_as {
            run_as.chown(dir.path())?;
            run_as.chown(&auth_file)?;
        }
        let mut bouncer = PgBouncer {
            child: None,
            port: 0,
            upstream_port,
            log_file,
            config_file,
            dir,
        };
        let mut attempt = 1;
        loop {
            bouncer.port = free_loopback_port()?;
            let config = config_text(bouncer.port, upstream_port, &auth_file, options);
            fs::write(&bouncer.config_file, config)
                .with_context(|| format!("failed to write {}", bouncer.config_file.display()))?;
            let log_offset = fs::metadata(&bouncer.log_file)
                .map(|m| m.len())
                .unwrap_or(0);
            let log = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&bouncer.log_file)
                .with_context(|| format!("failed to open {}", bouncer.log_file.display()))?;
            let mut cmd = server_user_command(&program, run_as, bouncer.dir.path());
            cmd.arg(&bouncer.config_file)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            bouncer.child = Some(
                cmd.spawn()
                    .with_context(|| format!("failed to start {}", program.display()))?,
            );
            match bouncer.wait_until_ready() {
                Ok(()) => return Ok(bouncer),
                Err(error) => {
                    bouncer.stop()?;
                    let log = read_log_from(&bouncer.log_file, log_offset);
                    if log.contains("Address already in use") && attempt < PORT_ATTEMPTS {
                        attempt += 1;
                        continue;
                    }
                    bail!("{error:#}\n--- PgBouncer's log ---\n{}", log.trim_end());
                }
            }
        }
    }

    fn wait_until_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let psql = Psql::new(self.url("postgres"))?;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("pgbouncer exited with {status} before it accepted connections");
            }
            match answers_select_1(self.port, &psql) {
                Ok(_) => return Ok(()),
                Err(error) if Instant::now() >= deadline => {
                    return Err(error.context(format!(
                        "PgBouncer on 127.0.0.1:{} did not pass a query to 127.0.0.1:{} \
                         within {} s",
                        self.port,
                        self.upstream_port,
                        START_TIMEOUT.as_secs()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The port clients connect to (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the PostgreSQL it pools connections to.
    pub fn upstream_port(&self) -> u16 {
        self.upstream_port
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>` (no TLS: PgBouncer
    /// and the cluster talk plain TCP on loopback).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// PgBouncer's log (its standard error).
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The configuration it runs with.
    pub fn config_file(&self) -> &Path {
        &self.config_file
    }

    /// SIGTERM (PgBouncer's immediate shutdown), then SIGKILL if it has not
    /// exited within 5 s. Does nothing once stopped.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        // std sends only SIGKILL; `kill` sends what PgBouncer shuts down on.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .output();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().context("killing pgbouncer")?;
        child.wait().context("waiting for pgbouncer")?;
        Ok(())
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// `pgbouncer.ini`: transaction pooling, loopback only, no Unix socket.
fn config_text(
    port: u16,
    upstream_port: u16,
    auth_file: &Path,
    options: &BouncerOptions,
) -> String {
    format!(
        "; Written by anitrack-pg (xtask/pg).\n\
         [databases]\n\
         * = host=127.0.0.1 port={upstream_port}\n\
         \n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = trust\n\
         auth_file = {auth_file}\n\
         admin_users = {SUPERUSER}\n\
         pool_mode = transaction\n\
         max_client_conn = 1000\n\
         default_pool_size = {pool_size}\n\
         query_wait_timeout = {query_wait}\n\
         server_connect_timeout = {connect}\n\
         server_login_retry = {retry}\n\
         log_connections = 0\n",
        auth_file = auth_file.display(),
        pool_size = options.pool_size,
        query_wait = options.query_wait_timeout_s,
        connect = options.server_connect_timeout_s,
        retry = options.server_login_retry_s,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PgCluster;

    #[test]
    fn the_config_pools_transactions_on_loopback() {
        let text = config_text(
            6432,
            5432,
            Path::new("/x/userlist.txt"),
            &BouncerOptions::default(),
        );
        for line in [
            "* = host=127.0.0.1 port=5432",
            "listen_addr = 127.0.0.1",
            "listen_port = 6432",
            "pool_mode = transaction",
            "auth_file = /x/userlist.txt",
            "query_wait_timeout = 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    /// Two clients one after the other share the one server connection
    /// (pooling), and queries pass again once the server behind it was
    /// restarted.
    #[test]
    fn a_bouncer_in_front_of_a_cluster() {
        if PgBouncer::binary().is_err() {
            eprintln!("skipped: no pgbouncer here");
            return;
        }
        let mut pg = PgCluster::start_temporary().unwrap();
        let bouncer = PgBouncer::start(
            pg.port(),
            &BouncerOptions {
                pool_size: 1,
                ..BouncerOptions::default()
            },
        )
        .unwrap();
        assert_ne!(bouncer.port(), pg.port());
        let through = Psql::new(bouncer.url("postgres")).unwrap();
        assert_eq!(
            through.value("select current_setting('port')").unwrap(),
            pg.port().to_string()
        );
        // One server connection, two clients: the backend pid is shared.
        let a = through.value("select pg_backend_pid()").unwrap();
        let b = through.value("select pg_backend_pid()").unwrap();
        assert_eq!(a, b);
        pg.restart().unwrap();
        let mut served = false;
        for _ in 0..100 {
            if through.value("select 1").is_ok_and(|v| v == "1") {
                served = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(served, "{}", read_log_from(bouncer.log_file(), 0));
    }
}
