//! A private PostgreSQL cluster for tests and for the dev command.
//!
//! Everything here is synchronous (`std::process`); call it from
//! `tokio::task::spawn_blocking` if you are inside an async runtime and care
//! about not blocking a worker for the second or two `initdb` takes.
//!
//! Layout of a cluster whose data directory is `<base>/data`:
//!
//! * `<base>/data` — the data directory (owned by the user the server runs as);
//! * `<base>/postgres.log` — server log (`pg_ctl -l`), appended across starts.
//!
//! A cluster from [`PgCluster::start_temporary_tls`] also has
//! `<base>/ca.crt` (the CA a verifying client trusts) and, in the data
//! directory, `server.crt`/`server.key` for the name `localhost` (see
//! `pg_tls.rs`); it accepts TLS connections only.
//!
//! The server only listens on TCP `127.0.0.1:<port>`; Unix-domain sockets are
//! disabled (`unix_socket_directories = ''`) so that long data-directory paths
//! cannot exceed the ~107 byte socket path limit and no socket directory needs
//! special permissions. All clients (`psql`, readiness checks) use TCP.
//!
//! `initdb`, `postgres` and `pg_ctl` refuse to run as root. When the effective
//! uid is 0 they are run as the `postgres` system user (uid/gid taken from
//! `/etc/passwd`) and the directories we create are chowned to that user. The
//! client `psql` runs as the current user; it only talks TCP.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;

/// Binaries a cluster needs; a directory qualifies only if it has all of them.
const REQUIRED_BINARIES: [&str; 4] = ["initdb", "pg_ctl", "postgres", "psql"];
/// Superuser created by `initdb -U`; trust auth, so it has no password.
const SUPERUSER: &str = "postgres";
/// System account the server runs as when we are root.
const SERVER_OS_USER: &str = "postgres";
/// Settings file inside the data directory, included from `postgresql.conf`
/// and rewritten before every start (port and durability may change).
const SETTINGS_FILE: &str = "anitrack-conformance.conf";
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT_SECS: &str = "30";
const LOG_TAIL_LINES: usize = 40;
/// How often to retry with a new port when a picked free port got taken by
/// someone else between `free_loopback_port` and the server binding it.
const PORT_ATTEMPTS: usize = 5;

/// Directory holding the PostgreSQL server binaries (`initdb`, `pg_ctl`,
/// `postgres`, `psql`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    pub bin_dir: PathBuf,
}

