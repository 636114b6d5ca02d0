//! PostgreSQL: connection pool, migrations, and one module of SQL per table
//! family. Nothing here knows about HTTP.

pub mod accounts;
pub mod anime;
mod conninfo;
pub mod entries;
pub mod feed;
pub mod idempotency;
pub mod replica;
pub mod secrets;
pub mod sessions;
pub mod sql;
pub mod throttle;
mod tls;
pub mod tokens;

use std::path::Path;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres_rustls::MakeRustlsConnect;

pub use conninfo::SslMode;
pub use tls::Verification;

refinery::embed_migrations!("../migrations");

/// Timeouts that keep a sick database from piling requests up.
#[derive(Clone, Copy, Debug)]
pub struct PoolSettings {
    pub max_size: usize,
    /// TCP connect + startup of a new connection.
    pub connect_timeout: Duration,
    /// How long a request waits for a free connection before it gets a 503.
    pub acquire_timeout: Duration,
    /// Server-side bound on any one statement.
    pub statement_timeout: Duration,
    /// Longest any statement waits for a row lock (a rate-limit window
    /// hammered by one key, a list entry written twice at once); past it the
    /// request is a 503 to retry, not a wait up to the statement timeout.
    pub lock_timeout: Duration,
    /// What stands between this process and PostgreSQL.
    pub pooler: Pooler,
}

/// A connection pooler between the server and PostgreSQL, which decides
/// what a connection may carry from one transaction to the next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pooler {
    /// Straight to PostgreSQL (or a session-mode pooler): the timeouts ride
    /// on the startup packet and statements are prepared once per
    /// connection.
    #[default]
    None,
    /// PgBouncer (1.18 included) in transaction mode: nothing session-scoped.
    /// No startup `options` (PgBouncer refuses them), unnamed statements
    /// only, and the timeouts are the role's defaults in this database,
    /// which `serve` sets at start (`ALTER ROLE CURRENT_USER IN DATABASE`).
    Transaction,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_size: 16,
            connect_timeout: Duration::from_secs(2),
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
            lock_timeout: Duration::from_secs(1),
            pooler: Pooler::None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    Url(String),
    /// The TLS settings cannot be used (unreadable CA file, ...), or the
    /// server's certificate was refused.
    #[error("database TLS: {0}")]
    Tls(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(#[from] tokio_postgres::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("unexpected data from the database: {0}")]
    Unexpected(String),
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(e)
                if !e.is_closed() && e.as_db_error().is_some() =>
            {
                DbError::Query(e)
            }
            deadpool_postgres::PoolError::Backend(e) => connect_error(&e),
            other => DbError::Unavailable(error_chain(&other)),
        }
    }
}

impl DbError {
    /// Whether the database (not the query) is at fault: unreachable,
    /// connection lost, its certificate refused, pool exhausted, or the
    /// statement timed out.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Unavailable(_) | DbError::Tls(_) => true,
            DbError::Query(e) => {
                e.is_closed()
                    || e.as_db_error().is_none()
                    // A FATAL error ends the session: PostgreSQL's own
                    // shutdowns, and every refusal of PgBouncer (08P01
                    // "server login has been failing", "query_wait_timeout",
                    // "server conn crashed?" while its server is gone).
                    || e.as_db_error().is_some_and(|db| db.severity() == "FATAL")
                    || e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
                    || e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE)
                    // Only an operator's SQL can lock in another order than
                    // the server (see migration V8); the loser retries.
                    || e.code() == Some(&tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
                    || e.code() == Some(&tokio_postgres::error::SqlState::ADMIN_SHUTDOWN)
                    || e.code() == Some(&tokio_postgres::error::SqlState::CANNOT_CONNECT_NOW)
            }
            _ => false,
        }
    }

    /// The SQLSTATE of a database error, if any.
    pub fn code(&self) -> Option<&tokio_postgres::error::SqlState> {
        match self {
            DbError::Query(e) => e.code(),
            _ => None,
        }
    }
}

