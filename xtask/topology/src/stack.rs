//! The machines of the topology, all on loopback: a durable primary, a
//! synchronous streaming standby, one PgBouncer per PostgreSQL (unless
//! direct), and the multi-host URL the instances and the CLI use.

use std::time::Instant;

use anitrack_pg::{BouncerOptions, PgBouncer, PgCluster, Psql};
use anyhow::{Context as _, Result};

/// The application's database, made on the primary (the standby gets it
/// by replication).
pub const DATABASE: &str = "anitrack";
/// The standby's `application_name`, which `synchronous_standby_names`
/// names.
const STANDBY_NAME: &str = "anitrack_standby";

pub struct Stack {
    /// Dropped first (declaration order): the bouncers stop before the
    /// clusters they point at.
    pub bouncers: Vec<PgBouncer>,
    pub primary: PgCluster,
    pub standby: PgCluster,
    pub bouncer_options: Option<BouncerOptions>,
}

impl Stack {
    /// Primary, standby (synchronous), and unless `direct` a PgBouncer in
    /// front of each. Progress goes to standard output.
    pub fn start(direct: bool) -> Result<Stack> {
        let started = Instant::now();
        let primary = PgCluster::start_temporary_durable().context("starting the primary")?;
        primary
            .create_database(DATABASE, None)
            .context("creating the database")?;
        println!(
            "topology: primary on 127.0.0.1:{} (durable: fsync, synchronous_commit on) ({:.1?})",
            primary.port(),
            started.elapsed()
        );
        let started = Instant::now();
        let standby = primary
            .start_temporary_standby(STANDBY_NAME)
            .context("starting the standby")?;
        primary
            .require_synchronous_standby(STANDBY_NAME)
            .context("making the standby synchronous")?;
        println!(
            "topology: streaming standby (pg_basebackup) on 127.0.0.1:{}, synchronous: \
             the primary's synchronous_standby_names = '{STANDBY_NAME}' ({:.1?})",
            standby.port(),
            started.elapsed()
        );
        let mut stack = Stack {
            bouncers: Vec::new(),
            primary,
            standby,
            bouncer_options: None,
        };
        if !direct {
            let options = BouncerOptions::default();
            for (name, upstream) in [
                ("primary", stack.primary.port()),
                ("standby", stack.standby.port()),
            ] {
                let bouncer = PgBouncer::start(upstream, &options)
                    .with_context(|| format!("starting PgBouncer in front of the {name}"))?;
                println!(
                    "topology: PgBouncer (transaction pooling) on 127.0.0.1:{} -> {name} \
                     127.0.0.1:{upstream}, log {}",
                    bouncer.port(),
                    bouncer.log_file().display()
                );
                stack.bouncers.push(bouncer);
            }
            stack.bouncer_options = Some(options);
        }
        Ok(stack)
    }

    /// What the instances and the CLI connect with: every PostgreSQL host
    /// (or its PgBouncer), primary first, and `target_session_attrs =
    /// read-write`, so a connection lands on whichever accepts writes.
    pub fn database_url(&self) -> String {
        let ports: Vec<u16> = if self.bouncers.is_empty() {
            vec![self.primary.port(), self.standby.port()]
        } else {
            self.bouncers.iter().map(PgBouncer::port).collect()
        };
        multi_host_url(&ports, DATABASE)
    }

    /// Where the instances read the catalog: the standby's PgBouncer (or
    /// the standby itself when direct). After the failover it names the
    /// promoted standby, a primary, which the instances then skip.
    pub fn replica_url(&self) -> String {
        match self.bouncers.get(1) {
            Some(bouncer) => bouncer.url(DATABASE),
            None => format!("{}?sslmode=disable", self.standby.url(DATABASE)),
        }
    }

    /// SQL on the standby, directly (the new primary after a failover).
    pub fn standby_sql(&self) -> Result<Psql> {
        self.standby.sql(DATABASE)
    }
}

/// `postgres://postgres@127.0.0.1:<p1>,127.0.0.1:<p2>/<database>?target_session_attrs=read-write&sslmode=disable`
pub fn multi_host_url(ports: &[u16], database: &str) -> String {
    let hosts: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    format!(
        "postgres://{}@{}/{database}?target_session_attrs=read-write&sslmode=disable",
        anitrack_pg::SUPERUSER,
        hosts.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_lists_every_host_and_asks_for_a_writable_one() {
        assert_eq!(
            multi_host_url(&[5001, 5002], "app"),
            "postgres://postgres@127.0.0.1:5001,127.0.0.1:5002/app\
             ?target_session_attrs=read-write&sslmode=disable"
        );
    }
}
