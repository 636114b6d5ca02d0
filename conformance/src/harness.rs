//! Test environments: one PostgreSQL cluster per test process, a fresh
//! database cloned from a migrated template per test, and a real server
//! process per test.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::AsyncWriteExt;

use anitrack_pg::{PgCluster, Psql, free_loopback_port};

/// A free loopback port (for helper processes such as chromedriver).
pub fn free_port() -> u16 {
    free_loopback_port().unwrap_or_else(|e| panic!("no free port: {e:#}"))
}

/// Set by `cargo xtask conformance` to share one cluster between test
/// binaries: `postgres://postgres@127.0.0.1:<port>/postgres`.
pub const ADMIN_URL_ENV: &str = "ANITRACK_TEST_ADMIN_URL";
/// Path of the `anitrack-server` binary under test.
pub const SERVER_BIN_ENV: &str = "ANITRACK_SERVER_BIN";
/// Where the client's examples were built (`client/examples/*.rs`: the
/// mirror, the README's example).
pub const EXAMPLES_DIR_ENV: &str = "ANITRACK_EXAMPLES_DIR";

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The server binary: `$ANITRACK_SERVER_BIN`, else the workspace's debug build.
pub fn server_bin() -> PathBuf {
    std::env::var_os(SERVER_BIN_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| debug_dir().join("anitrack-server"))
}

/// A client example's program, `client/examples/<name>.rs`: in
/// `$ANITRACK_EXAMPLES_DIR`, else the workspace's debug build
/// (`cargo build -p anitrack-client --examples`).
pub fn example_bin(name: &str) -> PathBuf {
    std::env::var_os(EXAMPLES_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| debug_dir().join("examples"))
        .join(name)
}

/// The example mirror (`client/examples/mirror.rs`).
pub fn mirror_bin() -> PathBuf {
    example_bin("mirror")
}

/// Where cargo puts debug builds.
fn debug_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("debug")
}

struct Shared {
    /// `postgres://postgres@127.0.0.1:<port>/`, without the database name.
    base_url: String,
    /// Migrated, empty catalog.
    template: String,
    /// Migrated, with the demo catalog imported.
    demo_template: String,
    /// Keeps an owned cluster alive for the whole process (statics are never
    /// dropped; the watchdog below stops it when the process exits).
    _cluster: Option<PgCluster>,
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
static CLONE_LOCK: Mutex<()> = Mutex::new(());
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn shared() -> Result<&'static Shared> {
    SHARED
        .get_or_init(|| init_shared().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("test database setup failed: {e}"))
}

fn init_shared() -> Result<Shared> {
    let (base_url, cluster) = match std::env::var(ADMIN_URL_ENV) {
        Ok(admin) => {
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| format!("{b}/"))
                .context("bad admin URL")?;
            (base, None)
        }
        Err(_) => {
            let cluster = PgCluster::start_temporary()?;
            cluster.stop_when_this_process_exits()?;
            (cluster.url(""), Some(cluster))
        }
    };
    let template = format!("anitrack_tmpl_{}", std::process::id());
    admin_sql(&base_url, &format!("CREATE DATABASE {template}"))?;
    run_server_cli(&format!("{base_url}{template}"), &["migrate"])?;
    let demo_template = format!("anitrack_demo_{}", std::process::id());
    admin_sql(
        &base_url,
        &format!("CREATE DATABASE {demo_template} TEMPLATE {template}"),
    )?;
    let demo = demo_catalog();
    let demo = demo.to_string_lossy();
    run_server_cli(
        &format!("{base_url}{demo_template}"),
        &["catalog", "import", &demo],
    )?;
    Ok(Shared {
        base_url,
        template,
        demo_template,
        _cluster: cluster,
    })
}

/// The demo catalog shipped with the server: real, well-known anime.
pub fn demo_catalog() -> PathBuf {
    workspace_root()
        .join("server")
        .join("catalog")
        .join("demo-anilist.json")
}

/// A recorded AniList response under `conformance/fixtures/anilist/`.
pub fn fixture(name: &str) -> PathBuf {
    workspace_root()
        .join("conformance")
        .join("fixtures")
        .join("anilist")
        .join(name)
}

