//! Running the PostgreSQL binaries: a clean environment, captured output,
//! errors that name the command and carry what it printed.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};

use crate::os_user::RunAs;

/// Keep the caller's `PG*` variables (PGHOST, PGOPTIONS, PGDATA, ...) and
/// `~/.psqlrc` out of our commands, and get English messages (the cluster
/// looks for "Address already in use" in the log).
pub(crate) fn clean_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(&key);
        }
    }
    cmd.env_remove("PSQLRC").env("LC_ALL", "C").env("LANG", "C");
}

/// `program` in a clean environment, run from `cwd` as `run_as` (the
/// `postgres` user when we are root: `initdb`, `pg_ctl` and PgBouncer
/// refuse to run as root, and it may not be able to enter our working
/// directory).
pub(crate) fn server_user_command(program: &Path, run_as: Option<RunAs>, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    clean_env(&mut cmd);
    cmd.current_dir(cwd);
    if let Some(run_as) = run_as {
        // std also drops root's supplementary groups when uid is set.
        cmd.uid(run_as.uid).gid(run_as.gid);
    }
    cmd
}

pub(crate) fn run(cmd: &mut Command) -> Result<Output> {
    run_with_stdin(cmd, None)
}

/// Runs `cmd` to completion, capturing output. Failure to spawn or a
/// non-zero exit becomes an error naming the command line and carrying its
/// stderr (or stdout when stderr is empty).
pub(crate) fn run_with_stdin(cmd: &mut Command, stdin: Option<&[u8]>) -> Result<Output> {
    let description = describe(cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("failed to run `{description}`"))?;
    // Feed stdin from a thread so a large output cannot deadlock us.
    let writer = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => {
            let data = data.to_vec();
            Some(std::thread::spawn(move || pipe.write_all(&data)))
        }
        _ => None,
    };
    let output = child
        .wait_with_output()
        .with_context(|| format!("failed to wait for `{description}`"))?;
    if let Some(writer) = writer {
        // A write error (EPIPE) means the child exited early; its exit status
        // and stderr below explain why.
        let _ = writer.join();
    }
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let detail = match (stderr.trim(), stdout.trim()) {
            ("", "") => "(no output)".to_owned(),
            ("", stdout) => stdout.to_owned(),
            (stderr, _) => stderr.to_owned(),
        };
        bail!("`{description}` failed ({}): {detail}", output.status);
    }
    Ok(output)
}

/// The command line, quoted as a shell would need it.
pub(crate) fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|arg| {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'') {
                format!("'{}'", arg.replace('\'', r"'\''"))
            } else {
                arg.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads the log from `offset` (at most the last 256 KiB of it).
pub(crate) fn read_log_from(path: &Path, offset: u64) -> String {
    const MAX: u64 = 256 * 1024;
    let Ok(mut file) = fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = offset.max(len.saturating_sub(MAX)).min(len);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_the_command_and_carry_its_stderr() {
        let err = run(Command::new("sh").args(["-c", "echo oops >&2; exit 3"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`sh -c 'echo oops >&2; exit 3'` failed"),
            "{err}"
        );
        assert!(err.contains("oops"), "{err}");
        let out = run_with_stdin(&mut Command::new("cat"), Some(b"fed")).unwrap();
        assert_eq!(out.stdout, b"fed");
    }

    #[test]
    fn log_is_read_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("postgres.log");
        fs::write(&log, "old line\nnew line\n").unwrap();
        assert_eq!(read_log_from(&log, 9), "new line\n");
        assert_eq!(read_log_from(&log, 1_000), "");
        assert_eq!(read_log_from(&dir.path().join("missing"), 0), "");
    }
}
