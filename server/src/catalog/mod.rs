//! The anime catalog: AniList data in, anime detail out.

pub mod import;
pub mod media;
pub mod reader;
pub mod reads;
pub mod slug;
pub mod sync;
pub mod upsert;
pub mod view;
