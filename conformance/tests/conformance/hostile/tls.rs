//! The database link. Threat: someone on the network between the server and
//! PostgreSQL reads or alters the traffic (account data, password hashes,
//! token hashes), or impersonates the database. Defence: `DATABASE_URL`'s
//! `sslmode` is honoured as libpq defines it, through rustls.
//!
//! Every test here talks to one private cluster that accepts TLS only: its
//! certificate names `localhost` alone and is signed by a CA the harness
//! made (`PgCluster::start_temporary_tls`), and its `pg_hba.conf` rejects
//! plain connections, so whatever gets in used TLS.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use anitrack_conformance::harness::{self, CliOutput, Server, TestEnv, cli};
use anitrack_conformance::pg::PgCluster;

struct TlsCluster {
    pg: PgCluster,
    /// The CA that signed the server's certificate.
    ca_file: PathBuf,
    /// A CA that signed nothing the server holds.
    unrelated_ca_file: PathBuf,
    /// Migrated over TLS, for the test that serves from it.
    served_database: &'static str,
}

static CLUSTER: OnceLock<Result<TlsCluster, String>> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

fn cluster() -> &'static TlsCluster {
    match CLUSTER.get_or_init(|| start_cluster().map_err(|e| format!("{e:#}"))) {
        Ok(cluster) => cluster,
        Err(error) => panic!("cannot start the TLS cluster: {error}"),
    }
}

fn start_cluster() -> anyhow::Result<TlsCluster> {
    let pg = PgCluster::start_temporary_tls()?;
    pg.stop_when_this_process_exits()?;
    let ca_file = pg
        .tls_ca_file()
        .ok_or_else(|| anyhow::anyhow!("the TLS cluster has no CA file"))?
        .to_path_buf();
    let unrelated_ca_file = ca_file.with_file_name("unrelated-ca.crt");
    std::fs::write(
        &unrelated_ca_file,
        anitrack_conformance::pg::tls::unrelated_ca_pem()?,
    )?;
    let cluster = TlsCluster {
        pg,
        ca_file,
        unrelated_ca_file,
        served_database: "served",
    };
    cluster.pg.create_database(cluster.served_database, None)?;
    harness::run_server_cli(
        &cluster.url("localhost", cluster.served_database, "sslmode=require"),
        &["migrate"],
    )?;
    Ok(cluster)
}

impl TlsCluster {
    /// `postgres://postgres@<host>:<port>/<database>?<query>`.
    fn url(&self, host: &str, database: &str, query: &str) -> String {
        format!(
            "postgres://postgres@{host}:{}/{database}?{query}",
            self.pg.port()
        )
    }

    /// An empty database of its own, for a test to migrate.
    fn fresh_database(&self) -> String {
        let name = format!("tls_{}", DATABASES.fetch_add(1, Ordering::SeqCst));
        self.pg
            .create_database(&name, None)
            .unwrap_or_else(|e| panic!("create database {name}: {e:#}"));
        name
    }

    fn ca(&self) -> String {
        self.ca_file.display().to_string()
    }
}

async fn migrate(url: &str, extra_args: &[&str]) -> CliOutput {
    let mut args = extra_args.to_vec();
    args.push("migrate");
    cli(Some(url), &args, None)
        .await
        .unwrap_or_else(|e| panic!("anitrack-server migrate: {e:#}"))
}

fn assert_migrated(out: &CliOutput) {
    assert!(
        out.success,
        "migrate failed ({:?}): {}",
        out.code, out.stderr
    );
    assert!(out.stdout.contains("applied V1"), "{}", out.stdout);
}

fn assert_refused(out: &CliOutput, expected: &[&str]) {
    assert!(
        !out.success && out.code == Some(1),
        "migrate should fail, got {:?}: {}{}",
        out.code,
        out.stdout,
        out.stderr
    );
    for text in expected {
        assert!(out.stderr.contains(text), "{text:?} not in: {}", out.stderr);
    }
}