impl PgBinaries {
    /// Looks on `PATH` first (resolving symlinks such as
    /// `/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb`, because the
    /// sibling binaries only exist in the real directory), then in
    /// `/usr/lib/postgresql/*/bin`, highest version first.
    pub fn find() -> Result<PgBinaries> {
        let mut candidates = Vec::new();
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                for name in ["initdb", "pg_ctl"] {
                    let exe = dir.join(name);
                    if !is_executable(&exe) {
                        continue;
                    }
                    if let Some(real_dir) = fs::canonicalize(&exe)
                        .ok()
                        .and_then(|real| real.parent().map(Path::to_path_buf))
                    {
                        candidates.push(real_dir);
                    }
                }
            }
        }
        candidates.extend(versioned_bin_dirs(Path::new("/usr/lib/postgresql")));
        candidates
            .into_iter()
            .find(|dir| {
                REQUIRED_BINARIES
                    .iter()
                    .all(|b| is_executable(&dir.join(b)))
            })
            .map(|bin_dir| PgBinaries { bin_dir })
            .ok_or_else(|| {
                anyhow!(
                    "PostgreSQL server binaries ({}) were not found on PATH or under \
                     /usr/lib/postgresql/*/bin; install them with `apt-get install postgresql`",
                    REQUIRED_BINARIES.join(", ")
                )
            })
    }

    fn binary(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }
}

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
    /// Whether we started the server and have not stopped it yet.
    running: bool,
    /// Declared last so that it is removed after `Drop::drop` stopped the
    /// server.
    _temp_dir: Option<TempDir>,
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
        Self::start_inner(options, None, false)
    }

    /// A throwaway, non-durable cluster in a fresh temporary directory that is
    /// deleted when the returned value is dropped.
    pub fn start_temporary() -> Result<PgCluster> {
        Self::temporary(false)
    }

    /// Like [`PgCluster::start_temporary`], but the server speaks TLS with a
    /// certificate for `localhost` only, signed by a fresh CA
    /// ([`PgCluster::tls_ca_file`]), and its `pg_hba.conf` rejects every
    /// connection that is not TLS: a client that gets in used TLS.
    pub fn start_temporary_tls() -> Result<PgCluster> {
        Self::temporary(true)
    }

    fn temporary(tls: bool) -> Result<PgCluster> {
        let temp_dir = tempfile::Builder::new()
            .prefix("anitrack-pg-")
            .tempdir()
            .context("failed to create a temporary directory for PostgreSQL")?;
        if let Some(run_as) = server_os_user()? {
            // tempfile creates the directory 0700 root-owned; the server user
            // has to be able to enter it and create postgres.log in it.
            run_as.chown(temp_dir.path())?;
        }
        let options = ClusterOptions {
            data_dir: temp_dir.path().join("data"),
            durable: false,
            port: None,
        };
        Self::start_inner(options, Some(temp_dir), tls)
    }

    fn start_inner(
        options: ClusterOptions,
        temp_dir: Option<TempDir>,
        tls: bool,
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
            running: false,
            _temp_dir: temp_dir,
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
        self.psql("postgres", &sql)?;
        Ok(())
    }

    /// Runs `sql` (may hold several statements) with `psql -v ON_ERROR_STOP=1`
    /// against `database` and returns stdout. Output is unaligned and
    /// tuples-only (`-A -t`) and command tags are suppressed (`-q`), so
    /// `select 1` returns `"1\n"`. The SQL goes through stdin, so it never
    /// shows up in process listings or error messages.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String> {
        validate_name("database name", database)?;
        let mut cmd = self.client_command("psql");
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", SUPERUSER, "-d", database, "-f", "-"]);
        let output = run_with_stdin(&mut cmd, Some(sql.as_bytes()))?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
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

    /// Creates directories with the right owner, runs `initdb` when needed and
    /// hooks our settings file into `postgresql.conf`.
    fn prepare(&self, base_dir: &Path) -> Result<()> {
        fs::create_dir_all(base_dir)
            .with_context(|| format!("failed to create {}", base_dir.display()))?;
        if !self.data_dir.exists() {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&self.data_dir)
                .with_context(|| format!("failed to create {}", self.data_dir.display()))?;
        }
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .with_context(|| format!("failed to create {}", self.log_file.display()))?;
        if let Some(run_as) = self.run_as {
            run_as.ensure_traversable(base_dir)?;
            run_as.chown_tree_if_needed(&self.data_dir)?;
            run_as.chown(&self.log_file)?;
        }
        if !self.data_dir.join("PG_VERSION").exists() {
            self.initdb()?;
        }
        if let Some(ca_file) = &self.tls_ca_file {
            self.write_tls_files(ca_file)?;
        }
        self.ensure_settings_included()
    }

    /// A fresh CA and server certificate; the key is private to the server's
    /// OS user (PostgreSQL refuses a key others can read).
    fn write_tls_files(&self, ca_file: &Path) -> Result<()> {
        let certificates = crate::pg_tls::server_certificates()?;
        fs::write(ca_file, &certificates.ca_pem)
            .with_context(|| format!("failed to write {}", ca_file.display()))?;
        self.write_data_file("server.crt", &certificates.cert_pem)?;
        let key = self.data_dir.join("server.key");
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&key)
            .and_then(|mut file| file.write_all(certificates.key_pem.as_bytes()))
            .with_context(|| format!("failed to write {}", key.display()))?;
        if let Some(run_as) = self.run_as {
            run_as.chown(&key)?;
        }
        Ok(())
    }

    fn initdb(&self) -> Result<()> {
        let mut cmd = self.server_command("initdb");
        cmd.arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth=trust",
        ]);
        if !self.durable {
            cmd.arg("--no-sync");
        }
        run(&mut cmd)?;
        // initdb's --auth=trust also trusts the Unix socket and ::1; we only
        // want loopback IPv4 (the only address we listen on).
        let hba = if self.tls_ca_file.is_some() {
            // Plain connections are named and rejected, so the refusal says
            // "no encryption" instead of "no pg_hba.conf entry".
            "# Written by anitrack-conformance (conformance/src/pg.rs): TLS only.\n\
             # TYPE     DATABASE     USER  ADDRESS       METHOD\n\
             hostssl    all          all   127.0.0.1/32  trust\n\
             hostssl    replication  all   127.0.0.1/32  trust\n\
             hostnossl  all          all   0.0.0.0/0     reject\n"
        } else {
            "# Written by anitrack-conformance (conformance/src/pg.rs).\n\
             # TYPE  DATABASE     USER  ADDRESS       METHOD\n\
             host    all          all   127.0.0.1/32  trust\n\
             host    replication  all   127.0.0.1/32  trust\n"
        };
        self.write_data_file("pg_hba.conf", hba)
    }

    fn ensure_settings_included(&self) -> Result<()> {
        let conf = self.data_dir.join("postgresql.conf");
        let text = fs::read_to_string(&conf)
            .with_context(|| format!("failed to read {}", conf.display()))?;
        let include = format!("include = '{SETTINGS_FILE}'");
        if text.lines().any(|line| line.trim() == include) {
            return Ok(());
        }
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .with_context(|| format!("failed to open {}", conf.display()))?;
        writeln!(
            file,
            "\n# Added by anitrack-conformance (conformance/src/pg.rs).\n{include}"
        )
        .with_context(|| format!("failed to write {}", conf.display()))
    }

    /// Settings that may differ between starts of the same data directory.
    fn write_settings(&self) -> Result<()> {
        let durability = if self.durable { "on" } else { "off" };
        let settings = format!(
            "# Rewritten by anitrack-conformance (conformance/src/pg.rs) before every start.\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = ''\n\
             max_connections = 200\n\
             fsync = {durability}\n\
             synchronous_commit = {durability}\n\
             full_page_writes = {durability}\n",
            port = self.port,
        );
        let tls = if self.tls_ca_file.is_some() {
            // Paths relative to the data directory.
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
        } else {
            "ssl = off\n"
        };
        self.write_data_file(SETTINGS_FILE, &format!("{settings}{tls}"))
    }

    fn write_data_file(&self, name: &str, contents: &str) -> Result<()> {
        let path = self.data_dir.join(name);
        fs::write(&path, contents)
            .with_context(|| format!("failed to write {}", path.display()))?;
        if let Some(run_as) = self.run_as {
            run_as.chown(&path)?;
        }
        Ok(())
    }

    /// Deals with a `postmaster.pid` left by an earlier run: stops the server
    /// if it is still alive, otherwise removes the stale file. (PostgreSQL
    /// copes with most stale pid files itself, but not when the pid has been
    /// reused by another process of the same user, which is common in
    /// containers.)
    fn take_over_previous_server(&self) -> Result<()> {
        let pid_file = self.data_dir.join("postmaster.pid");
        if !pid_file.exists() {
            return Ok(());
        }
        if self.server_alive() {
            return self.pg_ctl_stop("fast").with_context(|| {
                format!(
                    "failed to stop the server a previous run left running on {}",
                    self.data_dir.display()
                )
            });
        }
        match fs::remove_file(&pid_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("failed to remove stale {}", pid_file.display()))
            }
            _ => Ok(()),
        }
    }

    /// Whether `postmaster.pid` names a live postmaster serving our data
    /// directory (its working directory is the data directory).
    fn server_alive(&self) -> bool {
        let Some(pid) = fs::read_to_string(self.data_dir.join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
        else {
            return false;
        };
        if Path::new("/proc/self").exists() {
            let cwd = fs::canonicalize(format!("/proc/{pid}/cwd"));
            let data_dir = fs::canonicalize(&self.data_dir);
            return matches!((cwd, data_dir), (Ok(a), Ok(b)) if a == b);
        }
        // No procfs: ask pg_ctl (exit status 0 = running).
        self.server_command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// One `pg_ctl start` on `self.port` plus the readiness wait.
    fn try_start(&mut self, deadline: Instant) -> std::result::Result<(), StartError> {
        self.write_settings().map_err(StartError::other)?;
        let log_offset = fs::metadata(&self.log_file).map(|m| m.len()).unwrap_or(0);
        let timeout_secs = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1)
            .to_string();
        let mut cmd = self.server_command("pg_ctl");
        cmd.args(["start", "-w", "-t", &timeout_secs])
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file);
        if let Err(error) = run(&mut cmd) {
            // On a timeout the postmaster may still be coming up; don't leak it.
            if self.server_alive() {
                let _ = self.pg_ctl_stop("immediate");
            }
            let new_log = read_log_from(&self.log_file, log_offset);
            return Err(StartError {
                port_in_use: new_log.contains("Address already in use")
                    || new_log.contains("could not bind IPv4 address"),
                error: self.with_log_tail(error),
            });
        }
        self.running = true;
        self.wait_until_ready(deadline).map_err(StartError::other)
    }

    fn wait_until_ready(&self, deadline: Instant) -> Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            let attempt = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
                .map_err(anyhow::Error::from)
                .and_then(|_| self.psql("postgres", "select 1"));
            match attempt {
                Ok(_) => return Ok(()),
                Err(error) if Instant::now() >= deadline => {
                    return Err(self.with_log_tail(error.context(format!(
                        "PostgreSQL on 127.0.0.1:{} did not accept connections within {} s",
                        self.port,
                        START_TIMEOUT.as_secs()
                    ))));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<()> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.args(["stop", "-m", mode, "-w", "-t", STOP_TIMEOUT_SECS])
            .arg("-D")
            .arg(&self.data_dir);
        run(&mut cmd).map(drop)
    }

    /// Folds the error chain and the end of the server log into one message,
    /// so that even `{}` formatting shows why the server failed.
    fn with_log_tail(&self, error: anyhow::Error) -> anyhow::Error {
        let log = read_log_from(&self.log_file, 0);
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        anyhow!(
            "{error:#}\n--- last {LOG_TAIL_LINES} lines of {} ---\n{tail}",
            self.log_file.display()
        )
    }

    /// `initdb`, `pg_ctl`: run as the `postgres` user when we are root, from
    /// inside the data directory (the server user may not be able to enter our
    /// working directory).
    fn server_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bins.binary(program));
        clean_env(&mut cmd);
        cmd.current_dir(&self.data_dir);
        if let Some(run_as) = self.run_as {
            // std also drops root's supplementary groups when uid is set.
            cmd.uid(run_as.uid).gid(run_as.gid);
        }
        cmd
    }

    /// `psql`: runs as the current user; connects over TCP only.
    fn client_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bins.binary(program));
        clean_env(&mut cmd);
        cmd.env("PGCLIENTENCODING", "UTF8")
            .env("PGCONNECT_TIMEOUT", "5");
        cmd
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Binds `127.0.0.1:0`, reads the port the kernel chose and releases it. Racy
/// by nature: someone else may take the port before it is used.
pub fn free_loopback_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("failed to bind 127.0.0.1:0 to find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Why one start attempt failed; `port_in_use` allows retrying on another
/// port.
struct StartError {
    error: anyhow::Error,
    port_in_use: bool,
}

impl StartError {
    fn other(error: anyhow::Error) -> StartError {
        StartError {
            error,
            port_in_use: false,
        }
    }
}

/// The unprivileged account the server binaries run as when we are root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl RunAs {
    fn chown(&self, path: &Path) -> Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).with_context(|| {
            format!(
                "failed to chown {} to {SERVER_OS_USER} ({}:{})",
                path.display(),
                self.uid,
                self.gid
            )
        })
    }

    /// PostgreSQL insists on owning its data directory. A persistent data
    /// directory might have been created by another user (e.g. an earlier
    /// non-root run), so fix the whole tree, without following symlinks.
    fn chown_tree_if_needed(&self, dir: &Path) -> Result<()> {
        let meta =
            fs::metadata(dir).with_context(|| format!("failed to stat {}", dir.display()))?;
        if meta.uid() == self.uid && meta.gid() == self.gid {
            return Ok(());
        }
        self.chown_tree(dir)
    }

    fn chown_tree(&self, path: &Path) -> Result<()> {
        let meta = fs::symlink_metadata(path)
            .with_context(|| format!("failed to stat {}", path.display()))?;
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid))
            .with_context(|| format!("failed to chown {}", path.display()))?;
        if meta.is_dir() {
            let entries =
                fs::read_dir(path).with_context(|| format!("failed to list {}", path.display()))?;
            for entry in entries {
                self.chown_tree(&entry?.path())?;
            }
        }
        Ok(())
    }

    /// The server user must be able to enter every ancestor of the data
    /// directory; fail early with a useful message instead of a cryptic
    /// "Permission denied" from `initdb`. (The child process only has the
    /// user's primary group: std drops supplementary groups.)
    fn ensure_traversable(&self, dir: &Path) -> Result<()> {
        for ancestor in dir.ancestors() {
            let meta = fs::metadata(ancestor)
                .with_context(|| format!("failed to stat {}", ancestor.display()))?;
            let mode = meta.mode();
            let can_enter = if meta.uid() == self.uid {
                mode & 0o100 != 0
            } else if meta.gid() == self.gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !can_enter {
                bail!(
                    "running as root, so PostgreSQL runs as the `{SERVER_OS_USER}` user, which \
                     cannot enter {} (mode {:o}); put the data directory under a \
                     world-traversable path such as /tmp, or `chmod o+x` that directory",
                    ancestor.display(),
                    mode & 0o7777
                );
            }
        }
        Ok(())
    }
}

