//! The scale-out figures, on server B after `throttle` (its per-token limit
//! raised, every bench token seen): an authenticated read at one
//! connection on the durable database against the same database made
//! non-durable, the round trips a read costs once PostgreSQL sits behind a
//! link with latency, and reads through PgBouncer against direct ones.
//!
//! All three use the 100-token rotation (`read_100`), which a server has
//! seen after a short warm-up, so every read is the familiar token's
//! one-round-trip path and no run pays for first sightings.

use std::net::SocketAddr;
use std::time::Duration;

use anitrack_netdelay::{DelayProxy, measure_overhead};
use anitrack_pg::{BouncerOptions, PgBouncer, SUPERUSER};
use anyhow::{Context as _, Result};

use crate::load::Stats;
use crate::plan::{DATABASE, POOL_SIZE, RAISED_LIMIT};
use crate::report::{self, Figure, Target, median};
use crate::runner::{Bench, Closed, ratio};
use crate::server::Server;

/// The link of `read_db_round_trips`: 0.5 ms each way, a 1 ms round trip
/// (less what the proxy adds by itself, measured before the runs).
const ONE_WAY: Duration = Duration::from_micros(500);

impl Bench<'_> {
    /// `fsync`, `synchronous_commit` and `full_page_writes` on (the
    /// cluster's own settings) or off, through `ALTER SYSTEM` and a reload:
    /// the same cluster, data and connections either way.
    pub(crate) fn set_durable(&self, durable: bool) -> Result<()> {
        let sql = if durable {
            "ALTER SYSTEM RESET fsync;\nALTER SYSTEM RESET synchronous_commit;\n\
             ALTER SYSTEM RESET full_page_writes;\nSELECT pg_reload_conf();"
        } else {
            "ALTER SYSTEM SET fsync = off;\nALTER SYSTEM SET synchronous_commit = off;\n\
             ALTER SYSTEM SET full_page_writes = off;\nSELECT pg_reload_conf();"
        };
        self.cluster.sql("postgres")?.run(sql)?;
        // Backends reread the configuration between statements; give the
        // idle ones a moment to have done so.
        std::thread::sleep(Duration::from_millis(300));
        let fsync = self.cluster.sql("postgres")?.value("SHOW fsync")?;
        let want = if durable { "on" } else { "off" };
        if fsync != want {
            anyhow::bail!("fsync is {fsync} after switching it {want}");
        }
        Ok(())
    }

    /// Reads of the 100-token rotation on `connections` connections.
    fn read_100(
        &mut self,
        server: &Server,
        scenario: &'static str,
        name: &str,
        connections: usize,
        warm: bool,
    ) -> Result<Stats> {
        let lines = self.lines.read_100.clone();
        let duration = if warm { self.plan.warm } else { self.plan.run };
        let c = Closed {
            connections,
            ..Closed::get(scenario, name, &lines, duration)
        };
        self.closed(server, c, warm)
    }

    /// `read_durable_vs_fast_p50_ratio`: the p50 of an authenticated read
    /// at one connection on the durable database over the same on a
    /// non-durable one, round by round.
    pub(crate) fn durability(&mut self, server: &Server) -> Result<Vec<Figure>> {
        println!(
            "bench: durability: GET /api/v1/list/anime/{{id}} at one connection, durable vs \
             non-durable (fsync, synchronous_commit, full_page_writes off)"
        );
        self.read_100(server, "durability", "read c=1", 1, true)?;
        let (mut durable, mut fast) = (Vec::new(), Vec::new());
        for round in 1..=self.plan.rounds {
            let name = format!("read c=1 durable #{round}");
            durable.push(self.read_100(server, "durability", &name, 1, false)?.p50_ms);
            self.set_durable(false)?;
            let name = format!("read c=1 non-durable #{round}");
            let run = self.read_100(server, "durability", &name, 1, false);
            self.set_durable(true)?;
            fast.push(run?.p50_ms);
        }
        let (durable, fast) = (median(&mut durable), median(&mut fast));
        self.notes.insert(
            "durability".into(),
            serde_json::json!({
                "durable_p50_ms": report::round(durable, 3),
                "non_durable_p50_ms": report::round(fast, 3),
            }),
        );
        Ok(vec![Figure {
            key: "read_durable_vs_fast_p50_ratio",
            value: ratio(durable, fast),
            unit: "",
            target: Some(Target::AtMost(1.1)),
        }])
    }

    /// `read_db_round_trips`: a server whose database connections go
    /// through the delay proxy, its read p50 at one connection over a link
    /// of about 1 ms a round trip less the same with the link at zero,
    /// divided by the link's measured round trip: the round trips a read
    /// makes. Also what the proxy adds by itself: to a ping-pong, and to a
    /// read against `direct`.
    pub(crate) fn round_trips(&mut self, direct: &Server) -> Result<Vec<Figure>> {
        println!(
            "bench: round trips: the same read with PostgreSQL behind a {} ms each-way link",
            ONE_WAY.as_secs_f64() * 1e3
        );
        // The proxy's threads take time to wake, so a link set to 0.5 ms
        // each way costs more than 1 ms a round trip: set it shorter by
        // what the proxy adds, and measure the round trip it then costs.
        let first = measure_overhead(ONE_WAY, 2_000)?;
        let one_way = ONE_WAY.saturating_sub(first.overhead() / 2);
        let ping = measure_overhead(one_way, 2_000)?;
        let link_ms = ms(ping.through.saturating_sub(ping.direct));
        println!(
            "bench:   the delay proxy by itself: at {:.3} ms each way a 1-byte round trip took \
             {:.3} ms beyond a direct one ({:.3} ms), {:.3} ms more than set; set to {:.3} ms each \
             way, the link's round trip measures {link_ms:.3} ms",
            ms(ONE_WAY),
            ms(first.through.saturating_sub(first.direct)),
            ms(first.direct),
            ms(first.overhead()),
            ms(one_way),
        );
        let upstream = SocketAddr::from(([127, 0, 0, 1], self.cluster.port()));
        let proxy = DelayProxy::start(upstream, Duration::ZERO)?;
        let url = format!("postgres://{SUPERUSER}@{}/{DATABASE}", proxy.local_addr());
        let server = self.start_server_on(&url, self.server_flags(RAISED_LIMIT, RAISED_LIMIT))?;
        self.read_100(&server, "roundtrip", "read c=1 via proxy", 1, true)?;
        let (mut loopback, mut zero, mut linked) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=self.plan.rounds {
            let name = format!("read c=1 direct #{round}");
            loopback.push(self.read_100(direct, "roundtrip", &name, 1, false)?.p50_ms);
            proxy.set_delay(Duration::ZERO);
            let name = format!("read c=1 proxy 0 ms #{round}");
            zero.push(self.read_100(&server, "roundtrip", &name, 1, false)?.p50_ms);
            proxy.set_delay(one_way);
            let name = format!("read c=1 proxy 1 ms rtt #{round}");
            linked.push(self.read_100(&server, "roundtrip", &name, 1, false)?.p50_ms);
        }
        let others = self.other_round_trips(&server, &proxy, one_way, link_ms)?;
        drop(server);
        let (loopback, zero, linked) = (
            median(&mut loopback),
            median(&mut zero),
            median(&mut linked),
        );
        self.notes.insert(
            "round_trips".into(),
            serde_json::json!({
                "link_one_way_ms_set": report::round(ms(one_way), 4),
                "link_round_trip_ms_measured": report::round(link_ms, 4),
                "proxy_overhead_per_round_trip_ms": report::round(ms(first.overhead()), 4),
                "read_p50_ms_direct": report::round(loopback, 3),
                "read_p50_ms_proxy_no_delay": report::round(zero, 3),
                "read_p50_ms_proxy_linked": report::round(linked, 3),
                "proxy_adds_to_a_read_ms": report::round(zero - loopback, 3),
                "other_requests": others,
            }),
        );
        println!(
            "bench:   read p50: {loopback:.3} ms direct, {zero:.3} ms through the proxy without \
             delay (it adds {:.3} ms by itself), {linked:.3} ms over the {link_ms:.3} ms link",
            zero - loopback
        );
        Ok(vec![Figure {
            key: "read_db_round_trips",
            value: ratio(linked - zero, link_ms),
            unit: "",
            target: Some(Target::AtMost(1.2)),
        }])
    }

    /// The round trips of other authenticated requests, one run each with
    /// the link at zero and at `one_way` (the power user's polls, written
    /// by the `poll` scenario).
    fn other_round_trips(
        &mut self,
        server: &Server,
        proxy: &DelayProxy,
        one_way: Duration,
        link_ms: f64,
    ) -> Result<serde_json::Value> {
        let lines = self.dir.join("lines");
        let patch = Some(r#"{"notes":"round trips @N@"}"#);
        let list_304 = lines.join("poll_list_304.tsv");
        let feed = lines.join("poll_feed.tsv");
        let feed_304 = lines.join("poll_feed_304.tsv");
        let requests = [
            ("GET /list 304", list_304, Some("If-None-Match"), None),
            ("GET /list/changes (empty page)", feed, None, None),
            (
                "GET /list/changes 304",
                feed_304,
                Some("If-None-Match"),
                None,
            ),
            ("PATCH /list/{id}", self.lines.patch.clone(), None, patch),
        ];
        let mut found = serde_json::Map::new();
        for (name, path, header, body) in requests {
            if !path.is_file() {
                continue;
            }
            let mut p50 = [0.0; 2];
            for (slot, delay) in [(0, Duration::ZERO), (1, one_way)] {
                proxy.set_delay(delay);
                let label = format!("{name} c=1 {}", if slot == 0 { "0 ms" } else { "1 ms rtt" });
                let c = Closed {
                    connections: 1,
                    arg_header: header,
                    method: if body.is_some() { "PATCH" } else { "GET" },
                    body,
                    ..Closed::get("roundtrip", &label, &path, self.plan.poll_run)
                };
                p50[slot] = self.closed(server, c, false)?.p50_ms;
            }
            let trips = ratio(p50[1] - p50[0], link_ms);
            println!("bench:   {name}: {trips:.2} round trips");
            found.insert(name.into(), serde_json::json!(report::round(trips, 2)));
        }
        Ok(serde_json::Value::Object(found))
    }

    /// `pgbouncer_read_vs_direct_ratio`: reads at 32 connections through
    /// PgBouncer in transaction mode (the server with `--db-pooler
    /// transaction`) over the same reads on `direct`, round by round.
    pub(crate) fn pgbouncer(&mut self, direct: &Server) -> Result<Vec<Figure>> {
        println!("bench: PgBouncer: reads through PgBouncer (transaction mode) vs direct");
        let bouncer = PgBouncer::start(
            self.cluster.port(),
            &BouncerOptions {
                pool_size: u32::try_from(POOL_SIZE).unwrap_or(u32::MAX),
                ..BouncerOptions::default()
            },
        )
        .context("starting PgBouncer")?;
        let version = PgBouncer::binary()
            .ok()
            .and_then(|bin| {
                std::process::Command::new(bin)
                    .arg("--version")
                    .output()
                    .ok()
            })
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default();
        let mut flags = self.server_flags(RAISED_LIMIT, RAISED_LIMIT);
        flags.extend(["--db-pooler".to_string(), "transaction".to_string()]);
        let server = self.start_server_on(&bouncer.url(DATABASE), flags)?;
        let c = crate::plan::CONNECTIONS;
        self.read_100(&server, "pgbouncer", "read via PgBouncer", c, true)?;
        let (mut through, mut plain) = (Vec::new(), Vec::new());
        for round in 1..=self.plan.rounds {
            let name = format!("read direct #{round}");
            plain.push(self.read_100(direct, "pgbouncer", &name, c, false)?.rps);
            let name = format!("read via PgBouncer #{round}");
            through.push(self.read_100(&server, "pgbouncer", &name, c, false)?.rps);
        }
        drop(server);
        drop(bouncer);
        let (through, plain) = (median(&mut through), median(&mut plain));
        self.notes.insert(
            "pgbouncer".into(),
            serde_json::json!({
                "version": version,
                "pool_mode": "transaction",
                "default_pool_size": POOL_SIZE,
                "direct_rps": report::round(plain, 1),
                "pgbouncer_rps": report::round(through, 1),
            }),
        );
        Ok(vec![Figure {
            key: "pgbouncer_read_vs_direct_ratio",
            value: ratio(through, plain),
            unit: "",
            target: Some(Target::AtLeast(0.8)),
        }])
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
