//! The Rust client for the AniTrack v1 API.
//!
//! `generated.rs` is progenitor's output from `spec/openapi.json`
//! (`cargo xtask client generate`; never edited by hand). This file adds only
//! what the generator cannot: the two wire types that carry a secret (the
//! password of `POST /auth/token`, the token it returns) are hand-written in
//! [`secrets`], so that their `Debug` never prints the secret into a log or
//! a panic message.

mod generated;
pub mod secrets;

pub use generated::*;

/// The API's wire types: the generated ones, and the secret-carrying ones
/// from [`secrets`] in their place.
pub mod types {
    pub use crate::generated::types::*;
    pub use crate::secrets::{NewToken, TokenIssueRequest};
}
