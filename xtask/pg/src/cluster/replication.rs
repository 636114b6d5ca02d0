//! PostgreSQL's own streaming replication between two clusters of ours: a
//! standby made with `pg_basebackup`, a primary that waits for it
//! (`synchronous_standby_names`), promotion, and a crash (`kill -9`).

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{ClusterOptions, PgCluster, START_TIMEOUT};
use crate::SUPERUSER;
use crate::process::{run, server_user_command};
use crate::sql::validate_name;

/// How long a standby may take to report as synchronous, and a promotion
/// to finish.
const REPLICATION_TIMEOUT: Duration = Duration::from_secs(30);

impl PgCluster {
    /// A streaming standby of this (running, plain) cluster in a fresh
    /// temporary directory, deleted on drop: `pg_basebackup -X stream` of
    /// this cluster, `standby.signal`, and `primary_conninfo` naming this
    /// cluster's port with `application_name=<name>` (the name
    /// [`PgCluster::require_synchronous_standby`] waits for). Started on a
    /// free loopback port, read-only until [`PgCluster::promote`]. Names
    /// must match `[a-z0-9_]{1,63}`.
    pub fn start_temporary_standby(&self, name: &str) -> Result<PgCluster> {
        validate_name("standby name", name)?;
        if self.tls_ca_file.is_some() {
            bail!("a standby of a TLS-only cluster is not supported");
        }
        let temp_dir = Self::temporary_dir()?;
        let data_dir = temp_dir.path().join("data");
        let mut cmd = server_user_command(
            &self.bins.binary("pg_basebackup"),
            self.run_as,
            temp_dir.path(),
        );
        cmd.arg("-D")
            .arg(&data_dir)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", SUPERUSER, "-X", "stream", "-c", "fast"])
            // The copy is as temporary as its directory (see `initdb`).
            .arg("--no-sync");
        run(&mut cmd).context("copying the primary for a standby")?;
        let signal = data_dir.join("standby.signal");
        fs::write(&signal, "").with_context(|| format!("failed to write {}", signal.display()))?;
        if let Some(run_as) = self.run_as {
            run_as.chown(&signal)?;
        }
        // In the settings file rewritten before every start, so the copy
        // of the primary's postgresql.auto.conf is left as it was.
        let settings = format!(
            "primary_conninfo = 'host=127.0.0.1 port={port} user={SUPERUSER} \
             application_name={name}'\nhot_standby = on\n",
            port = self.port
        );
        let options = ClusterOptions {
            data_dir,
            durable: self.durable,
            port: None,
        };
        Self::start_inner(options, Some(temp_dir), false, settings)
    }