/// `None` for an ordinary user; the `postgres` account when the effective
/// uid is 0, because `initdb`/`postgres`/`pg_ctl` refuse to run as root.
fn server_os_user() -> Result<Option<RunAs>> {
    if effective_uid()? != 0 {
        return Ok(None);
    }
    if let Ok(passwd) = fs::read_to_string("/etc/passwd")
        && let Some(run_as) = parse_passwd(&passwd, SERVER_OS_USER)
    {
        return Ok(Some(run_as));
    }
    // Not in /etc/passwd (NSS/LDAP?): ask `id`.
    let id = |flag: &str| -> Result<u32> {
        let output = run(Command::new("id").args([flag, SERVER_OS_USER])).with_context(|| {
            format!(
                "running as root, but there is no `{SERVER_OS_USER}` system user to run \
                 PostgreSQL as; install them with `apt-get install postgresql` (which \
                 creates it) or run as an ordinary user"
            )
        })?;
        parse_u32(&output.stdout, "id")
    };
    Ok(Some(RunAs {
        uid: id("-u")?,
        gid: id("-g")?,
    }))
}

fn parse_passwd(passwd: &str, user: &str) -> Option<RunAs> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(RunAs { uid, gid })
    })
}

/// Effective uid from `/proc/self/status` (second field of `Uid:`), falling
/// back to `id -u`; avoids a dependency on `libc`.
fn effective_uid() -> Result<u32> {
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(euid) = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|euid| euid.parse().ok())
    {
        return Ok(euid);
    }
    let output = run(Command::new("id").arg("-u"))?;
    parse_u32(&output.stdout, "id -u")
}

