//! The AniTrack v1 contract.
//!
//! This crate is the single source of the published API: the dropshot API
//! trait ([`AniTrackApi`]), the wire types, the error shape and the code that
//! emits the OpenAPI document committed as `spec/openapi.json`. It has no
//! database and no business logic, so the document can be produced without
//! compiling the server, and the server cannot drift from it: it does not
//! compile unless it implements exactly this trait.

pub mod api;
pub mod document;
pub mod error;
pub mod extract;
pub mod limits;
pub mod patterns;
pub mod reply;
pub mod routes;
pub mod streamed;
pub mod sync;
pub mod types;

pub use api::AniTrackApi;
pub use api::ani_track_api_mod;
pub use error::ApiError;
pub use error::ErrorBody;
pub use extract::JsonBody;
pub use extract::PathId;
pub use extract::QueryParams;
pub use reply::Reply;
pub use streamed::StreamedOk;

/// The prefix every v1 endpoint lives under.
pub const BASE_PATH: &str = "/api/v1";
