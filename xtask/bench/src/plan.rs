//! How long, how big and how many: the full run and `--quick`.

use std::time::Duration;

use crate::seed::Sizes;

pub const DATABASE: &str = "anitrack_bench";
/// The server's database pool, passed explicitly; pgbench uses as many
/// connections.
pub const POOL_SIZE: usize = 16;
/// HTTP connections of the closed-loop runs (enough to keep the pool busy).
pub const CONNECTIONS: usize = 32;
/// The default per-token limit, kept for every scenario but the throttle
/// one: the load is spread over enough tokens never to trip it.
pub const TOKEN_LIMIT: u32 = 60;
/// Limits raised where a scenario needs it (and said so in the results).
pub const RAISED_LIMIT: u32 = 1_000_000_000;

/// `serve --hash-concurrency` for server A, and where the number came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hashing {
    pub concurrency: usize,
    /// `"server default (serve --help)"` or `"--hash-concurrency"`.
    pub source: &'static str,
}

pub struct Plan {
    pub quick: bool,
    /// Length of one measured run.
    pub run: Duration,
    pub warm: Duration,
    /// Rounds of the side-by-side comparisons (read/pgbench/noop, throttle,
    /// login storm), interleaved so that drift hits both sides alike.
    pub rounds: usize,
    pub sizes: Sizes,
    /// Fixed rate of `GET /user` in the login storm.
    pub user_rate: f64,
    /// Connections for the big list (each response is megabytes), and for
    /// the polls of it.
    pub list_connections: usize,
    /// Warm-up and measured length of each poll run (short: each serves
    /// thousands of polls, or hundreds of whole lists, and the bench should
    /// grow little).
    pub poll_warm: Duration,
    pub poll_run: Duration,
    pub hashing: Hashing,
}

impl Plan {
    pub fn new(quick: bool, hashing: Hashing) -> Plan {
        let sizes = Sizes {
            accounts: if quick { 2_000 } else { 10_000 },
            tokens_per_account: 10,
            entries_per_account: 20,
            catalog: 5_000,
            power_entries: 5_000,
            power_deleted: 500,
            power_tokens: 300,
        };
        Plan {
            quick,
            run: Duration::from_secs(if quick { 4 } else { 15 }),
            warm: Duration::from_secs(if quick { 2 } else { 5 }),
            rounds: if quick { 1 } else { 3 },
            sizes,
            user_rate: if quick { 100.0 } else { 200.0 },
            list_connections: 4,
            poll_warm: Duration::from_secs(1),
            poll_run: Duration::from_secs(if quick { 2 } else { 4 }),
            hashing,
        }
    }
}
