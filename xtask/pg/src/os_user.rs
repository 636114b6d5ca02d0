//! Who the server binaries run as, and where their files may live.
//!
//! `initdb`, `postgres` and `pg_ctl` refuse to run as root, so as root they
//! run as the `postgres` system user. That user must own the data
//! directory and be able to enter every directory above it; a clone under
//! a mode-700 home such as `/root` is closed to it.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::process::run;

/// System account the server runs as when we are root.
pub(crate) const SERVER_OS_USER: &str = "postgres";

/// Where [`state_home`] keeps long-lived clusters when we are root: it
/// survives reboots (unlike `/tmp` on many systems) and every user can
/// enter it.
const ROOT_STATE_DIR: &str = "/var/tmp/anitrack-pg";

/// The unprivileged account the server binaries run as when we are root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunAs {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// A directory for a long-lived cluster's files, and why it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateHome {
    pub dir: PathBuf,
    /// One sentence for the user, saying why this place was chosen.
    pub reason: String,
}

/// Where a long-lived cluster for `workspace` keeps its files (`data/`,
/// `postgres.log`).
///
/// For an ordinary user the server runs as that user, who can reach the
/// clone, so it is `inside` (say `target/dev-pg`). As root the server runs
/// as `postgres`, who may not be able to enter the clone (under `/root`,
/// mode 700), so it is `/var/tmp/anitrack-pg/<purpose>-<clone's name>-<hash
/// of its path>`, owned by `postgres` and mode 700: one per clone, reused
/// across runs, never inside the clone.
pub fn state_home(purpose: &str, workspace: &Path, inside: PathBuf) -> Result<StateHome> {
    let Some(run_as) = server_os_user()? else {
        return Ok(StateHome {
            dir: inside,
            reason: "PostgreSQL runs as you, so it lives in the clone".to_owned(),
        });
    };
    let workspace = fs::canonicalize(workspace)
        .with_context(|| format!("failed to resolve {}", workspace.display()))?;
    let root = Path::new(ROOT_STATE_DIR);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(root)
        .with_context(|| format!("failed to create {}", root.display()))?;
    let dir = root.join(state_key(purpose, &workspace));
    if !dir.exists() {
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    run_as.chown(&dir)?;
    // The key's hash cannot be read back: name the clone for whoever
    // cleans up /var/tmp.
    let note = dir.join("workspace");
    fs::write(&note, format!("{}\n", workspace.display()))
        .with_context(|| format!("failed to write {}", note.display()))?;
    Ok(StateHome {
        dir,
        reason: format!(
            "running as root, so PostgreSQL runs as the `{SERVER_OS_USER}` user, which may not \
             be able to enter {}; one directory per clone, outside it",
            workspace.display()
        ),
    })
}

/// `<purpose>-<last path component>-<16 hex digits of FNV-1a of the path>`:
/// readable, and distinct for two clones with the same name.
fn state_key(purpose: &str, workspace: &Path) -> String {
    let name: String = workspace
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    // FNV-1a: stable across Rust releases, unlike std's DefaultHasher, so
    // the same clone finds its cluster again after a toolchain update.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in workspace.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{purpose}-{name}-{hash:016x}")
}

impl RunAs {
    pub(crate) fn chown(&self, path: &Path) -> Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).with_context(|| {
            format!(
                "failed to chown {} to {SERVER_OS_USER} ({}:{})",
                path.display(),
                self.uid,
                self.gid
            )
        })
    }

    /// PostgreSQL insists on owning its data directory. A persistent data
    /// directory might have been created by another user (e.g. an earlier
    /// non-root run), so fix the whole tree, without following symlinks.
    pub(crate) fn chown_tree_if_needed(&self, dir: &Path) -> Result<()> {
        let meta =
            fs::metadata(dir).with_context(|| format!("failed to stat {}", dir.display()))?;
        if meta.uid() == self.uid && meta.gid() == self.gid {
            return Ok(());
        }
        self.chown_tree(dir)
    }

    fn chown_tree(&self, path: &Path) -> Result<()> {
        let meta = fs::symlink_metadata(path)
            .with_context(|| format!("failed to stat {}", path.display()))?;
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid))
            .with_context(|| format!("failed to chown {}", path.display()))?;
        if meta.is_dir() {
            let entries =
                fs::read_dir(path).with_context(|| format!("failed to list {}", path.display()))?;
            for entry in entries {
                self.chown_tree(&entry?.path())?;
            }
        }
        Ok(())
    }

    /// The server user must be able to enter every ancestor of the data
    /// directory; fail early with a useful message instead of a cryptic
    /// "Permission denied" from `initdb`. (The child process only has the
    /// user's primary group: std drops supplementary groups.)
    pub(crate) fn ensure_traversable(&self, dir: &Path) -> Result<()> {
        for ancestor in dir.ancestors() {
            let meta = fs::metadata(ancestor)
                .with_context(|| format!("failed to stat {}", ancestor.display()))?;
            if !self.can_enter(&meta) {
                bail!(
                    "running as root, so PostgreSQL runs as the `{SERVER_OS_USER}` user, which \
                     cannot enter {} (mode {:o}); put the data directory under a \
                     world-traversable path such as /tmp, or `chmod o+x` that directory",
                    ancestor.display(),
                    meta.mode() & 0o7777
                );
            }
        }
        Ok(())
    }

    fn can_enter(&self, meta: &fs::Metadata) -> bool {
        let mode = meta.mode();
        if meta.uid() == self.uid {
            mode & 0o100 != 0
        } else if meta.gid() == self.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        }
    }
}

