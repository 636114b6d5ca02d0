//! `anitrack-server`: the AniTrack API server and its operator commands.

fn main() -> std::process::ExitCode {
    anitrack_server::cli::main()
}