fn parse_u32(bytes: &[u8], what: &str) -> Result<u32> {
    let text = String::from_utf8_lossy(bytes);
    text.trim()
        .parse()
        .with_context(|| format!("unexpected output from `{what}`: {text:?}"))
}

/// Database names are interpolated into SQL inside double quotes and passed
/// to `psql -d`; this alphabet needs no escaping and cannot be mistaken for a
/// connection string. 63 bytes is PostgreSQL's identifier limit.
fn validate_name(what: &str, name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        bail!("invalid {what} {name:?}: use 1 to 63 characters from [a-z0-9_]");
    }
    Ok(())
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// `<root>/<version>/bin` for every version directory, highest version
/// first (`15` > `9.6`).
fn versioned_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let key = name
                .split('.')
                .map(|part| part.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((key, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// Keep the caller's `PG*` variables (PGHOST, PGOPTIONS, PGDATA, ...) and
/// `~/.psqlrc` out of our commands, and get English messages (we look for
/// "Address already in use" in the log).
fn clean_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(&key);
        }
    }
    cmd.env_remove("PSQLRC").env("LC_ALL", "C").env("LANG", "C");
}

/// Reads the log from `offset` (at most the last 256 KiB of it).
fn read_log_from(path: &Path, offset: u64) -> String {
    const MAX: u64 = 256 * 1024;
    let Ok(mut file) = fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = offset.max(len.saturating_sub(MAX)).min(len);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn run(cmd: &mut Command) -> Result<Output> {
    run_with_stdin(cmd, None)
}

/// Runs `cmd` to completion, capturing output. Failure to spawn or a
/// non-zero exit becomes an error naming the command line and carrying its
/// stderr (or stdout when stderr is empty).
fn run_with_stdin(cmd: &mut Command, stdin: Option<&[u8]>) -> Result<Output> {
    let description = describe(cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("failed to run `{description}`"))?;
    // Feed stdin from a thread so a large output cannot deadlock us.
    let writer = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => {
            let data = data.to_vec();
            Some(std::thread::spawn(move || pipe.write_all(&data)))
        }
        _ => None,
    };
    let output = child
        .wait_with_output()
        .with_context(|| format!("failed to wait for `{description}`"))?;
    if let Some(writer) = writer {
        // A write error (EPIPE) means the child exited early; its exit status
        // and stderr below explain why.
        let _ = writer.join();
    }
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let detail = match (stderr.trim(), stdout.trim()) {
            ("", "") => "(no output)".to_owned(),
            ("", stdout) => stdout.to_owned(),
            (stderr, _) => stderr.to_owned(),
        };
        bail!("`{description}` failed ({}): {detail}", output.status);
    }
    Ok(output)
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|arg| {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'') {
                format!("'{}'", arg.replace('\'', r"'\''"))
            } else {
                arg.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in ["postgres", "app_1", "t", &"a".repeat(63)] {
            assert!(validate_name("x", ok).is_ok(), "{ok}");
        }
        for bad in ["", "App", "a-b", "a b", "a\"b", "a;b", &"a".repeat(64)] {
            assert!(validate_name("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwd_lookup() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(
            parse_passwd(passwd, "postgres"),
            Some(RunAs { uid: 101, gid: 104 })
        );
        assert_eq!(parse_passwd(passwd, "nobody"), None);
    }

    #[test]
    fn free_port_is_bindable() {
        let port = free_loopback_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }

    #[test]
    fn binaries_are_found() {
        let bins = PgBinaries::find().unwrap();
        for name in REQUIRED_BINARIES {
            assert!(is_executable(&bins.binary(name)), "{name}");
        }
    }

    #[test]
    fn temporary_cluster_lifecycle() {
        let mut pg = PgCluster::start_temporary().unwrap();
        let temp = pg._temp_dir.as_ref().unwrap().path().to_path_buf();
        assert!(temp.join("data/PG_VERSION").exists());
        assert!(temp.join("postgres.log").exists());
        let port = pg.port();
        assert_eq!(
            pg.url("app"),
            format!("postgres://postgres@127.0.0.1:{port}/app")
        );

        assert_eq!(pg.psql("postgres", "select 1").unwrap(), "1\n");
        let settings = pg
            .psql(
                "postgres",
                "select current_setting('fsync'), current_setting('synchronous_commit'), \
                 current_setting('full_page_writes'), current_setting('max_connections'), \
                 current_setting('server_encoding'), current_setting('lc_collate'), \
                 current_setting('listen_addresses'), current_setting('unix_socket_directories'), \
                 current_user",
            )
            .unwrap();
        assert_eq!(
            settings.trim(),
            "off|off|off|200|UTF8|C|127.0.0.1||postgres"
        );

        pg.create_database("tpl_source", None).unwrap();
        pg.psql(
            "tpl_source",
            "create table t (x int);\ninsert into t values (42);",
        )
        .unwrap();
        pg.create_database("tpl_copy", Some("tpl_source")).unwrap();
        assert_eq!(pg.psql("tpl_copy", "select x from t").unwrap(), "42\n");

        // Errors name the command and carry psql's stderr.
        let err = pg
            .psql("postgres", "select * from missing_table")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("psql") && err.contains("missing_table"),
            "{err}"
        );
        let err = pg
            .create_database("tpl_copy", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists"), "{err}");
        assert!(pg.create_database("Bad-Name", None).is_err());
        assert!(pg.create_database("ok_name", Some("bad name")).is_err());

        pg.stop().unwrap();
        pg.stop().unwrap(); // idempotent
        assert!(pg.psql("postgres", "select 1").is_err());
        pg.restart().unwrap();
        assert_eq!(pg.port(), port);
        assert_eq!(pg.psql("tpl_copy", "select x from t").unwrap(), "42\n");

        drop(pg);
        assert!(!temp.exists(), "{} not removed", temp.display());
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
    }

    #[test]
    fn start_failure_reports_command_and_log_tail() {
        let root = tempfile::Builder::new()
            .prefix("anitrack-pg-test-")
            .tempdir()
            .unwrap();
        if server_os_user().unwrap().is_some() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        }
        let busy = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = busy.local_addr().unwrap().port();
        let err = PgCluster::start(ClusterOptions {
            data_dir: root.path().join("data"),
            durable: false,
            port: Some(port),
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("pg_ctl start"), "{err}");
        assert!(err.contains("last 40 lines of"), "{err}");
        assert!(err.contains("Address already in use"), "{err}");
        assert!(!root.path().join("data/postmaster.pid").exists());
    }

    #[test]
    fn persistent_dir_survives_leftover_server_and_stale_pid() {
        let root = tempfile::Builder::new()
            .prefix("anitrack-pg-test-")
            .tempdir()
            .unwrap();
        if server_os_user().unwrap().is_some() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        }
        let data_dir = root.path().join("nested/data");
        let options = ClusterOptions {
            data_dir: data_dir.clone(),
            durable: false,
            port: None,
        };

        let mut first = PgCluster::start(options.clone()).unwrap();
        first
            .psql(
                "postgres",
                "create table keep (x int); insert into keep values (7);",
            )
            .unwrap();
        // A previous run that exited without stopping its server.
        first.running = false;
        drop(first);

        let mut second = PgCluster::start(options.clone()).unwrap();
        assert_eq!(
            second.psql("postgres", "select x from keep").unwrap(),
            "7\n"
        );
        second.stop().unwrap();

        // A crash that left a postmaster.pid naming a dead process.
        let mut child = Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        child.wait().unwrap();
        fs::write(
            data_dir.join("postmaster.pid"),
            format!("{dead_pid}\n{}\n", data_dir.display()),
        )
        .unwrap();

        let port = free_loopback_port().unwrap();
        let third = PgCluster::start(ClusterOptions {
            durable: true,
            port: Some(port),
            ..options
        })
        .unwrap();
        assert_eq!(third.port(), port);
        assert_eq!(
            third
                .psql("postgres", "select x, current_setting('fsync') from keep")
                .unwrap(),
            "7|on\n"
        );
        drop(third);
        assert!(!data_dir.join("postmaster.pid").exists());
        assert!(root.path().join("nested/postgres.log").exists());
    }
}
