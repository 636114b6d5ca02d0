//! Starting and stopping the server with `pg_ctl`, and dealing with what an
//! earlier run left behind.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use super::{PgCluster, START_TIMEOUT};
use crate::port::answers_select_1;
use crate::process::{read_log_from, run, server_user_command};

const STOP_TIMEOUT_SECS: &str = "30";
const LOG_TAIL_LINES: usize = 40;

/// Why one start attempt failed; `port_in_use` allows retrying on another
/// port.
pub(super) struct StartError {
    pub(super) error: anyhow::Error,
    pub(super) port_in_use: bool,
}

impl StartError {
    fn other(error: anyhow::Error) -> StartError {
        StartError {
            error,
            port_in_use: false,
        }
    }
}

impl PgCluster {
    /// Deals with a `postmaster.pid` left by an earlier run: stops the server
    /// if it is still alive, otherwise removes the stale file. (PostgreSQL
    /// copes with most stale pid files itself, but not when the pid has been
    /// reused by another process of the same user, which is common in
    /// containers.)
    pub(super) fn take_over_previous_server(&self) -> Result<()> {
        let pid_file = self.data_dir.join("postmaster.pid");
        if !pid_file.exists() {
            return Ok(());
        }
        if self.server_alive() {
            return self.pg_ctl_stop("fast").with_context(|| {
                format!(
                    "failed to stop the server a previous run left running on {}",
                    self.data_dir.display()
                )
            });
        }
        match fs::remove_file(&pid_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("failed to remove stale {}", pid_file.display()))
            }
            _ => Ok(()),
        }
    }

    /// Whether `postmaster.pid` names a live postmaster serving our data
    /// directory (its working directory is the data directory).
    pub(super) fn server_alive(&self) -> bool {
        let Some(pid) = fs::read_to_string(self.data_dir.join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
        else {
            return false;
        };
        if Path::new("/proc/self").exists() {
            let cwd = fs::canonicalize(format!("/proc/{pid}/cwd"));
            let data_dir = fs::canonicalize(&self.data_dir);
            return matches!((cwd, data_dir), (Ok(a), Ok(b)) if a == b);
        }
        // No procfs: ask pg_ctl (exit status 0 = running).
        self.server_command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// One `pg_ctl start` on `self.port` plus the readiness wait.
    pub(super) fn try_start(&mut self, deadline: Instant) -> Result<(), StartError> {
        self.write_settings().map_err(StartError::other)?;
        let log_offset = fs::metadata(&self.log_file).map(|m| m.len()).unwrap_or(0);
        let timeout_secs = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1)
            .to_string();
        let mut cmd = self.server_command("pg_ctl");
        cmd.args(["start", "-w", "-t", &timeout_secs])
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file);
        if let Err(error) = run(&mut cmd) {
            // On a timeout the postmaster may still be coming up; don't leak it.
            if self.server_alive() {
                let _ = self.pg_ctl_stop("immediate");
            }
            let new_log = read_log_from(&self.log_file, log_offset);
            return Err(StartError {
                port_in_use: new_log.contains("Address already in use")
                    || new_log.contains("could not bind IPv4 address"),
                error: self.with_log_tail(error),
            });
        }
        self.running = true;
        self.wait_until_ready(deadline).map_err(StartError::other)
    }

    fn wait_until_ready(&self, deadline: Instant) -> Result<()> {
        let psql = self.sql("postgres")?;
        loop {
            match answers_select_1(self.port, &psql) {
                Ok(_) => return Ok(()),
                Err(error) if Instant::now() >= deadline => {
                    return Err(self.with_log_tail(error.context(format!(
                        "PostgreSQL on 127.0.0.1:{} did not accept connections within {} s",
                        self.port,
                        START_TIMEOUT.as_secs()
                    ))));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    pub(super) fn pg_ctl_stop(&self, mode: &str) -> Result<()> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.args(["stop", "-m", mode, "-w", "-t", STOP_TIMEOUT_SECS])
            .arg("-D")
            .arg(&self.data_dir);
        run(&mut cmd).map(drop)
    }

    /// Folds the error chain and the end of the server log into one message,
    /// so that even `{}` formatting shows why the server failed.
    fn with_log_tail(&self, error: anyhow::Error) -> anyhow::Error {
        let log = read_log_from(&self.log_file, 0);
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        anyhow!(
            "{error:#}\n--- last {LOG_TAIL_LINES} lines of {} ---\n{tail}",
            self.log_file.display()
        )
    }

    /// `initdb`, `pg_ctl`: run as the `postgres` user when we are root, from
    /// inside the data directory (the server user may not be able to enter our
    /// working directory).
    pub(super) fn server_command(&self, program: &str) -> Command {
        server_user_command(&self.bins.binary(program), self.run_as, &self.data_dir)
    }
}
