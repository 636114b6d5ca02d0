//! A streaming replica (a hot standby of the primary) for reads that
//! tolerate some lag: its pool, and a watch that says at every moment
//! whether a read may go there ([`Replica::state`]). Which reads those are
//! is the domain's choice (`catalog::reads`); nothing here knows.
//!
//! How far behind the replica is, measured in this process's own clock:
//! every tick the watch asks the primary for its WAL write position
//! (`pg_current_wal_lsn()`), then the replica for the position it has
//! replayed (`pg_last_wal_replay_lsn()`). Once the replica has replayed a
//! position the primary had written at instant `t`, it holds every commit
//! the primary showed at `t`, so a read there now is at most `now − t`
//! behind; it goes there while that is within the bound. An idle primary
//! writes nothing, so a replica that has replayed its last position stays
//! current however long the primary sleeps.
//!
//! Not the usual query on the replica alone (`now() −
//! pg_last_xact_replay_timestamp()`, or 0 when all it received is
//! replayed): a standby that lost its primary, or whose WAL receiver
//! stalls, has received and replayed the same and reports 0 while the
//! primary moves on; it compares the primary's clock with the replica's;
//! and after an idle spell the first commit makes it jump to the length of
//! the spell. Not `pg_current_wal_insert_lsn()` either: on an idle primary
//! it can sit a page or segment header past the end of the last record
//! (right after a WAL switch: 0/4000028 inserted, 0/4000000 written and
//! replayed), so a current replica would look behind forever.
//!
//! The replica must be a standby (`pg_is_in_recovery()`) of this primary
//! (the same `system_identifier`): one that was promoted (after a
//! failover it may be the primary itself, or a stale one) or a copy of
//! another cluster is not read from. Each change of [`State`] is logged
//! once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tokio_postgres::types::PgLsn;

use super::sql::Db as _;
use super::{DbError, PoolSettings, Target};

/// Positions of the primary kept for a replica that falls behind (at one
/// a second, a quarter of an hour); past that its progress is judged by
/// the oldest kept, which only makes it look further behind.
const SAMPLES_KEPT: usize = 1024;
/// The longest and shortest time between two checks.
const TICK_MAX: Duration = Duration::from_secs(1);
const TICK_MIN: Duration = Duration::from_millis(50);

#[derive(Clone, Copy, Debug)]
pub struct ReplicaSettings {
    /// How far behind the primary a read from the replica may be.
    pub max_lag: Duration,
    /// Longest a read (a connection and the answer) or a check waits for
    /// the replica.
    pub timeout: Duration,
}

/// What the replica is to a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No check has found it a current standby yet (for at most a
    /// bound's time after the start).
    Starting,
    /// A standby of the primary, within the lag bound: reads go there.
    Up,
    /// A standby further behind than the bound (or not found complete
    /// for a bound's time since the start).
    Lagging,
    /// Unreachable, failing, or slower than the timeout.
    Down,
    /// Not in recovery (promoted), or a copy of another cluster.
    NotStandby,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Up => "up",
            State::Lagging => "lagging",
            State::Down => "down",
            State::NotStandby => "not a standby of the primary",
        }
    }
}

/// The replica's pool and what the watch last saw. Cheap to clone.
#[derive(Clone)]
pub struct Replica {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    settings: ReplicaSettings,
    watch: Mutex<Watch>,
}

#[derive(Debug)]
struct Watch {
    health: Health,
    /// The replica held everything the primary had written at this
    /// instant.
    complete_as_of: Option<Instant>,
    /// When the watch started: a replica not yet found complete is
    /// starting for a bound's time, then lagging.
    since: Instant,
    /// The state the log announced last.
    logged: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Health {
    Unknown,
    Standby,
    Down,
    NotStandby,
}

impl Watch {
    fn state(&self, max_lag: Duration, now: Instant) -> State {
        match self.health {
            Health::Unknown => State::Starting,
            Health::Down => State::Down,
            Health::NotStandby => State::NotStandby,
            Health::Standby => match self.complete_as_of {
                Some(at) if now.saturating_duration_since(at) <= max_lag => State::Up,
                None if now.saturating_duration_since(self.since) <= max_lag => State::Starting,
                _ => State::Lagging,
            },
        }
    }
}

/// What the replica said of itself.
struct Position {
    in_recovery: bool,
    replayed: Option<PgLsn>,
    system_id: i64,
}

impl Replica {
    /// The replica's pool (connections are made lazily: a replica that is
    /// down does not stop the start) and its watch, which checks it
    /// against `primary` from now on.
    pub fn start(
        target: &Target,
        pool_settings: PoolSettings,
        settings: ReplicaSettings,
        primary: Pool,
    ) -> Result<Replica, DbError> {
        let replica = Replica {
            inner: Arc::new(Inner {
                pool: super::pool(target, pool_settings)?,
                settings,
                watch: Mutex::new(Watch {
                    health: Health::Unknown,
                    complete_as_of: None,
                    since: Instant::now(),
                    logged: State::Starting,
                }),
            }),
        };
        tokio::spawn(watch(replica.inner.clone(), primary));
        Ok(replica)
    }

