//! The request rotations: one order over the bench users' tokens that
//! wrk, the open-loop client and pgbench all walk, written as the files
//! wrk's script reads and kept in memory for the open-loop client.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::load::{self, Line};
use crate::seed::{self, Dataset};

/// A multiplier coprime with `n` near `0.618 n` (Fibonacci hashing):
/// consecutive steps land far apart, on different pages of every table.
pub fn rotation_multiplier(n: usize) -> usize {
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let mut m = (n as f64 * 0.618) as usize | 1;
    while m > 1 && gcd(m, n) != 1 {
        m += 2;
    }
    m.max(1)
}

/// The rotation files wrk reads, and the same lines for the open-loop client.
pub struct Lines {
    /// Token index of rotation step k: `(k * rotation_multiplier) % n`.
    pub rotation_multiplier: usize,
    pub read_all: PathBuf,
    pub read_all_lines: Vec<Line>,
    pub read_100: PathBuf,
    pub health: PathBuf,
    pub list5k: PathBuf,
    pub list5k_lines: Vec<Line>,
    pub patch: PathBuf,
    pub patch_lines: Vec<Line>,
    pub login: PathBuf,
    pub user_lines: Vec<Line>,
}

impl Lines {
    pub fn write(dir: &Path, data: &Dataset) -> Result<Lines> {
        let dir = dir.join("lines");
        std::fs::create_dir_all(&dir)?;
        // Every rotation over the bench users' tokens walks them in the
        // same order, token index (k * mult) % n for k = 0, 1, ...: a
        // permutation that pgbench can compute too. Runs continue where the
        // previous one stopped (`Bench::cursor`), so every token is visited
        // once per n requests, whichever tool sends them: the steady state
        // of n active tokens at the measured throughput.
        let per = data.sizes.tokens_per_account;
        let n = data.users.len() * per;
        let mult = rotation_multiplier(n);
        let (mut read_all, mut patch, mut user) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for k in 0..n {
            let idx = ((k as u128 * mult as u128) % n as u128) as usize;
            let (u, j) = (&data.users[idx / per], idx % per);
            let token = u.tokens[j].as_str();
            read_all.push(Line::new(
                format!("/api/v1/list/anime/{}", u.read_anime),
                token,
            ));
            user.push(Line::new("/api/v1/user", token));
            let entry = u
                .entry_ids
                .get(j)
                .context("fewer entries than tokens per account")?;
            patch.push(Line::new(format!("/api/v1/list/{entry}"), token));
        }
        // 100 tokens of 100 different accounts.
        let step = (data.users.len() / 100).max(1);
        let read_100: Vec<Line> = data
            .users
            .iter()
            .step_by(step)
            .take(100)
            .filter_map(|u| {
                Some(Line::new(
                    format!("/api/v1/list/anime/{}", u.read_anime),
                    u.tokens.first()?.as_str(),
                ))
            })
            .collect();
        let list5k: Vec<Line> = data
            .power_tokens
            .iter()
            .map(|t| Line::new("/api/v1/list", t.as_str()))
            .collect();
        let mut login: Vec<Line> = data
            .users
            .iter()
            .map(|u| Line {
                path: "/api/v1/auth/token".into(),
                token: String::new(),
                arg: u.email.clone(),
            })
            .collect();
        seed::shuffle(&mut login, 0x5eed_0004);
        let lines = Lines {
            rotation_multiplier: mult,
            read_all: dir.join("read_all.tsv"),
            read_100: dir.join("read_100.tsv"),
            health: dir.join("health.tsv"),
            list5k: dir.join("list5k.tsv"),
            patch: dir.join("patch.tsv"),
            login: dir.join("login.tsv"),
            read_all_lines: read_all,
            list5k_lines: list5k,
            patch_lines: patch,
            user_lines: user,
        };
        load::write_lines(&lines.read_all, &lines.read_all_lines)?;
        load::write_lines(&lines.read_100, &read_100)?;
        load::write_lines(&lines.health, &[Line::new("/health", "")])?;
        load::write_lines(&lines.list5k, &lines.list5k_lines)?;
        load::write_lines(&lines.patch, &lines.patch_lines)?;
        load::write_lines(&lines.login, &login)?;
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::rotation_multiplier;

    /// Step k visits token (k * m) mod n: a permutation only if m and n are
    /// coprime, and far apart from step to step only if m is near 0.618 n.
    #[test]
    fn the_rotation_visits_every_token_once_per_lap() {
        for n in [1, 2, 10, 100, 20_000, 100_000, 97 * 89] {
            let m = rotation_multiplier(n);
            let mut seen = vec![false; n];
            for k in 0..n {
                seen[(k * m) % n] = true;
            }
            assert!(seen.iter().all(|s| *s), "n={n} m={m}");
            if n >= 100 {
                let share = m as f64 / n as f64;
                assert!((0.6..0.64).contains(&share), "n={n} m={m}");
            }
        }
    }
}
