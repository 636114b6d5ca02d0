//! Preparing a data directory: owners, `initdb`, `pg_hba.conf`, the TLS
//! files and the settings rewritten before every start.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, Result};

use super::PgCluster;
use crate::SUPERUSER;
use crate::process::run;

/// Settings file inside the data directory, included from `postgresql.conf`
/// and rewritten before every start (port and durability may change). The
/// name predates this crate; existing data directories include it already.
const SETTINGS_FILE: &str = "anitrack-conformance.conf";

impl PgCluster {
    /// Creates directories with the right owner, runs `initdb` when needed and
    /// hooks our settings file into `postgresql.conf`.
    pub(super) fn prepare(&self, base_dir: &Path) -> Result<()> {
        fs::create_dir_all(base_dir)
            .with_context(|| format!("failed to create {}", base_dir.display()))?;
        if !self.data_dir.exists() {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&self.data_dir)
                .with_context(|| format!("failed to create {}", self.data_dir.display()))?;
        }
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .with_context(|| format!("failed to create {}", self.log_file.display()))?;
        if let Some(run_as) = self.run_as {
            run_as.ensure_traversable(base_dir)?;
            run_as.chown_tree_if_needed(&self.data_dir)?;
            run_as.chown(&self.log_file)?;
        }
        if !self.data_dir.join("PG_VERSION").exists() {
            self.initdb()?;
        }
        if let Some(ca_file) = &self.tls_ca_file {
            self.write_tls_files(ca_file)?;
        }
        self.ensure_settings_included()
    }

    /// A fresh CA and server certificate; the key is private to the server's
    /// OS user (PostgreSQL refuses a key others can read).
    fn write_tls_files(&self, ca_file: &Path) -> Result<()> {
        let certificates = crate::tls::server_certificates()?;
        fs::write(ca_file, &certificates.ca_pem)
            .with_context(|| format!("failed to write {}", ca_file.display()))?;
        self.write_data_file("server.crt", &certificates.cert_pem)?;
        let key = self.data_dir.join("server.key");
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&key)
            .and_then(|mut file| file.write_all(certificates.key_pem.as_bytes()))
            .with_context(|| format!("failed to write {}", key.display()))?;
        if let Some(run_as) = self.run_as {
            run_as.chown(&key)?;
        }
        Ok(())
    }

    fn initdb(&self) -> Result<()> {
        let mut cmd = self.server_command("initdb");
        cmd.arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth=trust",
        ]);
        // A temporary cluster's files die with it: flushing them to disk
        // guards against an OS crash nobody will recover from (durable
        // settings still apply to what the server writes).
        if !self.durable || self.temp_dir.is_some() {
            cmd.arg("--no-sync");
        }
        run(&mut cmd)?;
        // initdb's --auth=trust also trusts the Unix socket and ::1; we only
        // want loopback IPv4 (the only address we listen on).
        let hba = if self.tls_ca_file.is_some() {
            // Plain connections are named and rejected, so the refusal says
            // "no encryption" instead of "no pg_hba.conf entry".
            "# Written by anitrack-pg (xtask/pg): TLS only.\n\
             # TYPE     DATABASE     USER  ADDRESS       METHOD\n\
             hostssl    all          all   127.0.0.1/32  trust\n\
             hostssl    replication  all   127.0.0.1/32  trust\n\
             hostnossl  all          all   0.0.0.0/0     reject\n"
        } else {
            "# Written by anitrack-pg (xtask/pg).\n\
             # TYPE  DATABASE     USER  ADDRESS       METHOD\n\
             host    all          all   127.0.0.1/32  trust\n\
             host    replication  all   127.0.0.1/32  trust\n"
        };
        self.write_data_file("pg_hba.conf", hba)
    }

    fn ensure_settings_included(&self) -> Result<()> {
        let conf = self.data_dir.join("postgresql.conf");
        let text = fs::read_to_string(&conf)
            .with_context(|| format!("failed to read {}", conf.display()))?;
        let include = format!("include = '{SETTINGS_FILE}'");
        if text.lines().any(|line| line.trim() == include) {
            return Ok(());
        }
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .with_context(|| format!("failed to open {}", conf.display()))?;
        writeln!(file, "\n# Added by anitrack-pg (xtask/pg).\n{include}")
            .with_context(|| format!("failed to write {}", conf.display()))
    }

    /// Settings that may differ between starts of the same data directory.
    pub(super) fn write_settings(&self) -> Result<()> {
        let durability = if self.durable { "on" } else { "off" };
        let settings = format!(
            "# Rewritten by anitrack-pg (xtask/pg) before every start.\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = ''\n\
             max_connections = 200\n\
             fsync = {durability}\n\
             synchronous_commit = {durability}\n\
             full_page_writes = {durability}\n",
            port = self.port,
        );
        let tls = if self.tls_ca_file.is_some() {
            // Paths relative to the data directory.
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
        } else {
            "ssl = off\n"
        };
        self.write_data_file(
            SETTINGS_FILE,
            &format!("{settings}{tls}{}", self.extra_settings),
        )
    }

    fn write_data_file(&self, name: &str, contents: &str) -> Result<()> {
        let path = self.data_dir.join(name);
        fs::write(&path, contents)
            .with_context(|| format!("failed to write {}", path.display()))?;
        if let Some(run_as) = self.run_as {
            run_as.chown(&path)?;
        }
        Ok(())
    }
}