    pub fn settings(&self) -> ReplicaSettings {
        self.inner.settings
    }

    /// Whether a read may go to the replica now, and if not, why.
    pub fn state(&self) -> State {
        // Time alone turns a replica lagging: the first read that sees it
        // says so, before the next check.
        let mut watch = self.inner.lock();
        self.inner.announce(&mut watch, "")
    }

    /// A connection to the replica (bounded by the pool's own waits; the
    /// caller bounds the whole read by [`ReplicaSettings::timeout`]).
    pub async fn get(&self) -> Result<deadpool_postgres::Object, DbError> {
        Ok(self.inner.pool.get().await?)
    }

    /// A read found the replica unreachable or too slow: it is down until
    /// the watch finds it answering again.
    pub fn failed(&self, cause: &str) {
        self.inner.observe(Health::Down, None, cause);
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Watch> {
        // The watch holds plain values, whole after any panic.
        self.watch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a check's finding, and logs the state when it changed.
    fn observe(&self, health: Health, complete_as_of: Option<Instant>, cause: &str) {
        let mut watch = self.lock();
        watch.health = health;
        if complete_as_of.is_some() {
            watch.complete_as_of = complete_as_of;
        }
        self.announce(&mut watch, cause);
    }

    /// The state now, logged when it is not the one logged last (under the
    /// watch's lock, so each change is logged once).
    fn announce(&self, watch: &mut Watch, cause: &str) -> State {
        let max_lag = self.settings.max_lag;
        let now = Instant::now();
        let state = watch.state(max_lag, now);
        if state == watch.logged {
            return state;
        }
        watch.logged = state;
        let max_lag_ms = millis(max_lag);
        match state {
            State::Starting => {}
            State::Up => tracing::info!(max_lag_ms, "replica up: catalog reads go to the replica"),
            State::Lagging => tracing::warn!(
                behind_ms = watch
                    .complete_as_of
                    .map(|at| millis(now.saturating_duration_since(at))),
                max_lag_ms,
                "replica lagging: catalog reads go to the primary"
            ),
            State::Down => tracing::warn!(
                error = cause,
                "replica down: catalog reads go to the primary"
            ),
            State::NotStandby => tracing::warn!(
                reason = cause,
                "replica is not a standby of the primary: catalog reads go to the primary"
            ),
        }
        state
    }
}

/// For the log: a whole number, not u128's text.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Checks the replica against the primary every tick, for good.
async fn watch(inner: Arc<Inner>, primary: Pool) {
    let settings = inner.settings;
    let mut tick = tokio::time::interval(tick_period(settings.max_lag));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut samples = Samples::default();
    loop {
        tick.tick().await;
        // The instant before the primary is asked: what the replica
        // replays of this position it holds as of this instant at least.
        let asked = Instant::now();
        let primary_id =
            match tokio::time::timeout(settings.timeout, primary_position(&primary)).await {
                Ok(Ok((written, id))) => {
                    samples.push(asked, u64::from(written));
                    Some(id)
                }
                // Nothing new is vouched for; the replica looks further behind
                // with every tick until the primary answers again.
                _ => None,
            };
        let position =
            match tokio::time::timeout(settings.timeout, replica_position(&inner.pool)).await {
                Ok(Ok(position)) => position,
                Ok(Err(error)) => {
                    inner.observe(Health::Down, None, &error.to_string());
                    continue;
                }
                Err(_) => {
                    let cause = format!("no answer within {} ms", settings.timeout.as_millis());
                    inner.observe(Health::Down, None, &cause);
                    continue;
                }
            };
        let (health, complete, cause) = judge(&position, primary_id, &mut samples);
        inner.observe(health, complete, cause);
    }
}

/// What a check's answer makes of the replica.
fn judge(
    position: &Position,
    primary_id: Option<i64>,
    samples: &mut Samples,
) -> (Health, Option<Instant>, &'static str) {
    if !position.in_recovery {
        return (
            Health::NotStandby,
            None,
            "it is not in recovery: promoted, a primary (perhaps the primary itself)",
        );
    }
    if primary_id.is_some_and(|id| id != position.system_id) {
        return (
            Health::NotStandby,
            None,
            "it is a copy of another cluster (its system identifier differs)",
        );
    }
    match position.replayed {
        Some(replayed) => (
            Health::Standby,
            samples.covered(u64::from(replayed)),
            "in recovery",
        ),
        None => (Health::Down, None, "in recovery, but has replayed nothing"),
    }
}

/// The period of the checks: a quarter of the bound, so a current replica
/// never looks a whole bound behind between two checks, within limits.
fn tick_period(max_lag: Duration) -> Duration {
    (max_lag / 4).clamp(TICK_MIN, TICK_MAX)
}

async fn primary_position(primary: &Pool) -> Result<(PgLsn, i64), DbError> {
    let client = primary.get().await?;
    let row = client
        .row(
            "SELECT pg_current_wal_lsn() AS written, system_identifier AS id \
             FROM pg_control_system()",
            &[],
        )
        .await?;
    Ok((row.try_get("written")?, row.try_get("id")?))
}

async fn replica_position(replica: &Pool) -> Result<Position, DbError> {
    let client = replica.get().await?;
    let row = client
        .row(
            "SELECT pg_is_in_recovery() AS in_recovery, pg_last_wal_replay_lsn() AS replayed, \
             system_identifier AS id FROM pg_control_system()",
            &[],
        )
        .await?;
    Ok(Position {
        in_recovery: row.try_get("in_recovery")?,
        replayed: row.try_get("replayed")?,
        system_id: row.try_get("id")?,
    })
}

/// The primary's write positions, oldest first, with when they were asked.
#[derive(Debug, Default)]
struct Samples(VecDeque<(Instant, u64)>);

impl Samples {
    fn push(&mut self, at: Instant, written: u64) {
        if self.0.len() == SAMPLES_KEPT {
            self.0.pop_front();
        }
        self.0.push_back((at, written));
    }

    /// The newest instant whose position `replayed` covers, if any. The
    /// samples before it are dropped: a replica's replay only moves on.
    fn covered(&mut self, replayed: u64) -> Option<Instant> {
        let newest = self
            .0
            .iter()
            .rposition(|(_, written)| *written <= replayed)?;
        self.0.drain(..newest);
        self.0.front().map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standby(replayed: u64) -> Position {
        Position {
            in_recovery: true,
            replayed: Some(PgLsn::from(replayed)),
            system_id: 7,
        }
    }

    #[test]
    fn a_replica_is_as_current_as_the_newest_primary_position_it_replayed() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut samples = Samples::default();
        assert_eq!(samples.covered(100), None, "nothing to compare with yet");
        samples.push(at(0), 100);
        samples.push(at(1), 100);
        samples.push(at(2), 150);
        samples.push(at(3), 200);
        // Behind the primary's first position: not vouched for at all.
        assert_eq!(samples.covered(99), None);
        // An idle primary: the newest sample of a position is the one.
        assert_eq!(samples.covered(100), Some(at(1)));
        assert_eq!(samples.covered(199), Some(at(2)));
        assert_eq!(samples.covered(200), Some(at(3)));
        // Once covered, older samples are gone; the answer only moves on.
        assert_eq!(samples.0.len(), 1);
        assert_eq!(samples.covered(150), None);
    }

    #[test]
    fn only_so_many_samples_are_kept() {
        let start = Instant::now();
        let mut samples = Samples::default();
        for i in 0..(SAMPLES_KEPT as u64 + 10) {
            samples.push(start + Duration::from_secs(i), i);
        }
        assert_eq!(samples.0.len(), SAMPLES_KEPT);
        // The dropped positions count as not replayed: further behind.
        assert_eq!(samples.covered(5), None);
    }

    #[test]
    fn the_state_follows_the_lag_bound() {
        let now = Instant::now();
        let max_lag = Duration::from_secs(5);
        let watch = |health, complete_as_of| Watch {
            health,
            complete_as_of,
            since: now - Duration::from_secs(6),
            logged: State::Starting,
        };
        let ago = |s: u64| Some(now - Duration::from_secs(s));
        assert_eq!(
            watch(Health::Standby, ago(5)).state(max_lag, now),
            State::Up
        );
        assert_eq!(
            watch(Health::Standby, ago(6)).state(max_lag, now),
            State::Lagging
        );
        // Never found complete: starting for a bound's time, then lagging.
        assert_eq!(
            watch(Health::Standby, None).state(max_lag, now),
            State::Lagging
        );
        let young = Watch {
            since: now - Duration::from_secs(1),
            ..watch(Health::Standby, None)
        };
        assert_eq!(young.state(max_lag, now), State::Starting);
        assert_eq!(watch(Health::Down, ago(0)).state(max_lag, now), State::Down);
        assert_eq!(
            watch(Health::Unknown, None).state(max_lag, now),
            State::Starting
        );
    }

    #[test]
    fn a_promoted_replica_or_another_clusters_copy_is_not_read_from() {
        let mut samples = Samples::default();
        samples.push(Instant::now(), 10);
        let promoted = Position {
            in_recovery: false,
            ..standby(10)
        };
        assert_eq!(
            judge(&promoted, Some(7), &mut samples).0,
            Health::NotStandby
        );
        assert_eq!(
            judge(&standby(10), Some(8), &mut samples).0,
            Health::NotStandby
        );
        let (health, complete, _) = judge(&standby(10), Some(7), &mut samples);
        assert_eq!(health, Health::Standby);
        assert!(complete.is_some());
        // The primary did not answer: judged on what was sampled before.
        assert_eq!(judge(&standby(10), None, &mut samples).0, Health::Standby);
        let nothing = Position {
            replayed: None,
            ..standby(0)
        };
        assert_eq!(judge(&nothing, Some(7), &mut samples).0, Health::Down);
    }

    #[test]
    fn checks_come_four_times_within_the_bound_within_limits() {
        assert_eq!(tick_period(Duration::from_secs(5)), TICK_MAX);
        assert_eq!(
            tick_period(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(tick_period(Duration::from_millis(10)), TICK_MIN);
    }
}
