//! The Rust client for the AniTrack v1 API.
//!
//! `generated.rs` is progenitor's output from `spec/openapi.json`
//! (`cargo xtask client generate`; never edited by hand). The rest is
//! written by hand, for what the generator cannot do:
//! - [`connect`]: [`Client::with_token`] and [`Client::builder`], the
//!   bearer token as a sensitive header, a `User-Agent`, timeouts;
//! - [`retry`]: opt-in retries of 429 and 503 honouring `Retry-After`,
//!   run by the `ClientHooks` implementation progenitor calls;
//! - [`patch`]: the `PATCH /list/{entryId}` body, whose [`Patch`] fields
//!   can send an explicit `null` (clear the field);
//! - [`refusal`]: a refused request's status and error body, typed;
//! - [`secrets`]: the two wire types that carry a secret (the password of
//!   `POST /auth/token`, the token it returns), whose `Debug` never prints
//!   the secret into a log or a panic message.
//!
//! `examples/readme.rs` (shown whole in README.md) puts them together.

pub mod connect;
mod generated;
pub mod patch;
pub mod refusal;
pub mod retry;
pub mod secrets;

pub use connect::{BuildError, ClientBuilder};
pub use generated::*;
pub use patch::Patch;
pub use refusal::{ApiError, ErrorExt};
pub use reqwest::StatusCode;
pub use retry::{Hooks, RetryPolicy, retry_after};

/// The API's wire types: the generated ones, and the hand-written ones
/// from [`secrets`] and [`patch`] in their place.
pub mod types {
    pub use crate::generated::types::*;
    pub use crate::patch::ListEntryPatch;
    pub use crate::secrets::{NewToken, TokenIssueRequest};
}

#[cfg(test)]
mod tests {
    /// README.md shows `examples/readme.rs` whole, and the conformance
    /// suite runs that program against a live server: the README's
    /// example compiles and runs as written only while the two agree.
    #[test]
    fn the_readme_shows_the_readme_example_verbatim() {
        let readme = include_str!("../../README.md");
        let example = include_str!("../examples/readme.rs");
        let block = format!("```rust\n{example}```\n");
        assert!(
            readme.contains(&block),
            "README.md must show client/examples/readme.rs verbatim in a ```rust block"
        );
    }
}
