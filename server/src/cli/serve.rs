//! `anitrack-server serve`: its flags, and the start (migrations, the
//! pools, the replica's watch, the shared state) before `http::serve`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

use super::{Database, default_hash_concurrency, migrate};
use crate::auth::password::Passwords;
use crate::auth::signing::SigningKey;
use crate::auth::throttle::Throttle;
use crate::db::{self, PoolSettings};
use crate::http;
use crate::list::streams::Streams;
use crate::request::{ApiContext, Settings};

#[derive(clap::Args)]
pub(super) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ANITRACK_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Requests per minute per token on authenticated endpoints.
    #[arg(long, env = "ANITRACK_RATE_LIMIT_PER_MINUTE", default_value_t = 60)]
    rate_limit_per_minute: u32,
    /// POST /auth/token attempts per minute per email and per client address.
    #[arg(
        long,
        env = "ANITRACK_TOKEN_RATE_LIMIT_PER_MINUTE",
        default_value_t = 5
    )]
    token_rate_limit_per_minute: u32,
    /// Proxies (CIDRs, comma-separated) whose X-Forwarded-For names the
    /// client; without this the TCP peer is the client.
    #[arg(long, env = "ANITRACK_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Longest a request may take before it is answered 503, in milliseconds.
    #[arg(long, env = "ANITRACK_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    request_timeout_ms: u64,
    /// Longest SIGTERM waits for in-flight requests, in milliseconds.
    #[arg(long, env = "ANITRACK_SHUTDOWN_TIMEOUT_MS", default_value_t = 30_000)]
    shutdown_timeout_ms: u64,
    /// Maximum database connections of this process.
    #[arg(long, env = "ANITRACK_DB_POOL_SIZE", default_value_t = 16)]
    db_pool_size: usize,
    /// How long a request waits for a free database connection before it
    /// is answered 503, in milliseconds.
    #[arg(long, env = "ANITRACK_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 2_000)]
    db_acquire_timeout_ms: u64,
    /// Server-side bound on any one SQL statement, in milliseconds.
    #[arg(
        long,
        env = "ANITRACK_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    db_statement_timeout_ms: u64,
    /// Password hashes computed at once (each takes 19 MiB for a few tens
    /// of milliseconds); further sign-ins queue.
    #[arg(long, env = "ANITRACK_HASH_CONCURRENCY", default_value_t = default_hash_concurrency())]
    hash_concurrency: usize,
    /// Longest a statement waits for a row lock, in milliseconds; past it
    /// the request is answered 503 with Retry-After.
    #[arg(long, env = "ANITRACK_DB_LOCK_TIMEOUT_MS", default_value_t = 1_000)]
    db_lock_timeout_ms: u64,
    /// Send the settings page's cookies without `Secure` and the `__Host-`
    /// prefix. Browsers drop `Secure` cookies on plain HTTP (except to
    /// localhost), so this is for local development over http:// only
    /// (`cargo xtask dev` sets it); never behind a public address.
    #[arg(long, env = "ANITRACK_INSECURE_COOKIES")]
    insecure_cookies: bool,
    /// How long a client reading GET /list may take no data before the
    /// transfer is cut and its database connection freed, in milliseconds.
    #[arg(
        long,
        env = "ANITRACK_STREAM_STALL_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    stream_stall_timeout_ms: u64,
    /// How long deleted entries stay in GET /list/changes as tombstones, in
    /// days; a client whose cursor is older than a purged tombstone gets
    /// 410 and starts over.
    #[arg(
        long,
        env = "ANITRACK_TOMBSTONE_RETENTION_DAYS",
        default_value_t = anitrack_spec::limits::TOMBSTONE_RETENTION_DAYS_DEFAULT,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    tombstone_retention_days: u32,
    /// How often this instance purges expired tombstones and Idempotency-Key
    /// answers (at start, then every interval), in seconds.
    #[arg(
        long,
        env = "ANITRACK_PURGE_INTERVAL_SECS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    purge_interval_secs: u64,
    /// A streaming replica (hot standby) of the database, for catalog reads
    /// only (GET /anime, /anime/{slug}, /anime/anilist/{anilistId}); in the
    /// forms of --database-url, with the same --db-ca-file, --db-pooler
    /// and pool settings. Authentication (a write) and everything else stay
    /// on the primary. A read goes to the primary instead while the replica
    /// is unreachable, failing, slower than --db-replica-timeout-ms, behind
    /// by more than --db-replica-max-lag-ms, or not a standby of the
    /// primary (promoted, or a copy of another cluster); a failing replica
    /// never fails a request, and never makes /ready fail. Each change of
    /// the replica's state is logged once, and each catalog request's log
    /// line says where its read ran (read_from).
    #[arg(long, env = "ANITRACK_DB_REPLICA_URL", hide_env_values = true)]
    db_replica_url: Option<String>,
    /// How far behind the primary a catalog read from the replica may be,
    /// in milliseconds: the replica is checked against the primary's WAL
    /// position every quarter of this (at most every second).
    #[arg(
        long,
        env = "ANITRACK_DB_REPLICA_MAX_LAG_MS",
        default_value_t = 5_000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    db_replica_max_lag_ms: u64,
    /// Longest a catalog read waits for the replica (a connection and the
    /// answer) before it asks the primary instead, in milliseconds; the
    /// replica then counts as down until it answers a check again.
    #[arg(
        long,
        env = "ANITRACK_DB_REPLICA_TIMEOUT_MS",
        default_value_t = 1_000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    db_replica_timeout_ms: u64,
}