/// Runs an `anitrack-server` CLI command against `database_url`, blocking.
pub fn run_server_cli(database_url: &str, args: &[&str]) -> Result<()> {
    let output = std::process::Command::new(server_bin())
        .arg("--database-url")
        .arg(database_url)
        .args(args)
        .output()
        .with_context(|| {
            format!(
                "running {} (build it with `cargo build -p anitrack-server`)",
                server_bin().display()
            )
        })?;
    if !output.status.success() {
        bail!(
            "anitrack-server {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Runs one statement as the superuser in the cluster's `postgres`
/// database (creating databases, which needs no database of the test's).
fn admin_sql(base_url: &str, sql: &str) -> Result<()> {
    Psql::new(format!("{base_url}postgres"))?.run(sql)?;
    Ok(())
}

/// Which catalog a fresh database starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Catalog {
    /// No anime at all.
    Empty,
    /// The demo catalog (`server/catalog/demo-anilist.json`).
    Demo,
}

/// A fresh, migrated database of its own.
pub fn fresh_database(catalog: Catalog) -> Result<String> {
    let shared = shared()?;
    let template = match catalog {
        Catalog::Empty => &shared.template,
        Catalog::Demo => &shared.demo_template,
    };
    let name = format!(
        "anitrack_t{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    {
        // CREATE DATABASE ... TEMPLATE refuses while another clone copies it.
        let _guard = CLONE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        admin_sql(
            &shared.base_url,
            &format!("CREATE DATABASE {name} TEMPLATE {template}"),
        )?;
    }
    Ok(format!("{}{name}", shared.base_url))
}

/// A fresh, migrated database whose character classes are Unicode
/// (`C.UTF-8`, as production databases usually are) rather than the
/// template's plain `C`: there `lower()` folds non-ASCII letters too.
pub fn fresh_unicode_database() -> Result<String> {
    let shared = shared()?;
    let name = format!(
        "anitrack_u{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    admin_sql(
        &shared.base_url,
        &format!(
            "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' \
             LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
        ),
    )?;
    let url = format!("{}{name}", shared.base_url);
    run_server_cli(&url, &["migrate"])?;
    Ok(url)
}

/// A running `anitrack-server serve`, stopped with SIGTERM on drop.
pub struct Server {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Server {
    /// Starts the server on a free loopback port against `database_url` and
    /// waits until it answers HTTP.
    pub async fn start(database_url: &str, extra_env: &[(&str, &str)]) -> Result<Server> {
        let port = free_loopback_port()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let log_dir = tempfile::tempdir()?;
        let log = log_dir.path().join("server.log");
        let log_file = std::fs::File::create(&log)?;
        let mut command = tokio::process::Command::new(server_bin());
        command
            .args(["serve", "--bind", &addr.to_string()])
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", server_bin().display()))?;
        let mut server = Server {
            child,
            addr,
            log,
            _log_dir: log_dir,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "server exited with {status} before it was ready:\n{}",
                    self.log_text()
                );
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "server did not listen on {} within 30 s:\n{}",
                    self.addr,
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything the server logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGTERM, then wait (up to `timeout`) for the exit status.
    pub async fn terminate(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        if let Some(pid) = self.child.id() {
            std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()?;
        }
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.child.kill().await?;
                bail!("server did not exit within {timeout:?} of SIGTERM")
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}

/// A psql session holding locks ([`TestEnv::hold_lock`]); killed, and its
/// locks released, when dropped.
pub struct LockHolder {
    child: Option<std::process::Child>,
}

impl LockHolder {
    /// Waits until the session commits after its sleep; whether it ended
    /// well.
    pub async fn finish(mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .is_ok_and(|status| status.is_ok_and(|s| s.success()))
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What an `anitrack-server` CLI invocation did.
#[derive(Debug)]
pub struct CliOutput {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the operator CLI with `DATABASE_URL` set to `database_url` (unless
/// `None`), feeding `stdin`.
pub async fn cli(
    database_url: Option<&str>,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<CliOutput> {
    let mut command = tokio::process::Command::new(server_bin());
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.env_remove("DATABASE_URL");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let mut child = command.spawn().context("running anitrack-server")?;
    if let Some(mut pipe) = child.stdin.take() {
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).await?;
        }
        drop(pipe);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .context("anitrack-server CLI did not finish within 60 s")??;
    Ok(CliOutput {
        success: output.status.success(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// The generated client for the server at `base_url`, over a `reqwest`
/// client built from `http`, which carries what a test sets beside the
/// contract (a timeout, a local address, a forwarded-for header), and
/// sending `Authorization: Bearer <token>` when `token` is given.
pub fn client_over(
    base_url: &str,
    token: Option<&str>,
    http: reqwest::ClientBuilder,
) -> anitrack_client::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .unwrap_or_else(|e| panic!("token is not a header value: {e}"));
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let http = http
        .default_headers(headers)
        .build()
        .unwrap_or_else(|e| panic!("reqwest client: {e}"));
    anitrack_client::Client::new_with_client(base_url, http, anitrack_client::Hooks::default())
}

/// A test's world: its own database and server, and clients for it.
pub struct TestEnv {
    /// What the CLI and SQL helpers connect to: the server's database
    /// (a test whose server goes through a pooler may point them at the
    /// database itself).
    pub database_url: String,
    pub server: Server,
    /// Raw HTTP, for what the generated client cannot send.
    pub http: reqwest::Client,
}

/// The password every account made by [`TestEnv::create_user`] gets.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestEnv {
    /// A database with the demo catalog, and a server on it.
    pub async fn start() -> TestEnv {
        Self::start_with(Catalog::Demo).await
    }

    pub async fn start_with(catalog: Catalog) -> TestEnv {
        Self::start_configured(catalog, &[]).await
    }

    /// With extra environment for the server (its `ANITRACK_*` knobs).
    pub async fn start_configured(catalog: Catalog, server_env: &[(&str, &str)]) -> TestEnv {
        match Self::try_start(catalog, server_env).await {
            Ok(env) => env,
            Err(error) => panic!("cannot start the test environment: {error:#}"),
        }
    }

    async fn try_start(catalog: Catalog, server_env: &[(&str, &str)]) -> Result<TestEnv> {
        let database_url = tokio::task::spawn_blocking(move || fresh_database(catalog)).await??;
        Self::try_on(database_url, server_env).await
    }

    /// A server on a database made by the caller (e.g.
    /// [`fresh_unicode_database`]).
    pub async fn start_on(database_url: String, server_env: &[(&str, &str)]) -> TestEnv {
        match Self::try_on(database_url, server_env).await {
            Ok(env) => env,
            Err(error) => panic!("cannot start the test environment: {error:#}"),
        }
    }

    async fn try_on(database_url: String, server_env: &[(&str, &str)]) -> Result<TestEnv> {
        let server = Server::start(&database_url, server_env).await?;
        Ok(TestEnv {
            database_url,
            server,
            http: reqwest::Client::new(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    /// The generated client without credentials.
    pub fn anonymous(&self) -> anitrack_client::Client {
        anitrack_client::Client::new(&self.server.base_url(), anitrack_client::Hooks::default())
    }

    /// The generated client sending `Authorization: Bearer <token>`.
    pub fn client(&self, token: &str) -> anitrack_client::Client {
        client_over(
            &self.server.base_url(),
            Some(token),
            reqwest::Client::builder(),
        )
    }

    pub async fn cli(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        cli(Some(&self.database_url), args, stdin)
            .await
            .unwrap_or_else(|e| panic!("anitrack-server {args:?}: {e:#}"))
    }

    /// Creates an account through the operator CLI with [`PASSWORD`].
    pub async fn create_user(&self, email: &str, name: &str, api_access: bool) {
        let mut args = vec![
            "user",
            "create",
            "--email",
            email,
            "--name",
            name,
            "--password-stdin",
        ];
        if !api_access {
            args.push("--no-api-access");
        }
        let out = self.cli(&args, Some(&format!("{PASSWORD}\n"))).await;
        assert!(out.success, "user create failed: {}", out.stderr);
    }

    /// Mints a token through the operator CLI; returns the plain token.
    pub async fn mint_token(&self, email: &str, name: &str) -> String {
        let out = self
            .cli(&["token", "create", "--email", email, "--name", name], None)
            .await;
        assert!(out.success, "token create failed: {}", out.stderr);
        out.stdout.lines().last().unwrap_or_default().to_string()
    }

    /// Runs `sql` against this test's database as the cluster's superuser,
    /// outside the server (to age rows, break them, or change the schema).
    pub fn psql(&self, sql: &str) {
        self.psql_value(sql);
    }

    /// What `sql` prints (psql's unaligned, tuples-only output, trimmed):
    /// for reading rows beside the server.
    pub fn psql_value(&self, sql: &str) -> String {
        self.sql()
            .value(sql)
            .unwrap_or_else(|e| panic!("psql failed: {sql}: {e:#}"))
    }

    /// A psql process for `sql` on this test's database, not yet started
    /// (for SQL that must run beside a request, such as holding a lock).
    pub fn psql_command(&self, sql: &str) -> std::process::Command {
        self.sql().command(sql)
    }

    /// Runs `lock` (a statement such as `SELECT 1 FROM rate_limits FOR
    /// UPDATE`) in a psql transaction that then sleeps `seconds` before it
    /// commits; returns once that session is asleep holding the locks. For
    /// requests that must wait on a lock, or time out on it.
    pub async fn hold_lock(&self, lock: &str, seconds: u32) -> LockHolder {
        let marker = format!("pg_sleep({seconds}) /* lock holder */");
        let child = self
            .psql_command(&format!("BEGIN; {lock}; SELECT {marker}; COMMIT;"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("psql: {e}"));
        let holder = LockHolder { child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(10);
        // This database's session only: other tests share the cluster.
        while self.psql_value(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%{marker}%' \
             AND state = 'active' AND datname = current_database() \
             AND pid <> pg_backend_pid()"
        )) != "1"
        {
            assert!(Instant::now() < deadline, "the lock holder never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        holder
    }

    /// The one SQL runner (`anitrack_pg::Psql`) on this test's database.
    pub fn sql(&self) -> Psql {
        Psql::new(self.database_url.as_str())
            .unwrap_or_else(|e| panic!("no psql for the test database: {e:#}"))
    }

    /// An account with API access and a token for it.
    pub async fn user_with_token(&self, email: &str) -> String {
        self.create_user(email, "Test User", true).await;
        self.mint_token(email, "conformance").await
    }
}