    /// Makes commits wait for the standby `name` (`ALTER SYSTEM SET
    /// synchronous_standby_names`, then a reload) and waits until
    /// `pg_stat_replication` shows it streaming as `sync`. A commit is then
    /// acknowledged only once the standby has flushed it (with
    /// `synchronous_commit = on`, which a non-durable cluster has off).
    pub fn require_synchronous_standby(&self, name: &str) -> Result<()> {
        validate_name("standby name", name)?;
        if !self.durable {
            bail!("a non-durable cluster has synchronous_commit off: its commits never wait");
        }
        let psql = self.sql("postgres")?;
        psql.run(&format!(
            "ALTER SYSTEM SET synchronous_standby_names = '{name}';\nSELECT pg_reload_conf();"
        ))?;
        let deadline = Instant::now() + REPLICATION_TIMEOUT;
        loop {
            let state = psql.value(&format!(
                "SELECT state || '/' || sync_state FROM pg_stat_replication \
                 WHERE application_name = '{name}'"
            ))?;
            if state == "streaming/sync" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "the standby {name} was not a streaming synchronous standby within {} s \
                     (pg_stat_replication says {state:?})",
                    REPLICATION_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server is a standby (`pg_is_in_recovery()`).
    pub fn in_recovery(&self) -> Result<bool> {
        Ok(self.sql("postgres")?.value("SELECT pg_is_in_recovery()")? == "t")
    }

    /// `pg_ctl promote -w`: the standby becomes a primary, and this returns
    /// once it accepts writes.
    pub fn promote(&self) -> Result<()> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.args(["promote", "-w", "-t"])
            .arg(REPLICATION_TIMEOUT.as_secs().to_string())
            .arg("-D")
            .arg(&self.data_dir);
        run(&mut cmd).map(drop)
    }

    /// A crash: SIGKILL to the postmaster and, at once, to every process it
    /// started (backends, WAL writer and sender), so nothing gets to close
    /// cleanly; waits until they are gone. The data directory is left as a
    /// crash leaves it (`postmaster.pid` included), and a later
    /// [`PgCluster::restart`] recovers it.
    pub fn kill_9(&mut self) -> Result<()> {
        let pids = self.processes()?;
        // A child that exited between the listing and the signal makes
        // `kill` fail for that pid alone; what counts is that all are gone.
        let _ = signal("-KILL", &pids);
        self.running = false;
        let deadline = Instant::now() + START_TIMEOUT;
        while pids.iter().any(|&pid| process_alive(pid)) {
            if Instant::now() >= deadline {
                bail!("processes {pids:?} of the killed cluster are still alive");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

/// `kill <signal> <pids>`.
fn signal(signal: &str, pids: &[u32]) -> Result<()> {
    let mut kill = Command::new("kill");
    kill.arg(signal).args(pids.iter().map(u32::to_string));
    run(&mut kill).map(drop)
}

impl PgCluster {
    /// A hang, as of a machine that stops answering without closing
    /// anything: SIGSTOP to the postmaster and every process it started.
    /// The kernel still accepts TCP connections on its port, but no
    /// startup, query or replication message is answered until
    /// [`PgCluster::thaw`] (a frozen cluster cannot be stopped, so thaw it
    /// before it is dropped).
    pub fn freeze(&self) -> Result<()> {
        signal("-STOP", &self.processes()?).context("freezing the cluster")
    }

    /// SIGCONT to the processes [`PgCluster::freeze`] stopped.
    pub fn thaw(&self) -> Result<()> {
        signal("-CONT", &self.processes()?).context("thawing the cluster")
    }

    /// The postmaster (from `postmaster.pid`) and its children.
    fn processes(&self) -> Result<Vec<u32>> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let postmaster: u32 = fs::read_to_string(&pid_file)
            .with_context(|| format!("reading {}", pid_file.display()))?
            .lines()
            .next()
            .and_then(|line| line.trim().parse().ok())
            .with_context(|| format!("no pid in {}", pid_file.display()))?;
        let mut pids = vec![postmaster];
        pids.extend(children_of(postmaster));
        Ok(pids)
    }
}

/// The pids whose parent is `parent` (from `/proc/<pid>/stat`).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            (stat_field(&stat, 1)?.parse::<u32>().ok()? == parent).then_some(pid)
        })
        .collect()
}

/// Whether `pid` is a live process (a zombie is not).
fn process_alive(pid: u32) -> bool {
    let path = format!("/proc/{pid}/stat");
    if !Path::new("/proc/self").exists() {
        return Command::new("kill")
            .args(["-0", &pid.to_string()])
            .output()
            .is_ok_and(|o| o.status.success());
    }
    fs::read_to_string(path)
        .ok()
        .and_then(|stat| stat_field(&stat, 0).map(|state| state != "Z" && state != "X"))
        .unwrap_or(false)
}

/// Field `n` after the command name of a `/proc/<pid>/stat` line: 0 is the
/// state, 1 the parent pid. The name is in parentheses and may hold
/// spaces, so fields are counted from its closing one.
fn stat_field(stat: &str, n: usize) -> Option<&str> {
    stat.rsplit_once(')')?.1.split_whitespace().nth(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (postgres: wal (writer)) S 4200 4242 4242 0 -1";
        assert_eq!(stat_field(stat, 0), Some("S"));
        assert_eq!(stat_field(stat, 1), Some("4200"));
        assert_eq!(stat_field("garbage", 0), None);
    }

    #[test]
    fn this_process_is_alive_and_a_child_of_its_parent() {
        let me = std::process::id();
        assert!(process_alive(me));
        let stat = fs::read_to_string("/proc/self/stat").unwrap();
        let parent: u32 = stat_field(&stat, 1).unwrap().parse().unwrap();
        assert!(children_of(parent).contains(&me));
    }
}