#[tokio::test]
async fn require_serves_a_real_flow_over_tls() {
    let cluster = tokio::task::spawn_blocking(cluster).await.unwrap();
    let database_url = cluster.url("localhost", cluster.served_database, "sslmode=require");
    let server = Server::start(&database_url, &[]).await.unwrap();
    let env = TestEnv {
        database_url,
        server,
        http: reqwest::Client::new(),
    };
    let token = env.user_with_token("tls.require@example.test").await;

    let me = env.client(&token).user_view().send().await.unwrap();
    assert_eq!(me.status().as_u16(), 200);
    assert_eq!(me.into_inner().email, "tls.require@example.test");

    // The server's own pooled connections, as PostgreSQL sees them.
    let backends = cluster
        .pg
        .sql("postgres")
        .unwrap()
        .run(&format!(
            "SELECT count(*), bool_and(s.ssl), min(s.version) \
                 FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
                 WHERE a.application_name = 'anitrack-server' AND a.datname = '{}'",
            cluster.served_database
        ))
        .unwrap();
    let fields: Vec<&str> = backends.trim().split('|').collect();
    assert!(
        fields.len() == 3 && fields[0].parse::<u32>().unwrap_or(0) >= 1,
        "no backend of the server: {backends:?}"
    );
    assert_eq!(fields[1], "t", "a backend without TLS: {backends:?}");
    assert!(fields[2].starts_with("TLSv1."), "{backends:?}");
}

#[tokio::test]
async fn verify_full_with_the_ca_in_the_url_migrates() {
    let cluster = tokio::task::spawn_blocking(cluster).await.unwrap();
    let database = cluster.fresh_database();
    let query = format!("sslmode=verify-full&sslrootcert={}", cluster.ca());
    let out = migrate(&cluster.url("localhost", &database, &query), &[]).await;
    assert_migrated(&out);
}

#[tokio::test]
async fn verify_full_with_the_ca_file_flag_migrates() {
    let cluster = tokio::task::spawn_blocking(cluster).await.unwrap();
    let database = cluster.fresh_database();
    let url = cluster.url("localhost", &database, "sslmode=verify-full");
    let out = migrate(&url, &["--db-ca-file", &cluster.ca()]).await;
    assert_migrated(&out);
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_for_another_name() {
    let cluster = tokio::task::spawn_blocking(cluster).await.unwrap();
    // The certificate names localhost; the server is asked for as 127.0.0.1.
    let url = cluster.url("127.0.0.1", "postgres", "sslmode=verify-full");
    let out = migrate(&url, &["--db-ca-file", &cluster.ca()]).await;
    assert_refused(&out, &["certificate", "not valid for name", "127.0.0.1"]);

    // serve migrates first, so it stops the same way instead of serving.
    let bind = format!("127.0.0.1:{}", harness::free_port());
    let out = cli(
        Some(&url),
        &["--db-ca-file", &cluster.ca(), "serve", "--bind", &bind],
        None,
    )
    .await
    .unwrap();
    assert_refused(&out, &["certificate", "not valid for name"]);
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_from_an_untrusted_ca() {
    let cluster = tokio::task::spawn_blocking(cluster).await.unwrap();
    let query = format!(
        "sslmode=verify-full&sslrootcert={}",
        cluster.unrelated_ca_file.display()
    );
    let out = migrate(&cluster.url("localhost", "postgres", &query), &[]).await;
    assert_refused(&out, &["certificate", "not signed by a trusted CA"]);
}

#[tokio::test]
async fn verify_ca_checks_the_chain_but_not_the_name() {
    let cluster = tokio::task::spawn_blocking(cluster).await.unwrap();
    let database = cluster.fresh_database();
    let url = cluster.url("127.0.0.1", &database, "sslmode=verify-ca");
    let out = migrate(&url, &["--db-ca-file", &cluster.ca()]).await;
    assert_migrated(&out);

    let out = migrate(
        &url,
        &[
            "--db-ca-file",
            &cluster.unrelated_ca_file.display().to_string(),
        ],
    )
    .await;
    assert_refused(&out, &["not signed by a trusted CA"]);
}

#[tokio::test]
async fn require_with_a_ca_file_checks_the_chain_as_libpq_does() {
    let cluster = tokio::task::spawn_blocking(cluster).await.unwrap();
    let url = cluster.url("localhost", "postgres", "sslmode=require");
    let out = migrate(
        &url,
        &[
            "--db-ca-file",
            &cluster.unrelated_ca_file.display().to_string(),
        ],
    )
    .await;
    assert_refused(&out, &["not signed by a trusted CA"]);
}

#[tokio::test]
async fn disable_is_refused_by_a_cluster_that_demands_tls() {
    let cluster = tokio::task::spawn_blocking(cluster).await.unwrap();
    let url = cluster.url("localhost", cluster.served_database, "sslmode=disable");
    let out = migrate(&url, &[]).await;
    assert_refused(&out, &["pg_hba.conf rejects connection", "no encryption"]);
}

#[tokio::test]
async fn a_named_ca_file_that_cannot_be_read_stops_the_command() {
    let url = "postgres://postgres@localhost:1/postgres?sslmode=verify-full";
    let out = migrate(url, &["--db-ca-file", "/nonexistent/ca.pem"]).await;
    assert_refused(&out, &["cannot read CA file /nonexistent/ca.pem"]);
}
