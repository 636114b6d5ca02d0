//! `cargo xtask topology`: the scale-out path of `docs/scaling.md` on this
//! machine, run and measured.
//!
//! 1. A durable primary and a streaming standby (`pg_basebackup`) that the
//!    primary waits for (`synchronous_standby_names`); a PgBouncer in
//!    transaction pooling mode in front of each (none with `direct`).
//! 2. Two `anitrack-server` instances (the debug build) whose
//!    `DATABASE_URL` lists both PgBouncers (or both clusters) with
//!    `target_session_attrs=read-write`; the CLI uses the same URL.
//!    Their catalog reads go to the standby (its PgBouncer) as a replica
//!    (`--db-replica-url`, `replica.rs`).
//! 3. The seed's flows through both instances (`flows.rs`), the catalog
//!    read from the standby.
//! 4. Writers on both instances; the primary is killed (`kill -9` of the
//!    postmaster and its processes) mid-writes, and the standby promoted
//!    at once; the writers go on until both instances have served writes
//!    again (`failover.rs`).
//! 5. Checks (`verify.rs`): every acknowledged write is in the promoted
//!    database, in `GET /list` on both instances and in the change feed;
//!    every failure was a JSON 503 with `Retry-After`, none took longer
//!    than [`api::REQUEST_BOUND`]; both instances serve again, the same
//!    processes. The figures are printed and written as JSON.

mod api;
mod failover;
mod flows;
mod replica;
mod stack;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anitrack_conformance::harness::Server;
use anyhow::{Context as _, Result, bail};
use serde_json::json;

use crate::api::Api;
use crate::failover::{InstanceFigures, Record, SharedRecord, all_recovered, figures, lock};
use crate::replica::ReplicaFigures;
use crate::stack::{DATABASE, Stack};
use crate::verify::Verdict;

/// Writes acknowledged after the promotion that count as an instance
/// serving again.
const RECOVERED_WRITES: usize = 20;
/// Longest the instances may take to serve writes again after the
/// promotion.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(30);
/// The instances' settings beyond the defaults: the writers and the flows
/// would otherwise meet the per-token and sign-in rate limits (and a log
/// without colour codes reads better when quoted).
const SERVER_ENV: [(&str, &str); 3] = [
    ("ANITRACK_RATE_LIMIT_PER_MINUTE", "1000000"),
    ("ANITRACK_TOKEN_RATE_LIMIT_PER_MINUTE", "1000"),
    ("NO_COLOR", "1"),
];
/// Behind PgBouncer in transaction mode: no startup options, unnamed
/// statements (`anitrack-server --help`).
const POOLER_ENV: (&str, &str) = ("ANITRACK_DB_POOLER", "transaction");
const INSTANCE_NAMES: [&str; 2] = ["A", "B"];

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The URL lists the clusters themselves instead of their PgBouncers.
    pub direct: bool,
    /// Writer loops per instance, each with an account of its own.
    pub writers_per_instance: usize,
    /// How long the writers run before the primary is killed.
    pub writes_before_kill: Duration,
    /// The demo catalog (`server/catalog/demo-anilist.json`).
    pub demo_catalog: PathBuf,
    /// Where the figures go as JSON (`target/topology/results.json`).
    pub results_file: Option<PathBuf>,
}

/// The figures of one run.
#[derive(Debug)]
pub struct Report {
    pub mode: &'static str,
    pub instances: Vec<InstanceFigures>,
    pub replica: Vec<ReplicaFigures>,
    pub acked_before_kill: usize,
    pub kill_took: Duration,
    pub promote_took: Duration,
    pub verdict: Verdict,
    pub took: Duration,
}