/// Where the database is and how to reach it: the connection string as
/// tokio-postgres understands it, and the TLS connector its `sslmode` and CA
/// file ask for. Built once per process; reading the CA file here makes a
/// bad one fail at start, not at the first connection.
#[derive(Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    ssl_mode: SslMode,
    verification: Verification,
}

impl Target {
    /// `url` in libpq's URL or `key=value` form, `sslmode` and `sslrootcert`
    /// included; `ca_file` is the CA used when the URL names none (as libpq's
    /// `PGSSLROOTCERT` is overridden by the connection string).
    pub fn new(url: &str, ca_file: Option<&Path>) -> Result<Target, DbError> {
        let info = conninfo::split(url).map_err(DbError::Url)?;
        let mut config: tokio_postgres::Config = info
            .rest
            .parse()
            .map_err(|e: tokio_postgres::Error| DbError::Url(error_chain(&e)))?;
        let root_cert = info
            .root_cert
            .or_else(|| ca_file.map(|path| conninfo::RootCert::File(path.to_path_buf())));
        let ssl_mode = match (info.ssl_mode, &root_cert) {
            (Some(mode), _) => mode,
            // libpq: sslrootcert=system makes verify-full the default.
            (None, Some(conninfo::RootCert::System)) => SslMode::VerifyFull,
            (None, _) => SslMode::Prefer,
        };
        let verification = tls::verification(ssl_mode, root_cert.as_ref()).map_err(DbError::Tls)?;
        let tls = tls::connector(verification, root_cert.as_ref()).map_err(DbError::Tls)?;
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        Ok(Target {
            config,
            tls,
            ssl_mode,
            verification,
        })
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    pub fn verification(&self) -> Verification {
        self.verification
    }

    fn pg_config(&self, settings: &PoolSettings) -> tokio_postgres::Config {
        let mut config = self.config.clone();
        config.connect_timeout(settings.connect_timeout);
        config.application_name("anitrack-server");
        let timeouts = !settings.statement_timeout.is_zero() || !settings.lock_timeout.is_zero();
        if settings.pooler == Pooler::None && timeouts {
            config.options(format!(
                "-c statement_timeout={} -c lock_timeout={}",
                settings.statement_timeout.as_millis(),
                settings.lock_timeout.as_millis()
            ));
        }
        config
    }
}

/// A pool whose connections apply the statement timeout. Connections are
/// made lazily, so this succeeds even while the database is down.
pub fn pool(target: &Target, settings: PoolSettings) -> Result<Pool, DbError> {
    let manager = Manager::from_config(
        target.pg_config(&settings),
        target.tls.clone(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(settings.max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.acquire_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.connect_timeout))
        .build()
        .map_err(|e| DbError::Url(e.to_string()))
}

/// One direct connection (for migrations and CLI commands).
pub async fn connect(target: &Target) -> Result<tokio_postgres::Client, DbError> {
    let config = target.pg_config(&PoolSettings {
        statement_timeout: Duration::ZERO,
        lock_timeout: Duration::ZERO,
        ..Default::default()
    });
    let (client, connection) = config
        .connect(target.tls.clone())
        .await
        .map_err(|e| connect_error(&e))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "database connection closed");
        }
    });
    Ok(client)
}

/// A failed connection attempt, with its cause: tokio-postgres' own message
/// ("error performing TLS handshake") leaves the reason in its source. A
/// refused certificate gets words of its own, because the operator must
/// fix a setting (or look for an impostor); to a request it is still an
/// outage (`is_unavailable`).
fn connect_error(error: &tokio_postgres::Error) -> DbError {
    use rustls::CertificateError as E;
    let Some(cause) = tls::rustls_cause(error) else {
        return DbError::Unavailable(error_chain(error));
    };
    let what = match cause {
        rustls::Error::InvalidCertificate(E::UnknownIssuer) => {
            "the database server's certificate is not signed by a trusted CA \
             (the CA file's, or without one the platform's roots)"
        }
        rustls::Error::InvalidCertificate(
            E::NotValidForName | E::NotValidForNameContext { .. },
        ) => "the database server's certificate is not issued for the host name in the URL",
        rustls::Error::InvalidCertificate(_) => "the database server's certificate was refused",
        _ => "the TLS handshake with the database server failed",
    };
    DbError::Tls(format!("{what}: {cause}"))
}

