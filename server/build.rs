//! `embed_migrations!` reads `migrations/` at compile time, and Cargo does not
//! notice a file added there; this makes a new migration rebuild the server.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