impl Report {
    fn to_json(&self) -> serde_json::Value {
        let secs = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
        json!({
            "mode": self.mode,
            "acknowledged_writes": self.verdict.acked,
            "acknowledged_writes_lost": self.verdict.lost,
            "acknowledged_before_kill": self.acked_before_kill,
            "kill_s": secs(Some(self.kill_took)),
            "promote_s": secs(Some(self.promote_took)),
            "took_s": secs(Some(self.took)),
            "problems": self.verdict.problems,
            "catalog_reads": self.replica.iter().zip(INSTANCE_NAMES).map(|(r, name)| json!({
                "instance": name,
                "replica": r.to_json(),
            })).collect::<Vec<_>>(),
            "instances": self.instances.iter().zip(INSTANCE_NAMES).map(|(f, name)| json!({
                "instance": name,
                "requests": f.requests,
                "acknowledged": f.acked,
                "json_503_with_retry_after": f.refused_503,
                "other_errors": f.other_errors,
                "first_failure_after_kill_s": secs(f.first_failure_after_kill),
                "gap_s": secs(f.gap),
                "recovered_after_kill_s": secs(f.recovered_after_kill),
                "slowest_answer_s": secs(Some(f.slowest)),
            })).collect::<Vec<_>>(),
        })
    }
}

/// Sets the writers' stop flag however `run` leaves.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Brings the topology up, runs the flows and the failover, checks and
/// prints. An error names every check that failed (after the figures).
pub fn run(options: &Options) -> Result<Report> {
    let started = Instant::now();
    let mode = if options.direct {
        "direct"
    } else {
        "pgbouncer"
    };
    println!(
        "topology: {}",
        if options.direct {
            "direct: the instances' URL lists the two PostgreSQL servers themselves"
        } else {
            "through PgBouncer: the instances' URL lists one PgBouncer per PostgreSQL server"
        }
    );
    let mut stack = Stack::start(options.direct)?;
    let url = stack.database_url();
    println!("topology: DATABASE_URL={url}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let writers = options.writers_per_instance * 2;
    let replica_url = stack.replica_url();
    println!("topology: the instances read the catalog from ANITRACK_DB_REPLICA_URL={replica_url}");
    let mut server_env = SERVER_ENV.to_vec();
    server_env.push(("ANITRACK_DB_REPLICA_URL", replica_url.as_str()));
    let mut global = Vec::new();
    if !options.direct {
        server_env.push(POOLER_ENV);
        global = vec!["--db-pooler".to_owned(), POOLER_ENV.1.to_owned()];
        println!(
            "topology: the instances and the CLI run with --db-pooler {}",
            POOLER_ENV.1
        );
    }
    let cli = flows::Cli {
        database_url: url.clone(),
        global,
    };
    runtime.block_on(flows::seed_with_cli(&cli, &options.demo_catalog, writers))?;
    let mut servers = Vec::new();
    for name in INSTANCE_NAMES {
        let server = runtime
            .block_on(Server::start(&url, &server_env))
            .with_context(|| format!("starting instance {name}"))?;
        println!(
            "topology: instance {name}: anitrack-server serve on {} (pid {})",
            server.base_url(),
            server.pid().unwrap_or_default()
        );
        servers.push(server);
    }
    let pids: Vec<Option<u32>> = servers.iter().map(Server::pid).collect();
    let apis = [
        Api::new(&servers[0].base_url())?,
        Api::new(&servers[1].base_url())?,
    ];
    let result = failover_and_check(
        options, &mut stack, &runtime, &apis, &servers, &cli, writers,
    );
    // The same processes as at the start, and SIGTERM still ends them well.
    let mut problems = Vec::new();
    let failed = result
        .as_ref()
        .map_or(true, |report| !report.verdict.problems.is_empty());
    for ((server, pid), name) in servers.iter_mut().zip(&pids).zip(INSTANCE_NAMES) {
        if server.pid() != *pid {
            problems.push(format!("instance {name} is not the process it was"));
        }
        let log = server.log_text();
        match runtime.block_on(server.terminate(Duration::from_secs(10))) {
            Ok(status) if status.success() => {}
            Ok(status) => problems.push(format!("instance {name} exited with {status}")),
            Err(error) => problems.push(format!("instance {name}: {error:#}")),
        }
        if failed || !problems.is_empty() {
            println!(
                "topology: instance {name}'s last errors and warnings:\n{}",
                log_tail(&log)
            );
        }
    }
    if failed {
        for bouncer in &stack.bouncers {
            let log = std::fs::read_to_string(bouncer.log_file()).unwrap_or_default();
            println!(
                "topology: PgBouncer :{} (-> :{}), its last errors and warnings:\n{}",
                bouncer.port(),
                bouncer.upstream_port(),
                log_tail(&log)
            );
        }
    }
    let mut report = result?;
    report.verdict.problems.extend(problems);
    report.took = started.elapsed();
    if let Some(path) = &options.results_file {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&report.to_json())?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        println!("topology: figures written to {}", path.display());
    }
    if !report.verdict.problems.is_empty() {
        bail!(
            "topology ({mode}): {} check(s) failed:\n  {}",
            report.verdict.problems.len(),
            report.verdict.problems.join("\n  ")
        );
    }
    println!("topology: ok ({mode}, {:.1?})", report.took);
    Ok(report)
}

