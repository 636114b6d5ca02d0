//! The conformance suite: the v1 contract, checked against a live
//! `anitrack-server` on a private PostgreSQL through the generated client
//! (raw HTTP only where the client cannot express the input).

// A test fails by panicking; helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "conformance/auth.rs"]
mod auth;
#[path = "conformance/browser.rs"]
mod browser;
#[path = "conformance/catalog.rs"]
mod catalog;
#[path = "conformance/cli.rs"]
mod cli;
#[path = "conformance/client.rs"]
mod client;
#[path = "conformance/corrections.rs"]
mod corrections;
#[path = "conformance/docs.rs"]
mod docs;
#[path = "conformance/durability.rs"]
mod durability;
#[path = "conformance/errors.rs"]
mod errors;
#[path = "conformance/faults.rs"]
mod faults;
#[path = "conformance/feed/mod.rs"]
mod feed;
#[path = "conformance/hostile/mod.rs"]
mod hostile;
#[path = "conformance/list.rs"]
mod list;
#[path = "conformance/mirror.rs"]
mod mirror;
#[path = "conformance/pooler.rs"]
mod pooler;
#[path = "conformance/properties.rs"]
mod properties;
#[path = "conformance/replica.rs"]
mod replica;
#[path = "conformance/routes.rs"]
mod routes;
#[path = "conformance/schema_inputs.rs"]
mod schema_inputs;
#[path = "conformance/support.rs"]
mod support;
#[path = "conformance/sync.rs"]
mod sync;
#[path = "conformance/throttle.rs"]
mod throttle;
#[path = "conformance/user.rs"]
mod user;
