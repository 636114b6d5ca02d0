//! The AniTrack conformance harness: a private PostgreSQL, the real
//! `anitrack-server` binary on a free loopback port, and the generated
//! client pointed at it. The suite itself lives in `tests/`.

pub mod harness;
pub mod standby;
pub mod world;

/// The private PostgreSQL (`xtask/pg`), under the name the suite has always
/// used for it.
pub use anitrack_pg as pg;
