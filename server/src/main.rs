//! `anitrack-server`: the AniTrack API server and its operator commands.

mod auth;
mod catalog;
mod cli;
mod db;
mod error;
mod http;
mod list;
mod validate;

fn main() -> std::process::ExitCode {
    cli::main()
}