pub(super) async fn serve(database: &Database, args: ServeArgs) -> anyhow::Result<()> {
    for name in migrate(database).await? {
        tracing::info!(migration = %name, "applied migration");
    }
    // Whether the database link is authenticated is an operator's question
    // at every start; the URL itself is not logged.
    tracing::info!(
        sslmode = database.target.ssl_mode().as_str(),
        server_certificate = database.target.verification().as_str(),
        "database connection"
    );
    let pool_settings = PoolSettings {
        max_size: args.db_pool_size.max(1),
        acquire_timeout: Duration::from_millis(args.db_acquire_timeout_ms),
        statement_timeout: Duration::from_millis(args.db_statement_timeout_ms),
        lock_timeout: Duration::from_millis(args.db_lock_timeout_ms),
        pooler: database.pooler,
        ..Default::default()
    };
    let pool = db::pool(&database.target, pool_settings)?;
    match pool_settings.pooler {
        db::Pooler::None => db::sql::set_statements(db::sql::Statements::Prepared),
        db::Pooler::Transaction => {
            db::sql::set_statements(db::sql::Statements::Unnamed);
            db::set_role_timeouts(&pool, &pool_settings).await.context(
                "setting the role's statement and lock timeouts (--db-pooler transaction)",
            )?;
        }
    }
    let replica = replica(&args, &pool, pool_settings, database.ca_file.as_deref())?;
    let passwords = Passwords::new(args.hash_concurrency).await?;
    let signing_key = SigningKey::load(&pool)
        .await
        .context("reading the cookie-signing key")?;
    // A quarter of the pool at most looks up tokens this instance has not
    // seen authenticate lately (see auth::throttle).
    let throttle = Throttle::new(
        args.db_pool_size.max(1) / 4,
        Duration::from_millis(args.db_acquire_timeout_ms),
    );
    // Streamed lists may hold half the pool at most (see list::streams).
    let streams = Streams::new(
        args.db_pool_size.max(1) / 2,
        Duration::from_millis(args.db_acquire_timeout_ms),
        Duration::from_millis(args.stream_stall_timeout_ms),
    );
    let settings = Settings {
        rate_limit_per_minute: args.rate_limit_per_minute,
        token_rate_limit_per_minute: args.token_rate_limit_per_minute,
        trusted_proxies: args.trusted_proxies,
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        shutdown_timeout: Duration::from_millis(args.shutdown_timeout_ms),
        insecure_cookies: args.insecure_cookies,
        tombstone_retention_days: args.tombstone_retention_days,
        purge_interval: Duration::from_secs(args.purge_interval_secs),
    };
    http::serve(
        args.bind,
        ApiContext {
            db: pool,
            replica,
            passwords,
            settings,
            throttle,
            signing_key,
            streams,
        },
    )
    .await
}

/// The replica for catalog reads, if one is given, with its watch
/// started; how reads are routed is logged either way.
fn replica(
    args: &ServeArgs,
    primary: &deadpool_postgres::Pool,
    pool_settings: PoolSettings,
    ca_file: Option<&std::path::Path>,
) -> anyhow::Result<Option<db::replica::Replica>> {
    let Some(url) = &args.db_replica_url else {
        tracing::info!("catalog reads: the primary (no --db-replica-url)");
        return Ok(None);
    };
    let shown = db::redact_url(url);
    let target = db::Target::new(url, ca_file)
        .with_context(|| format!("replica database settings for {shown}"))?;
    let settings = db::replica::ReplicaSettings {
        max_lag: Duration::from_millis(args.db_replica_max_lag_ms),
        timeout: Duration::from_millis(args.db_replica_timeout_ms),
    };
    // Like the primary's line: how the link is secured, not the URL.
    tracing::info!(
        sslmode = target.ssl_mode().as_str(),
        server_certificate = target.verification().as_str(),
        max_lag_ms = args.db_replica_max_lag_ms,
        timeout_ms = args.db_replica_timeout_ms,
        "catalog reads: the replica while it is a standby of the primary within max_lag_ms, \
         else the primary; everything else: the primary"
    );
    Ok(Some(db::replica::Replica::start(
        &target,
        pool_settings,
        settings,
        primary.clone(),
    )?))
}
