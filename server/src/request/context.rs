//! What every request can reach: the operator's settings and the
//! instance's shared state.

use std::time::Duration;

use crate::auth::password::Passwords;
use crate::auth::signing::SigningKey;
use crate::auth::throttle::Throttle;
use crate::list::streams::Streams;

/// Operator settings that shape request handling.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Requests per minute per token on authenticated endpoints.
    pub rate_limit_per_minute: u32,
    /// `POST /auth/token` attempts per minute per email and per client address.
    pub token_rate_limit_per_minute: u32,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Longest a graceful shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// Cookies without `Secure` and the `__Host-` prefix, for a browser
    /// talking plain HTTP to this server (local development only).
    pub insecure_cookies: bool,
    /// How long deleted entries stay in the change feed, in days.
    pub tombstone_retention_days: u32,
    /// How often this instance purges tombstones and idempotency keys.
    pub purge_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rate_limit_per_minute: 60,
            token_rate_limit_per_minute: 5,
            trusted_proxies: Vec::new(),
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            insecure_cookies: false,
            tombstone_retention_days: anitrack_spec::limits::TOMBSTONE_RETENTION_DAYS_DEFAULT,
            purge_interval: Duration::from_secs(3600),
        }
    }
}

/// What every handler can reach.
pub struct ApiContext {
    /// The primary: everything but catalog reads, and those when the
    /// replica cannot take them.
    pub db: deadpool_postgres::Pool,
    /// A streaming replica for catalog reads (`--db-replica-url`).
    pub replica: Option<crate::db::replica::Replica>,
    pub passwords: Passwords,
    pub settings: Settings,
    /// This instance's memory of blocked keys and familiar tokens.
    pub throttle: Throttle,
    /// Signs the settings page's cookies; shared by every instance.
    pub signing_key: SigningKey,
    /// Streamed `GET /list` bodies holding a connection.
    pub streams: Streams,
}
