//! The one way to run SQL beside the server: `psql` from the server
//! binaries, over TCP, for a connection URL. The harness's admin
//! statements, a test's look at its rows, a lock held while requests
//! arrive and the bench's seeding all go through [`Psql`].

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

use crate::PgBinaries;
use crate::process::{clean_env, run_with_stdin};

/// `psql` pointed at one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psql {
    program: PathBuf,
    url: String,
}

impl Psql {
    /// For `url` (`postgres://user@127.0.0.1:port/database`, with any
    /// `?sslmode=...` libpq understands), with the `psql` of
    /// [`PgBinaries::find`]: the same version as the server, wherever `PATH`
    /// points.
    pub fn new(url: impl Into<String>) -> Result<Psql> {
        Ok(Psql::with_binaries(&PgBinaries::find()?, url))
    }

    pub fn with_binaries(bins: &PgBinaries, url: impl Into<String>) -> Psql {
        Psql {
            program: bins.binary("psql"),
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `sql` (several statements, `COPY ... FROM STDIN` data too) and
    /// returns what it printed: unaligned, tuples only, no command tags,
    /// stopping at the first error, so `select 1` gives `"1\n"` and a row
    /// is its fields joined by `|`. The SQL goes through stdin, so it never
    /// shows up in process listings or error messages; an error carries
    /// psql's stderr.
    pub fn run(&self, sql: &str) -> Result<String> {
        let mut cmd = self.base_command();
        cmd.args(["-f", "-"]);
        let output = run_with_stdin(&mut cmd, Some(sql.as_bytes()))?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// What `sql` prints, trimmed: for reading one value (or a few rows).
    pub fn value(&self, sql: &str) -> Result<String> {
        Ok(self.run(sql)?.trim().to_owned())
    }

    /// A psql process for `sql`, not yet started, for SQL that must run
    /// beside something else (holding a lock while requests arrive). The
    /// SQL is one `-c` string, so its statements share one transaction
    /// unless it says otherwise, and `pg_stat_activity` shows it whole.
    pub fn command(&self, sql: &str) -> Command {
        let mut cmd = self.base_command();
        cmd.args(["-c", sql]);
        cmd
    }

    fn base_command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        clean_env(&mut cmd);
        cmd.env("PGCLIENTENCODING", "UTF8")
            .env("PGCONNECT_TIMEOUT", "5")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(&self.url);
        cmd
    }
}

/// Database names are interpolated into SQL inside double quotes and into
/// URLs; this alphabet needs no escaping and cannot be mistaken for a
/// connection string. 63 bytes is PostgreSQL's identifier limit.
pub(crate) fn validate_name(what: &str, name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        bail!("invalid {what} {name:?}: use 1 to 63 characters from [a-z0-9_]");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in ["postgres", "app_1", "t", &"a".repeat(63)] {
            assert!(validate_name("x", ok).is_ok(), "{ok}");
        }
        for bad in ["", "App", "a-b", "a b", "a\"b", "a;b", &"a".repeat(64)] {
            assert!(validate_name("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commands_carry_the_url_and_stop_on_errors() {
        let bins = PgBinaries {
            bin_dir: PathBuf::from("/pg/bin"),
        };
        let psql = Psql::with_binaries(&bins, "postgres://postgres@127.0.0.1:5/app");
        let cmd = psql.command("select 1");
        assert_eq!(cmd.get_program(), "/pg/bin/psql");
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(
            args,
            [
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                "postgres://postgres@127.0.0.1:5/app",
                "-c",
                "select 1"
            ]
        );
        // No PG* variable of ours may redirect it (PGHOST, PGDATABASE, ...).
        assert!(
            cmd.get_envs()
                .any(|(k, v)| k == "PGCONNECT_TIMEOUT" && v.is_some())
        );
    }
}