/// `None` for an ordinary user; the `postgres` account when the effective
/// uid is 0, because `initdb`/`postgres`/`pg_ctl` refuse to run as root.
pub(crate) fn server_os_user() -> Result<Option<RunAs>> {
    if effective_uid()? != 0 {
        return Ok(None);
    }
    if let Ok(passwd) = fs::read_to_string("/etc/passwd")
        && let Some(run_as) = parse_passwd(&passwd, SERVER_OS_USER)
    {
        return Ok(Some(run_as));
    }
    // Not in /etc/passwd (NSS/LDAP?): ask `id`.
    let id = |flag: &str| -> Result<u32> {
        let output = run(Command::new("id").args([flag, SERVER_OS_USER])).with_context(|| {
            format!(
                "running as root, but there is no `{SERVER_OS_USER}` system user to run \
                 PostgreSQL as; install them with `apt-get install postgresql` (which \
                 creates it) or run as an ordinary user"
            )
        })?;
        parse_u32(&output.stdout, "id")
    };
    Ok(Some(RunAs {
        uid: id("-u")?,
        gid: id("-g")?,
    }))
}

fn parse_passwd(passwd: &str, user: &str) -> Option<RunAs> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(RunAs { uid, gid })
    })
}

/// Effective uid from `/proc/self/status` (second field of `Uid:`), falling
/// back to `id -u`; avoids a dependency on `libc`.
fn effective_uid() -> Result<u32> {
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(euid) = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|euid| euid.parse().ok())
    {
        return Ok(euid);
    }
    let output = run(Command::new("id").arg("-u"))?;
    parse_u32(&output.stdout, "id -u")
}

fn parse_u32(bytes: &[u8], what: &str) -> Result<u32> {
    let text = String::from_utf8_lossy(bytes);
    text.trim()
        .parse()
        .with_context(|| format!("unexpected output from `{what}`: {text:?}"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn passwd_lookup() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(
            parse_passwd(passwd, "postgres"),
            Some(RunAs { uid: 101, gid: 104 })
        );
        assert_eq!(parse_passwd(passwd, "nobody"), None);
    }

    #[test]
    fn state_keys_name_the_clone_and_tell_clones_apart() {
        let a = state_key("dev", Path::new("/root/src/anitrack"));
        let b = state_key("dev", Path::new("/home/me/anitrack"));
        assert!(a.starts_with("dev-anitrack-"), "{a}");
        assert_eq!(a.len(), "dev-anitrack-".len() + 16, "{a}");
        assert_ne!(a, b);
        // Stable: the same clone finds the same directory on every run.
        assert_eq!(a, state_key("dev", Path::new("/root/src/anitrack")));
        let odd = state_key("dev", Path::new("/x/my clone;rm"));
        assert!(odd.starts_with("dev-my_clone_rm-"), "{odd}");
    }

    #[test]
    fn a_closed_ancestor_is_named() {
        let run_as = RunAs {
            uid: 4_000_000,
            gid: 4_000_000,
        };
        let root = tempfile::tempdir().unwrap();
        let closed = root.path().join("closed");
        let inner = closed.join("inner");
        fs::create_dir_all(&inner).unwrap();
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&closed, fs::Permissions::from_mode(0o700)).unwrap();
        let err = run_as.ensure_traversable(&inner).unwrap_err().to_string();
        assert!(err.contains(&closed.display().to_string()), "{err}");
        assert!(err.contains("mode 700"), "{err}");
        fs::set_permissions(&closed, fs::Permissions::from_mode(0o711)).unwrap();
        run_as.ensure_traversable(&inner).unwrap();
    }

    /// As root the cluster's home leaves the clone for a directory the
    /// `postgres` user owns; otherwise it stays where the caller said.
    #[test]
    fn state_home_is_reachable_by_the_server_user() {
        let clone = tempfile::tempdir().unwrap();
        let inside = clone.path().join("target/dev-pg");
        let home = state_home("pg-crate-test", clone.path(), inside.clone()).unwrap();
        match server_os_user().unwrap() {
            None => assert_eq!(home.dir, inside),
            Some(run_as) => {
                assert!(home.dir.starts_with(ROOT_STATE_DIR), "{home:?}");
                let meta = fs::metadata(&home.dir).unwrap();
                assert_eq!((meta.uid(), meta.mode() & 0o777), (run_as.uid, 0o700));
                run_as.ensure_traversable(&home.dir).unwrap();
                let again = state_home("pg-crate-test", clone.path(), inside).unwrap();
                assert_eq!(again.dir, home.dir);
                fs::remove_dir_all(&home.dir).unwrap();
            }
        }
    }
}
