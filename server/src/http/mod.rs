//! The HTTP server: dropshot, configured for the contract.

mod handlers;
mod list;
mod list_body;
pub mod streaming;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use dropshot::{ConfigDropshot, ConfigLogging, ConfigLoggingLevel, HandlerTaskMode, ServerBuilder};

pub use crate::request::context::{ApiContext, Settings};

/// Largest accepted request body (dropshot's default is 1 KiB, too small for
/// a 2000-character note in multi-byte UTF-8).
pub const REQUEST_BODY_MAX_BYTES: usize = 64 * 1024;

/// Deletes ended rate-limit windows and expired sessions at start and once
/// a minute. Every instance runs one; the deletes are idempotent.
fn spawn_sweeper(db: deadpool_postgres::Pool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let swept = crate::auth::sessions::sweep(&db).await;
            match swept {
                Ok(0) => {}
                Ok(rows) => tracing::debug!(rows, "swept rate-limit windows and sessions"),
                Err(error) => {
                    tracing::warn!(%error, "sweeping rate-limit windows and sessions failed")
                }
            }
        }
    });
}

/// Purges expired tombstones and Idempotency-Key answers at start and every
/// `interval` (see [`crate::list::purge`]).
fn spawn_purger(db: deadpool_postgres::Pool, tombstone_days: u32, interval: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            match crate::list::purge::purge(&db, tombstone_days).await {
                Ok(purged) if purged == Default::default() => {}
                Ok(purged) => tracing::info!(
                    tombstones = purged.tombstones,
                    idempotency_keys = purged.idempotency_keys,
                    "purged"
                ),
                Err(error) => {
                    tracing::warn!(%error, "purging tombstones and idempotency keys failed")
                }
            }
        }
    });
}

/// Serves the API until SIGTERM or Ctrl-C, then stops accepting, lets
/// in-flight requests finish and returns.
pub async fn serve(bind: SocketAddr, context: ApiContext) -> anyhow::Result<()> {
    let api = anitrack_spec::ani_track_api_mod::api_description::<handlers::AniTrack>()
        .map_err(|e| anyhow::anyhow!("invalid API description: {e}"))?;
    let config = ConfigDropshot {
        bind_address: bind,
        default_request_body_max_bytes: REQUEST_BODY_MAX_BYTES,
        // A client that disconnects must not cancel a write half-way.
        default_handler_task_mode: HandlerTaskMode::Detached,
        ..Default::default()
    };
    // dropshot logs through slog; our request log is written by
    // `request::respond` through tracing, so dropshot only reports warnings
    // (its info lines would carry full URIs, query strings included).
    let log = ConfigLogging::StderrTerminal {
        level: ConfigLoggingLevel::Warn,
    }
    .to_logger("anitrack-server")
    .context("creating dropshot's logger")?;
    let shutdown_timeout = context.settings.shutdown_timeout;
    spawn_sweeper(context.db.clone());
    spawn_purger(
        context.db.clone(),
        context.settings.tombstone_retention_days,
        context.settings.purge_interval,
    );
    let server = ServerBuilder::new(api, context, log)
        .config(config)
        .start()
        .map_err(|e| anyhow::anyhow!("cannot serve on {bind}: {e}"))?;
    tracing::info!(address = %server.local_addr(), "listening");

    shutdown_signal().await;
    tracing::info!(timeout = ?shutdown_timeout, "shutting down: no new connections, finishing in-flight requests");
    match tokio::time::timeout(shutdown_timeout, server.close()).await {
        Ok(result) => result.map_err(|e| anyhow::anyhow!("shutdown failed: {e}"))?,
        Err(_) => {
            tracing::warn!("in-flight requests did not finish within the shutdown timeout; exiting")
        }
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
