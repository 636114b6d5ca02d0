//! AniTrack's server as a library: the `anitrack-server` binary is its CLI
//! (`cli::main`); tools such as `cargo xtask bench` reuse its pieces (token
//! minting, the database layer) instead of copying them.

pub mod accounts;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod db;
pub mod error;
pub mod http;
pub mod list;
pub mod request;
pub mod validate;
pub mod web;