/// The flows, the writers, the kill and the promotion, the checks.
fn failover_and_check(
    options: &Options,
    stack: &mut Stack,
    runtime: &tokio::runtime::Runtime,
    apis: &[Api; 2],
    servers: &[Server],
    cli: &flows::Cli,
    writers: usize,
) -> Result<Report> {
    let accounts = runtime.block_on(flows::run(cli, apis, writers))?;
    let token_of = |instance: usize| {
        accounts
            .iter()
            .find(|a| a.instance == instance)
            .map(|a| a.token.clone())
            .unwrap_or_default()
    };
    let mut replica = vec![ReplicaFigures::default(); 2];
    let mut replica_problems = Vec::new();
    for (i, name) in INSTANCE_NAMES.iter().enumerate() {
        let served = runtime.block_on(replica::until_read_from_replica(
            &apis[i],
            &token_of(i),
            &servers[i],
        ));
        match served {
            Ok(served) => replica[i].reads_before_kill = served,
            Err(error) => replica_problems.push(format!("instance {name}: {error:#}")),
        }
    }
    println!(
        "topology: catalog reads served by the standby before the kill: A {}, B {}",
        replica[0].reads_before_kill, replica[1].reads_before_kill
    );
    let anime: Arc<Vec<i64>> = Arc::new(
        stack
            .primary
            .sql(DATABASE)?
            .run("SELECT id FROM anime ORDER BY id")?
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect(),
    );

    let record: SharedRecord = Arc::new(std::sync::Mutex::new(Record::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_drop = StopOnDrop(stop.clone());
    let handles: Vec<_> = accounts
        .iter()
        .enumerate()
        .map(|(i, account)| {
            runtime.spawn(failover::writer_loop(
                i,
                account.clone(),
                apis[account.instance].clone(),
                anime.clone(),
                stop.clone(),
                record.clone(),
            ))
        })
        .collect();
    println!(
        "topology: {writers} writers ({} per instance) adding and changing list entries",
        options.writers_per_instance
    );
    std::thread::sleep(options.writes_before_kill);
    let acked_before_kill = lock(&record).acks.len();
    let killed = Instant::now();
    stack.primary.kill_9().context("killing the primary")?;
    let kill_took = killed.elapsed();
    println!(
        "topology: killed the primary (kill -9 of the postmaster and its processes) after \
         {acked_before_kill} acknowledged writes; promoting the standby"
    );
    stack.standby.promote().context("promoting the standby")?;
    let promoted = Instant::now();
    let promote_took = promoted.duration_since(killed) - kill_took;
    println!(
        "topology: standby promoted (pg_ctl promote -w returned after {promote_took:.2?}; it \
         polls every 0.1 s); waiting for both instances to write again"
    );
    let deadline = promoted + RECOVERY_DEADLINE;
    while !all_recovered(&record, 2, promoted, RECOVERED_WRITES) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    runtime.block_on(async {
        for handle in handles {
            let _ = handle.await;
        }
    });

    let (events, acks) = {
        let record = lock(&record);
        (record.events.clone(), record.acks.clone())
    };
    let instances: Vec<InstanceFigures> = (0..2)
        .map(|i| figures(&events, i, killed, promoted))
        .collect();
    let mut verdict = Verdict::default();
    verdict.problems.extend(replica_problems);
    for (figures, name) in instances.iter().zip(INSTANCE_NAMES) {
        print_figures(name, figures);
        if figures.failures_before_kill > 0 {
            verdict.problems.push(format!(
                "instance {name}: {} failures before the kill",
                figures.failures_before_kill
            ));
        }
        if figures.other_errors > 0 {
            verdict.problems.push(format!(
                "instance {name}: {} answers that were not 2xx nor a JSON 503 with Retry-After \
                 (or no answer within {:?}): {}",
                figures.other_errors,
                api::REQUEST_BOUND,
                figures.other_examples.join("; ")
            ));
        }
        if figures.acked_after_promote < RECOVERED_WRITES {
            verdict.problems.push(format!(
                "instance {name}: {} writes acknowledged within {RECOVERY_DEADLINE:?} of the \
                 promotion (wanted {RECOVERED_WRITES}): it did not serve again",
                figures.acked_after_promote
            ));
        }
    }

    // Every acknowledged write, against the promoted database, GET /list
    // on both instances and the change feed.
    let psql = stack.standby_sql()?;
    for (i, account) in accounts.iter().enumerate() {
        let database = verify::database_entries(&psql, &account.email)?;
        let mine: Vec<&failover::Ack> = acks.iter().filter(|a| a.writer == i).collect();
        runtime.block_on(verify::check_account(
            apis,
            account,
            &mine,
            &database,
            &mut verdict,
        ))?;
    }
    println!(
        "topology: {} acknowledged writes ({} live entries): {} lost; GET /list on both \
         instances and the change feed followed across the failover agree with the database: {}",
        verdict.acked,
        verdict.live_entries,
        verdict.lost,
        if verdict.problems.is_empty() {
            "ok"
        } else {
            "NO"
        }
    );

    // Both instances serve the rest too: sign-in, the catalog, readiness.
    let after = runtime.block_on(async {
        for (api, name) in apis.iter().zip(INSTANCE_NAMES) {
            let token = flows::issue_token(api, &accounts[0].email, "after the failover").await?;
            api.get(replica::CATALOG_READ, Some(&token))
                .await
                .into_json("GET /anime after the failover", 200)?;
            let ready = api.get("/ready", None).await;
            if !ready.is_success() {
                bail!(
                    "instance {name}: GET /ready after the failover: {}",
                    ready.describe()
                );
            }
        }
        Ok(())
    });
    for ((figures, server), name) in replica.iter_mut().zip(servers).zip(INSTANCE_NAMES) {
        let log = server.log_text();
        figures.states = replica::states(&log);
        figures.last_read_from = replica::last_read_from(&log).map(str::to_owned);
        println!(
            "topology: instance {name}: the replica's states logged: {}; the catalog read after \
             the failover read from the {}",
            figures.states.join(" -> "),
            figures.last_read_from.as_deref().unwrap_or("-")
        );
    }
    match after {
        Ok(()) => println!(
            "topology: after the failover both instances issue tokens, search the catalog and \
             report ready, without a restart: ok"
        ),
        Err(error) => verdict
            .problems
            .push(format!("after the failover: {error:#}")),
    }
    Ok(Report {
        mode: if options.direct {
            "direct"
        } else {
            "pgbouncer"
        },
        instances,
        replica,
        acked_before_kill,
        kill_took,
        promote_took,
        verdict,
        took: Duration::ZERO,
    })
}

/// The last 12 error or warning lines of a log (else its last lines).
fn log_tail(log: &str) -> String {
    let mut lines: Vec<&str> = log
        .lines()
        .rev()
        .filter(|line| {
            ["ERROR", "WARN", "closing because"]
                .iter()
                .any(|word| line.contains(word))
        })
        .take(12)
        .collect();
    if lines.is_empty() {
        lines = log.lines().rev().take(12).collect();
    }
    lines.reverse();
    lines.join("\n")
}

fn print_figures(name: &str, f: &InstanceFigures) {
    let secs = |d: Option<Duration>| {
        d.map(|d| format!("{:.2} s", d.as_secs_f64()))
            .unwrap_or_else(|| "-".to_owned())
    };
    println!(
        "topology: instance {name}: gap {} (first failure to first success), first failure {} \
         after the kill, serving again {} after the kill; {} requests: \
         {} acknowledged, {} JSON 503 with Retry-After, {} other errors; slowest answer {:.2} s",
        secs(f.gap),
        secs(f.first_failure_after_kill),
        secs(f.recovered_after_kill),
        f.requests,
        f.acked,
        f.refused_503,
        f.other_errors,
        f.slowest.as_secs_f64()
    );
}
