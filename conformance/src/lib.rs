//! The AniTrack conformance harness: a private PostgreSQL, the real
//! `anitrack-server` binary on a free loopback port, and the generated
//! client pointed at it. The suite itself lives in `tests/`.

pub mod harness;
pub mod pg;
pub mod pg_tls;
pub mod world;
