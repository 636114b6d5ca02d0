//! The server's operator CLI, run as a process, as an operator would.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

/// `anitrack-server --database-url URL ...`.
pub struct ServerCli<'a> {
    pub bin: &'a Path,
    pub database_url: &'a str,
}

impl ServerCli<'_> {
    /// Runs one command to completion; its standard output, or an error
    /// carrying its standard error.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let mut child = Command::new(self.bin)
            .arg("--database-url")
            .arg(self.database_url)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", self.bin.display()))?;
        if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
            pipe.write_all(input.as_bytes())
                .context("writing to anitrack-server's standard input")?;
        }
        let out = child
            .wait_with_output()
            .with_context(|| format!("waiting for {}", self.bin.display()))?;
        if !out.status.success() {
            bail!(
                "anitrack-server {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `token create`: the plain token, which it prints alone on its last
    /// line.
    pub fn token_create(&self, email: &str, name: &str) -> Result<String> {
        let out = self.run(&["token", "create", "--email", email, "--name", name], None)?;
        out.lines()
            .last()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .context("token create printed nothing")
    }
}

/// The hash concurrency `serve` uses when not told, as its own `--help`
/// states it (`[default: N]`, computed from this machine's CPUs). Asking
/// the binary under test keeps the bench from assuming a policy the
/// server may have changed, as it once did (docs/benchmarks.md).
pub fn default_hash_concurrency(bin: &Path) -> Result<usize> {
    let out = Command::new(bin)
        .args(["serve", "--help"])
        .output()
        .with_context(|| format!("running {} serve --help", bin.display()))?;
    let help = String::from_utf8_lossy(&out.stdout);
    option_default(&help, "--hash-concurrency").with_context(|| {
        format!(
            "`{} serve --help` states no `[default: N]` for --hash-concurrency; \
             pass --hash-concurrency to the bench",
            bin.display()
        )
    })
}

/// The `[default: N]` in `flag`'s entry of clap's help text: its own line
/// and the description lines under it, up to the next option's line.
fn option_default(help: &str, flag: &str) -> Option<usize> {
    let mut lines = help
        .lines()
        .skip_while(|line| !line.trim_start().split([' ', ',']).any(|word| word == flag));
    let first = lines.next()?;
    let rest = lines.take_while(|line| !line.trim_start().starts_with('-'));
    std::iter::once(first).chain(rest).find_map(|line| {
        let value = &line[line.find("[default: ")? + "[default: ".len()..];
        value[..value.find(']')?].trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::option_default;

    /// Shaped like the real `anitrack-server serve --help`.
    const HELP: &str = "\
Serve the API

Usage: anitrack-server serve [OPTIONS]

Options:
      --db-statement-timeout-ms <DB_STATEMENT_TIMEOUT_MS>
          Server-side bound on any one SQL statement, in milliseconds [env: ANITRACK_DB_STATEMENT_TIMEOUT_MS=] [default: 5000]
      --hash-concurrency <HASH_CONCURRENCY>
          Password hashes computed at once (each takes 19 MiB for a few tens of milliseconds); further sign-ins queue [env: ANITRACK_HASH_CONCURRENCY=] [default: 3]
      --db-lock-timeout-ms <DB_LOCK_TIMEOUT_MS>
          Longest a statement waits for a row lock [default: 1000]
      --no-default <X>
          Nothing here
      --after <Y>
          Something else [default: 7]
  -h, --help
          Print help
";

    #[test]
    fn reads_an_options_default_and_only_its_own() {
        assert_eq!(option_default(HELP, "--hash-concurrency"), Some(3));
        assert_eq!(option_default(HELP, "--db-lock-timeout-ms"), Some(1000));
        assert_eq!(option_default(HELP, "--no-default"), None);
        assert_eq!(option_default(HELP, "--missing"), None);
    }
}
