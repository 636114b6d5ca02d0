//! Real clusters, each in a directory of its own; a few seconds in all.

use std::fs;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use super::*;

/// Opens `root` to the server user when we are root (tempfile makes it 0700).
fn open_to_server_user(root: &Path) {
    if server_os_user().unwrap().is_some() {
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn run(pg: &PgCluster, database: &str, sql: &str) -> Result<String> {
    pg.sql(database)?.run(sql)
}

#[test]
fn temporary_cluster_lifecycle() {
    let mut pg = PgCluster::start_temporary().unwrap();
    let temp = pg.temp_dir.as_ref().unwrap().path().to_path_buf();
    assert!(temp.join("data/PG_VERSION").exists());
    assert!(temp.join("postgres.log").exists());
    assert_eq!(pg.log_file(), temp.join("postgres.log"));
    let port = pg.port();
    assert_eq!(
        pg.url("app"),
        format!("postgres://postgres@127.0.0.1:{port}/app")
    );

    assert_eq!(run(&pg, "postgres", "select 1").unwrap(), "1\n");
    let settings = run(
        &pg,
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
    run(
        &pg,
        "tpl_source",
        "create table t (x int);\ninsert into t values (42);",
    )
    .unwrap();
    pg.create_database("tpl_copy", Some("tpl_source")).unwrap();
    assert_eq!(run(&pg, "tpl_copy", "select x from t").unwrap(), "42\n");

    // Errors name the command and carry psql's stderr.
    let err = run(&pg, "postgres", "select * from missing_table")
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
    assert!(pg.sql("Bad-Name").is_err());

    pg.stop().unwrap();
    pg.stop().unwrap(); // idempotent
    assert!(run(&pg, "postgres", "select 1").is_err());
    pg.restart().unwrap();
    assert_eq!(pg.port(), port);
    assert_eq!(run(&pg, "tpl_copy", "select x from t").unwrap(), "42\n");

    drop(pg);
    assert!(!temp.exists(), "{} not removed", temp.display());
    assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
}

/// The SQL runner works for any URL: COPY data through stdin, a value,
/// and a process that holds a lock while another session waits on it.
#[test]
fn psql_runs_scripts_values_and_concurrent_sessions() {
    let pg = PgCluster::start_temporary().unwrap();
    pg.create_database("app", None).unwrap();
    let psql = Psql::new(pg.url("app")).unwrap();
    assert_eq!(psql.url(), pg.url("app"));
    psql.run("create table t (x int, note text);\ncopy t from stdin;\n1\ta|b\n2\t\\N\n\\.\n")
        .unwrap();
    assert_eq!(
        psql.value("select count(*), max(note) from t").unwrap(),
        "2|a|b"
    );

    let mut holder = psql
        .command("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT;")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let waiting = "SELECT count(*) FROM pg_locks WHERE relation = 't'::regclass AND granted";
    let deadline = Instant::now() + Duration::from_secs(10);
    while psql.value(waiting).unwrap() != "1" {
        assert!(Instant::now() < deadline, "the lock was never taken");
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = psql
        .run("SET lock_timeout = '100ms'; SELECT * FROM t;")
        .unwrap_err()
        .to_string();
    assert!(err.contains("lock timeout"), "{err}");
    holder.kill().unwrap();
    holder.wait().unwrap();
}

#[test]
fn a_tls_cluster_refuses_plain_connections() {
    let pg = PgCluster::start_temporary_tls().unwrap();
    let ca = pg.tls_ca_file().unwrap();
    assert!(
        fs::read_to_string(ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let verified = Psql::new(format!(
        "postgres://postgres@{}:{}/postgres?sslmode=verify-full&sslrootcert={}",
        crate::tls::SERVER_NAME,
        pg.port(),
        ca.display()
    ))
    .unwrap();
    assert_eq!(
        verified
            .value("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .unwrap(),
        "t"
    );
    let plain = Psql::new(format!("{}?sslmode=disable", pg.url("postgres"))).unwrap();
    let err = plain.value("select 1").unwrap_err().to_string();
    assert!(err.contains("no encryption"), "{err}");
}

#[test]
fn start_failure_reports_command_and_log_tail() {
    let root = tempfile::Builder::new()
        .prefix("anitrack-pg-test-")
        .tempdir()
        .unwrap();
    open_to_server_user(root.path());
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
    open_to_server_user(root.path());
    let data_dir = root.path().join("nested/data");
    let options = ClusterOptions {
        data_dir: data_dir.clone(),
        durable: false,
        port: None,
    };

    let mut first = PgCluster::start(options.clone()).unwrap();
    run(
        &first,
        "postgres",
        "create table keep (x int); insert into keep values (7);",
    )
    .unwrap();
    // A previous run that exited without stopping its server.
    first.running = false;
    drop(first);

    let mut second = PgCluster::start(options.clone()).unwrap();
    assert_eq!(
        run(&second, "postgres", "select x from keep").unwrap(),
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
        run(
            &third,
            "postgres",
            "select x, current_setting('fsync') from keep"
        )
        .unwrap(),
        "7|on\n"
    );
    drop(third);
    assert!(!data_dir.join("postmaster.pid").exists());
    assert!(root.path().join("nested/postgres.log").exists());
}

/// `cargo xtask dev` from a clone under a mode-700 directory (`/root`):
/// as root, a data directory inside the clone is out of the `postgres`
/// user's reach, and the one `state_home` picks is not.
#[test]
fn a_persistent_cluster_for_a_closed_clone_lives_where_its_server_can_reach_it() {
    let closed = tempfile::tempdir().unwrap();
    fs::set_permissions(closed.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let clone = closed.path().join("clone");
    fs::create_dir(&clone).unwrap();
    let inside = clone.join("target/dev-pg");
    let home = crate::state_home("pg-crate-test", &clone, inside.clone()).unwrap();
    let root = server_os_user().unwrap().is_some();
    if root {
        let err = PgCluster::start(ClusterOptions {
            data_dir: inside.join("data"),
            durable: true,
            port: None,
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("cannot enter"), "{err}");
        assert!(!home.dir.starts_with(closed.path()), "{home:?}");
    } else {
        assert_eq!(home.dir, inside);
    }
    let pg = PgCluster::start(ClusterOptions {
        data_dir: home.dir.join("data"),
        durable: true,
        port: None,
    })
    .unwrap();
    assert_eq!(run(&pg, "postgres", "select 1").unwrap(), "1\n");
    drop(pg);
    if root {
        fs::remove_dir_all(&home.dir).unwrap();
    }
}

/// A synchronous standby has every committed row when its primary
/// crashes, and takes writes once promoted.
#[test]
fn a_synchronous_standby_takes_over_from_a_crashed_primary() {
    let mut primary = PgCluster::start_temporary_durable().unwrap();
    run(&primary, "postgres", "create table t (x int)").unwrap();
    let standby = primary.start_temporary_standby("standby_test").unwrap();
    assert!(standby.in_recovery().unwrap());
    primary.require_synchronous_standby("standby_test").unwrap();
    run(
        &primary,
        "postgres",
        "insert into t select generate_series(1, 100)",
    )
    .unwrap();
    primary.kill_9().unwrap();
    assert!(!primary.server_alive());
    assert!(run(&primary, "postgres", "select 1").is_err());
    standby.promote().unwrap();
    assert!(!standby.in_recovery().unwrap());
    assert_eq!(
        run(&standby, "postgres", "select count(*) from t").unwrap(),
        "100\n"
    );
    run(&standby, "postgres", "insert into t values (101)").unwrap();
}
