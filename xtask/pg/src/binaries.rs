//! Where PostgreSQL's server binaries are.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Result, anyhow};

/// Binaries a cluster needs; a directory qualifies only if it has all of them.
const REQUIRED_BINARIES: [&str; 4] = ["initdb", "pg_ctl", "postgres", "psql"];

/// Directory holding the PostgreSQL server binaries (`initdb`, `pg_ctl`,
/// `postgres`, `psql`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    pub bin_dir: PathBuf,
}

/// The first successful [`PgBinaries::find`] of this process: a test run
/// asks for `psql` thousands of times, and the answer does not change.
static FOUND: OnceLock<PgBinaries> = OnceLock::new();

impl PgBinaries {
    /// Looks on `PATH` first (resolving symlinks such as
    /// `/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb`, because
    /// the sibling binaries only exist in the real directory), then in
    /// `/usr/lib/postgresql/*/bin`, highest version first.
    pub fn find() -> Result<PgBinaries> {
        if let Some(found) = FOUND.get() {
            return Ok(found.clone());
        }
        let mut candidates = Vec::new();
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                for name in ["initdb", "pg_ctl"] {
                    let exe = dir.join(name);
                    if !is_executable(&exe) {
                        continue;
                    }
                    if let Some(real_dir) = fs::canonicalize(&exe)
                        .ok()
                        .and_then(|real| real.parent().map(Path::to_path_buf))
                    {
                        candidates.push(real_dir);
                    }
                }
            }
        }
        candidates.extend(versioned_bin_dirs(Path::new("/usr/lib/postgresql")));
        let found = candidates
            .into_iter()
            .find(|dir| {
                REQUIRED_BINARIES
                    .iter()
                    .all(|b| is_executable(&dir.join(b)))
            })
            .map(|bin_dir| PgBinaries { bin_dir })
            .ok_or_else(|| {
                anyhow!(
                    "PostgreSQL server binaries ({}) were not found on PATH or under \
                     /usr/lib/postgresql/*/bin; install them with `apt-get install postgresql`",
                    REQUIRED_BINARIES.join(", ")
                )
            })?;
        Ok(FOUND.get_or_init(|| found).clone())
    }

    /// The path of one of the binaries (`psql`, `pgbench`, ...).
    pub fn binary(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }
}

pub(crate) fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// `<root>/<version>/bin` for every version directory, highest version
/// first (`15` > `9.6`).
fn versioned_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let key = name
                .split('.')
                .map(|part| part.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((key, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_are_found() {
        let bins = PgBinaries::find().unwrap();
        for name in REQUIRED_BINARIES {
            assert!(is_executable(&bins.binary(name)), "{name}");
        }
    }

    #[test]
    fn versions_sort_numerically_and_skip_other_names() {
        let root = tempfile::tempdir().unwrap();
        for name in ["9.6", "15", "12", "common", "15.beta"] {
            fs::create_dir(root.path().join(name)).unwrap();
        }
        let dirs = versioned_bin_dirs(root.path());
        let names: Vec<String> = dirs
            .iter()
            .map(|d| {
                d.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["15", "12", "9.6"]);
        assert!(dirs.iter().all(|d| d.ends_with("bin")));
        assert!(versioned_bin_dirs(&root.path().join("missing")).is_empty());
    }
}
