//! The database's own ceiling: `pgbench` running exactly the statements
//! that one `GET /api/v1/list/anime/{animeId}` issues.
//!
//! The statements are not copied from the server's source: they are
//! captured from PostgreSQL's log while the running server answers a few
//! such requests (`log_min_duration_statement = 0` for a moment), with the
//! parameters the server bound. Each parameter is then mapped, by value,
//! to a pgbench variable, so the script stays exact when the server's SQL
//! changes.
//!
//! One deviation is unavoidable: pgbench variables are numbers, and the
//! token hash is 32 random bytes, so the hash parameter becomes a scalar
//! subquery `(SELECT token_hash FROM api_tokens WHERE id = :tok)` on the
//! primary key: one extra index probe inside the same statement (a few
//! microseconds, which makes pgbench slightly slower, i.e. favours the
//! server's ratio by that much).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::load::Stats;

/// A statement the server executed, with its bound parameters as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    pub sql: String,
    pub params: Vec<String>,
}

/// Statements (`execute <name>: SQL` lines with their `parameters:`
/// detail) in a slice of PostgreSQL's log, in order, without repeats.
pub fn parse_log(text: &str) -> Vec<Logged> {
    let mut out: Vec<Logged> = Vec::new();
    let mut current: Option<Logged> = None;
    let flush = |current: &mut Option<Logged>, out: &mut Vec<Logged>| {
        if let Some(stmt) = current.take()
            && !out.iter().any(|s| s.sql == stmt.sql)
        {
            out.push(stmt);
        }
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('\t') {
            // A continuation of a multi-line statement.
            if let Some(stmt) = current.as_mut()
                && stmt.params.is_empty()
            {
                stmt.sql.push('\n');
                stmt.sql.push_str(rest);
            }
            continue;
        }
        if let Some(pos) = line.find("  execute ") {
            flush(&mut current, &mut out);
            let rest = &line[pos + "  execute ".len()..];
            if let Some((_, sql)) = rest.split_once(": ") {
                current = Some(Logged {
                    sql: sql.to_string(),
                    params: Vec::new(),
                });
            }
            continue;
        }
        if let Some(pos) = line.find("DETAIL:  parameters: ") {
            if let Some(stmt) = current.as_mut() {
                stmt.params = parse_params(&line[pos + "DETAIL:  parameters: ".len()..]);
            }
            continue;
        }
        if line.contains("LOG:  ") || line.contains("ERROR:  ") {
            flush(&mut current, &mut out);
        }
    }
    flush(&mut current, &mut out);
    out
}

/// `$1 = '\x00ab', $2 = '60', $3 = NULL` → `["\x00ab", "60", "NULL"]`.
fn parse_params(text: &str) -> Vec<String> {
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        // Skip to the next ` = `.
        let mut seen = String::new();
        for c in chars.by_ref() {
            seen.push(c);
            if seen.ends_with(" = ") {
                break;
            }
        }
        if !seen.ends_with(" = ") {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                        value.push('\'');
                    } else {
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.push(value);
    }
    params
}

/// What each captured parameter value stands for.
pub struct Known<'a> {
    /// The token hash as PostgreSQL logs a bytea: `\x` + hex.
    pub hash: &'a str,
    pub account_id: i64,
    pub anime_id: i64,
    pub window_secs: &'a str,
}

/// The pgbench script for the captured statements.
///
/// Tokens are walked like wrk walks its rotation file: step k uses token
/// index `(k * mult) % ntok` (token id = index + 1), and client c's n-th
/// transaction is step `start + (n - 1) * nclients + c`, so the clients
/// sweep the rotation together from `start`. The seed makes token index i
/// belong to account `1 + i / per_account`, whose read target is anime
/// `lo + account % cnt`. All but `n` (a per-client counter, `-D n=0`) are
/// given with `-D`.
pub fn script(statements: &[Logged], known: &Known) -> Result<String> {
    let mut out = String::from(
        "-- Written by `cargo xtask bench` from the statements the server issued\n\
         -- for one GET /api/v1/list/anime/{animeId} (captured from PostgreSQL's log).\n\
         \\set n :n + 1\n\
         \\set idx ((:start + (:n - 1) * :nclients + :client_id) * :mult) % :ntok\n\
         \\set tok :idx + 1\n\
         \\set account 1 + :idx / :per_account\n\
         \\set anime :lo + :account % :cnt\n",
    );
    for stmt in statements {
        let mut sql = stmt.sql.clone();
        // Highest index first so that $1 does not eat the start of $10.
        for (i, value) in stmt.params.iter().enumerate().rev() {
            let replacement = if value == known.hash {
                "(SELECT token_hash FROM api_tokens WHERE id = :tok)".to_string()
            } else if value == &known.account_id.to_string() {
                ":account".to_string()
            } else if value == &known.anime_id.to_string() {
                ":anime".to_string()
            } else if value == known.window_secs {
                ":window".to_string()
            } else {
                bail!(
                    "cannot map parameter ${} = {value:?} of a captured statement to a pgbench variable: {}",
                    i + 1,
                    stmt.sql
                );
            };
            sql = sql.replace(&format!("${}", i + 1), &replacement);
        }
        out.push_str(&sql.replace('\n', " "));
        out.push_str(";\n");
    }
    Ok(out)
}

