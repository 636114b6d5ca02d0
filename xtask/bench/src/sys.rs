//! What the bench reads from the operating system: CPU time of the
//! processes under test, the server's memory, the machine it runs on.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// `/proc/<pid>/stat` times are in clock ticks; Linux reports them at
/// USER_HZ, which is 100 on every architecture it supports.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// The fields of `/proc/<pid>/stat` after the command name: index 0 is
/// field 3 (`state`), so field N is index N - 3.
fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    // `state` is a letter; keep the numeric fields' positions by mapping
    // anything unparsable to 0.
    Some(
        rest.split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// CPU seconds of a process (all its threads); with `reaped`, plus the
/// children it has waited for.
pub fn process_cpu(pid: u32, reaped: bool) -> f64 {
    let Some(f) = stat_fields(pid) else {
        return 0.0;
    };
    let get = |field: usize| f.get(field - 3).copied().unwrap_or(0);
    let mut ticks = get(14) + get(15);
    if reaped {
        ticks += get(16) + get(17);
    }
    ticks as f64 / CLOCK_TICKS_PER_SEC
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?
        .get(1)
        .and_then(|&ppid| u32::try_from(ppid).ok())
}

/// CPU seconds of a process tree one level deep: the process with the
/// children it reaped, plus its live children (PostgreSQL's backends are
/// children of the postmaster, which reaps them when they exit).
pub fn tree_cpu(pid: u32) -> f64 {
    let mut total = process_cpu(pid, true);
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if parent_of(child) == Some(pid) {
                total += process_cpu(child, false);
            }
        }
    }
    total
}

/// Busy and total CPU seconds of the whole machine (all cores).
fn machine_cpu() -> (f64, f64) {
    let Ok(stat) = fs::read_to_string("/proc/stat") else {
        return (0.0, 0.0);
    };
    let Some(line) = stat.lines().next() else {
        return (0.0, 0.0);
    };
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().sum();
    // idle and iowait
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (
        (total - idle) as f64 / CLOCK_TICKS_PER_SEC,
        total as f64 / CLOCK_TICKS_PER_SEC,
    )
}

/// Who used the CPU during a run.
#[derive(Clone, Copy, Debug)]
pub struct CpuSnapshot {
    at: Instant,
    server: f64,
    postgres: f64,
    /// This process plus the children it reaped (wrk, pgbench).
    load: f64,
    machine_busy: f64,
}

/// CPU used between two snapshots, in seconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuUse {
    pub wall: f64,
    pub server: f64,
    pub postgres: f64,
    /// The load generator (wrk, pgbench or this process's open-loop client).
    pub load: f64,
    /// Everything else on the machine (builds, tests of whoever shares it).
    pub other: f64,
}

pub fn snapshot(server_pid: Option<u32>, postmaster_pid: u32) -> CpuSnapshot {
    CpuSnapshot {
        at: Instant::now(),
        server: server_pid.map_or(0.0, |pid| process_cpu(pid, false)),
        postgres: tree_cpu(postmaster_pid),
        load: process_cpu(std::process::id(), true),
        machine_busy: machine_cpu().0,
    }
}

impl CpuSnapshot {
    pub fn until(&self, later: &CpuSnapshot) -> CpuUse {
        let server = (later.server - self.server).max(0.0);
        let postgres = (later.postgres - self.postgres).max(0.0);
        let load = (later.load - self.load).max(0.0);
        let busy = (later.machine_busy - self.machine_busy).max(0.0);
        CpuUse {
            wall: later.at.duration_since(self.at).as_secs_f64(),
            server,
            postgres,
            load,
            other: (busy - server - postgres - load).max(0.0),
        }
    }
}

/// A `VmRSS`-style field of `/proc/<pid>/status`, in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Resets the peak RSS (`VmHWM`) of a process to its current RSS (Linux
/// 4.0+, `clear_refs` value 5). False when the kernel refused.
pub fn reset_peak_rss(pid: u32) -> bool {
    fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The postmaster's pid, from `postmaster.pid` in the data directory.
pub fn postmaster_pid(data_dir: &Path) -> anyhow::Result<u32> {
    let text = fs::read_to_string(data_dir.join("postmaster.pid"))?;
    Ok(text.lines().next().unwrap_or("").trim().parse()?)
}

fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

/// The machine, as recorded with every result.
pub fn machine(pgbench: &Path) -> serde_json::Value {
    let cpu_model = fs::read_to_string("/proc/cpuinfo").ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    });
    let mem_kib = fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    });
    serde_json::json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory_mib": mem_kib.map(|k| k / 1024),
        "cpu_model": cpu_model,
        "kernel": fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_string()),
        "rustc": first_line("rustc", &["--version"]),
        "wrk": first_line("wrk", &["-v"]),
        "pgbench": first_line(&pgbench.to_string_lossy(), &["--version"]),
    })
}

/// `git rev-parse HEAD`, and whether the work tree has changes.
pub fn git_commit(root: &Path) -> (Option<String>, Option<bool>) {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "HEAD"]);
    let dirty = git(&["status", "--porcelain"]).map(|s| !s.is_empty());
    (commit, dirty)
}