/// `error` and each of its sources, joined by ": ".
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        // io::Error displays its inner error, which is then also its source's
        // source; skip repeats.
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// Applies every pending migration in `migrations/`; returns the names applied.
pub async fn migrate(target: &Target) -> Result<Vec<String>, DbError> {
    let mut client = connect(target).await?;
    let report = migrations::runner()
        .run_async(&mut client)
        .await
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}

/// A database URL with any password replaced, safe to print: the one in
/// the user information and a `password=` query parameter (libpq and
/// tokio-postgres accept both).
pub fn redact_url(url: &str) -> String {
    let redacted = match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                if userinfo.contains(':') {
                    format!("{scheme}://{user}:***@{host}")
                } else {
                    format!("{scheme}://{user}@{host}")
                }
            }
            None => url.to_string(),
        },
        None => return "<database URL in key=value form>".to_string(),
    };
    let Some((head, query)) = redacted.split_once('?') else {
        return redacted;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|segment| match segment.split_once('=') {
            Some((key, _)) if percent_encoding::percent_decode_str(key).eq(*b"password") => {
                format!("{key}=***")
            }
            _ => segment.to_string(),
        })
        .collect();
    format!("{head}?{}", query.join("&"))
}

/// The newest migration this binary carries.
pub fn latest_migration() -> i64 {
    migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

/// Behind a transaction-mode pooler the timeouts cannot ride on the
/// connection: they become the role's defaults in this database, for every
/// session PostgreSQL starts from now on (the pooler's open server
/// connections keep theirs until it replaces them). Every instance sets the
/// same values from its flags; the last to start wins.
pub async fn set_role_timeouts(pool: &Pool, settings: &PoolSettings) -> Result<(), DbError> {
    use sql::Db as _;
    let client = pool.get().await?;
    let database: String = client.row("SELECT current_database()", &[]).await?.get(0);
    // ALTER ROLE takes no parameters: the values are integers and the name
    // is quoted by PostgreSQL's own quote_ident.
    let quoted: String = client
        .row("SELECT quote_ident($1)", &sql::params![database])
        .await?
        .get(0);
    for (name, value) in [
        ("statement_timeout", settings.statement_timeout),
        ("lock_timeout", settings.lock_timeout),
    ] {
        let sql = format!(
            "ALTER ROLE CURRENT_USER IN DATABASE {quoted} SET {name} = {}",
            value.as_millis()
        );
        client.batch_execute(&sql).await?;
    }
    Ok(())
}

/// Readiness: the database answers and has every migration this binary
/// carries (a rolling deploy's new instance is not ready before `migrate`).
pub async fn check_ready(pool: &Pool) -> Result<(), DbError> {
    use sql::Db as _;
    let client = pool.get().await?;
    let applied: i64 = client
        .row(
            "SELECT coalesce(max(version), 0)::bigint AS version FROM refinery_schema_history",
            &[],
        )
        .await?
        .get("version");
    if applied < latest_migration() {
        return Err(DbError::Unavailable(format!(
            "database schema is at migration {applied}, this server needs {}",
            latest_migration()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5/db"),
            "postgres://u:***@h:5/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert!(!redact_url("host=h password=secret").contains("secret"));
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=require&password=secret&pass%77ord=s2"),
            "postgres://u@h/db?sslmode=require&password=***&pass%77ord=***"
        );
        assert_eq!(
            redact_url("postgres://u:s@h/db?sslrootcert=/etc/ca.pem"),
            "postgres://u:***@h/db?sslrootcert=/etc/ca.pem"
        );
    }
}
