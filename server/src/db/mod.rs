//! PostgreSQL: connection pool, migrations, and one module of SQL per table
//! family. Nothing here knows about HTTP.

pub mod accounts;
pub mod anime;
pub mod entries;
pub mod secrets;
pub mod sessions;
pub mod throttle;
pub mod tokens;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

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
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_size: 16,
            connect_timeout: Duration::from_secs(2),
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
            lock_timeout: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    Url(String),
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
            other => DbError::Unavailable(other.to_string()),
        }
    }
}

impl DbError {
    /// Whether the database (not the query) is at fault: unreachable,
    /// connection lost, pool exhausted, or the statement timed out.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Unavailable(_) => true,
            DbError::Query(e) => {
                e.is_closed()
                    || e.as_db_error().is_none()
                    || e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
                    || e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE)
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

fn pg_config(url: &str, settings: &PoolSettings) -> Result<tokio_postgres::Config, DbError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| DbError::Url(e.to_string()))?;
    config.connect_timeout(settings.connect_timeout);
    config.application_name("anitrack-server");
    config.options(format!(
        "-c statement_timeout={} -c lock_timeout={}",
        settings.statement_timeout.as_millis(),
        settings.lock_timeout.as_millis()
    ));
    Ok(config)
}

/// A pool whose connections apply the statement timeout. Connections are
/// made lazily, so this succeeds even while the database is down.
pub fn pool(url: &str, settings: PoolSettings) -> Result<Pool, DbError> {
    let config = pg_config(url, &settings)?;
    let manager = Manager::from_config(
        config,
        NoTls,
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
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, DbError> {
    let config = pg_config(
        url,
        &PoolSettings {
            statement_timeout: Duration::ZERO,
            lock_timeout: Duration::ZERO,
            ..Default::default()
        },
    )?;
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| DbError::Unavailable(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "database connection closed");
        }
    });
    Ok(client)
}

/// Applies every pending migration in `migrations/`; returns the names applied.
pub async fn migrate(url: &str) -> Result<Vec<String>, DbError> {
    let mut client = connect(url).await?;
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

/// A database URL with any password replaced, safe to print.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
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
        None => "<database URL in key=value form>".to_string(),
    }
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

/// Readiness: the database answers and has every migration this binary
/// carries (a rolling deploy's new instance is not ready before `migrate`).
pub async fn check_ready(pool: &Pool) -> Result<(), DbError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT coalesce(max(version), 0)::bigint AS version FROM refinery_schema_history",
        )
        .await?;
    let applied: i64 = client.query_one(&statement, &[]).await?.get("version");
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
    }
}
