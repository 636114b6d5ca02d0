//! A private PostgreSQL for AniTrack's tools: `cargo xtask dev`, the
//! conformance harness and the bench.
//!
//! * [`PgBinaries`]: where the server binaries are (`initdb`, `pg_ctl`,
//!   `postgres`, `psql`).
//! * [`PgCluster`]: a cluster of our own on a free loopback port, durable or
//!   not, plain or TLS-only, started and stopped with `pg_ctl`.
//! * [`Psql`]: the one way to run SQL beside the server, for any
//!   connection URL (a cluster of ours, a test's database, the shared one).
//! * [`PgBouncer`]: PgBouncer in transaction pooling mode in front of a
//!   cluster, on a free loopback port.
//! * Streaming replication: [`PgCluster::start_temporary_standby`],
//!   [`PgCluster::require_synchronous_standby`], [`PgCluster::promote`] and
//!   a crash, [`PgCluster::kill_9`].
//! * [`free_loopback_port`] and [`state_home`] (where a long-lived cluster
//!   goes so that the server's OS user can reach it).
//!
//! Everything here is synchronous (`std::process`); call it from
//! `tokio::task::spawn_blocking` inside an async runtime if blocking a
//! worker for the second or two `initdb` takes matters.
//!
//! `initdb`, `postgres` and `pg_ctl` refuse to run as root. When the
//! effective uid is 0 they run as the `postgres` system user, and the
//! directories made for them are chowned to it; every ancestor of a data
//! directory must then be enterable by that user, which a clone under a
//! mode-700 home (`/root`) is not. Temporary clusters therefore live in the
//! system's temporary directory, and [`state_home`] puts persistent ones
//! outside the clone when we are root. `psql` runs as the current user and
//! talks TCP only.

mod binaries;
mod bouncer;
mod cluster;
mod os_user;
mod port;
mod process;
mod sql;
pub mod tls;

pub use binaries::PgBinaries;
pub use bouncer::{BouncerOptions, PgBouncer};
pub use cluster::{ClusterOptions, PgCluster};
pub use os_user::state_home;
pub use port::free_loopback_port;
pub use sql::Psql;

/// Superuser created by `initdb -U`; trust authentication on loopback, so
/// it has no password.
pub const SUPERUSER: &str = "postgres";
