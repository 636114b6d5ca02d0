//! `cargo xtask`: the project's developer commands.

mod api_changes;
mod api_diff;
mod bench;
mod client;
mod conformance;
mod deny;
mod dev;
mod docs;
mod git;
mod install;
mod npm;
mod openapi;
mod topology;
mod workspace;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "AniTrack developer tasks", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run AniTrack locally: a private PostgreSQL (under target/, or under
    /// /var/tmp/anitrack-pg/ as root), a demo account and token, and the
    /// server on 127.0.0.1:8080.
    Dev(dev::Args),
    /// The CI gate: fmt, clippy, dependency licenses/bans/sources (cargo
    /// deny), spec/client staleness, unit tests and the conformance suite
    /// against a live server on a private PostgreSQL.
    Conformance(conformance::Args),
    /// The published OpenAPI document (spec/openapi.json): generate, check,
    /// the v1 compatibility gate, the reviewer's diff and docs/api-changes.md,
    /// the linters, the TypeScript types.
    Openapi {
        #[command(subcommand)]
        action: openapi::Action,
    },
    /// The generated Rust client (client/src/generated.rs).
    Client {
        #[command(subcommand)]
        action: client::Action,
    },
    /// The API reference's renderer (Redoc), vendored from npm into
    /// server/assets/docs/.
    Docs {
        #[command(subcommand)]
        action: docs::Action,
    },
    /// Benchmarks: builds the release server and the bench (xtask/bench)
    /// and runs it: private PostgreSQL, seeded data, load from
    /// wrk/pgbench/an open-loop generator; writes target/bench/results.json.
    Bench(bench::Args),
    /// Scale-out on this machine: a primary and a synchronous streaming
    /// standby, PgBouncer (transaction mode) in front of each, two
    /// instances on one multi-host URL; the seed's flows through both,
    /// then the primary killed mid-writes and the standby promoted.
    /// Checks that no acknowledged write is lost and both instances serve
    /// again without a restart; prints the gap (target/topology/results.json).
    Topology(topology::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dev(args) => dev::run(args),
        Command::Conformance(args) => conformance::run(args),
        Command::Openapi { action } => openapi::run(action),
        Command::Client { action } => client::run(action),
        Command::Docs { action } => docs::run(action),
        Command::Bench(args) => bench::run(args),
        Command::Topology(args) => topology::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