pub struct Pgbench<'a> {
    pub bin: &'a Path,
    pub port: u16,
    pub database: &'a str,
    pub script: &'a Path,
    pub clients: usize,
    pub duration: Duration,
    pub vars: &'a [(String, String)],
    /// Scratch directory for the per-transaction logs.
    pub log_dir: &'a Path,
}

impl Pgbench<'_> {
    /// `pgbench -n -M prepared -c N -j 1 -T S -l`; throughput from its
    /// report, latency percentiles from its per-transaction log.
    pub fn run(&self) -> Result<Stats> {
        if self.log_dir.exists() {
            std::fs::remove_dir_all(self.log_dir)?;
        }
        std::fs::create_dir_all(self.log_dir)?;
        let mut cmd = Command::new(self.bin);
        cmd.current_dir(self.log_dir)
            .args(["-n", "-M", "prepared", "-j", "1", "-l"])
            .arg(format!("-c{}", self.clients))
            .arg(format!("-T{}", self.duration.as_secs().max(1)))
            .arg("-f")
            .arg(self.script)
            .args(["-h", "127.0.0.1", "-U", "postgres"])
            .arg("-p")
            .arg(self.port.to_string());
        for (k, v) in self.vars {
            cmd.arg("-D").arg(format!("{k}={v}"));
        }
        cmd.arg(self.database);
        let out = cmd.output().context("running pgbench")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "pgbench failed ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let field = |prefix: &str| -> Option<f64> {
            stdout
                .lines()
                .find_map(|l| l.trim().strip_prefix(prefix))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        };
        let tps = field("tps = ").context("pgbench printed no tps")?;
        let failed = field("number of failed transactions: ").unwrap_or(0.0) as u64;
        let mut latencies = Vec::new();
        for entry in std::fs::read_dir(self.log_dir)? {
            let text = std::fs::read_to_string(entry?.path())?;
            latencies.extend(
                text.lines()
                    .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()),
            );
        }
        latencies.sort_unstable();
        let pick = |q: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
            latencies[i] as f64 / 1000.0
        };
        let processed = field("number of transactions actually processed: ").unwrap_or(0.0);
        Ok(Stats {
            requests: processed as u64 + failed,
            seconds: self.duration.as_secs_f64(),
            rps: tps,
            p50_ms: pick(0.50),
            p90_ms: pick(0.90),
            p99_ms: pick(0.99),
            max_ms: pick(1.0),
            errors: failed,
            error_detail: if failed > 0 {
                format!("failed transactions {failed}")
            } else {
                String::new()
            },
            bytes: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_and_parameters_are_read_from_the_log() {
        let log = "2026-01-01 00:00:00.000 UTC [10] LOG:  duration: 0.100 ms  parse s0: SELECT 1\n\
                   2026-01-01 00:00:00.000 UTC [10] LOG:  duration: 0.200 ms  execute s0: SELECT a FROM t WHERE h = $1 AND w = $2::float8 AND k = 't:'\n\
                   2026-01-01 00:00:00.000 UTC [10] DETAIL:  parameters: $1 = '\\xabcd', $2 = '60'\n\
                   2026-01-01 00:00:00.000 UTC [11] LOG:  duration: 0.050 ms  execute s1: SELECT b\n\
                   \tFROM u WHERE x = $1 AND y = $2\n\
                   2026-01-01 00:00:00.000 UTC [11] DETAIL:  parameters: $1 = '7', $2 = 'it''s'\n\
                   2026-01-01 00:00:00.000 UTC [10] LOG:  duration: 0.200 ms  execute s0: SELECT a FROM t WHERE h = $1 AND w = $2::float8 AND k = 't:'\n\
                   2026-01-01 00:00:00.000 UTC [10] DETAIL:  parameters: $1 = '\\xffff', $2 = '60'\n";
        let stmts = parse_log(log);
        assert_eq!(stmts.len(), 2, "{stmts:?}");
        assert_eq!(stmts[0].params, vec!["\\xabcd", "60"]);
        assert_eq!(stmts[1].sql, "SELECT b\nFROM u WHERE x = $1 AND y = $2");
        assert_eq!(stmts[1].params, vec!["7", "it's"]);
    }

    #[test]
    fn parameters_become_pgbench_variables() {
        let stmts = vec![
            Logged {
                sql: "SELECT * FROM t WHERE h = $1 AND w = $2::float8".into(),
                params: vec!["\\xab".into(), "60".into()],
            },
            Logged {
                sql: "SELECT * FROM e WHERE a = $1 AND b = $2".into(),
                params: vec!["12".into(), "34".into()],
            },
        ];
        let known = Known {
            hash: "\\xab",
            account_id: 12,
            anime_id: 34,
            window_secs: "60",
        };
        let script = script(&stmts, &known).unwrap();
        assert!(script.contains(
            "WHERE h = (SELECT token_hash FROM api_tokens WHERE id = :tok) AND w = :window::float8;"
        ));
        assert!(script.contains("WHERE a = :account AND b = :anime;"));
        let unknown = Known {
            anime_id: 35,
            ..known
        };
        assert!(self::script(&stmts, &unknown).is_err());
    }
}
