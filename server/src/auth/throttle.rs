//! Rate-limit policy: which keys a request counts against, in what order,
//! and the memory that refuses a key already known to be over its limit
//! without touching the database.
//!
//! Counting itself happens in PostgreSQL (`db::throttle`), so every
//! instance sees the same counts. What lives here is per instance and only
//! ever makes a refusal cheaper, never an acceptance easier: a key this
//! instance saw over its limit is refused from memory until its window ends
//! (no database write per refused request), and bearer tokens this instance
//! has not seen authenticate recently share a bounded part of the pool, so
//! a flood of made-up tokens cannot starve real ones of connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::db::throttle::{self, Window};
use crate::error::Error;

/// Length of the per-token and sign-in windows.
pub const MINUTE_SECS: u32 = 60;
/// Length of the per-account token-creation window.
pub const HOUR_SECS: u32 = 3600;

/// At most this many keys are remembered as blocked (about 10 MB); past it,
/// refusals fall back to the database, which stays exact.
const BLOCKLIST_MAX: usize = 100_000;
/// At most this many tokens are remembered as recently authenticated
/// (about 8 MB); past it, the oldest make room, so a busy instance never
/// stops learning its tokens.
const FAMILIAR_MAX: usize = 250_000;
/// A token stays familiar this long after its last success here.
const FAMILIAR_FOR: Duration = Duration::from_secs(15 * 60);

/// One policy's window after this request.
#[derive(Clone, Debug)]
pub struct Limit {
    /// Policy name in the IETF headers: `token`, `ip`, `email` or
    /// `token-creation`.
    pub policy: &'static str,
    /// Requests allowed per window.
    pub quota: u32,
    /// The window's length in seconds.
    pub window_secs: u32,
    /// Requests counted in the current window, this one included.
    pub hits: i32,
    /// Whole seconds until the window ends (at least 1).
    pub reset_in: i64,
    /// When the window ends, in Unix seconds.
    pub reset_at: i64,
}

impl Limit {
    /// A policy's limit as the database counted it.
    pub fn counted(policy: &'static str, quota: u32, window_secs: u32, window: Window) -> Self {
        Limit {
            policy,
            quota,
            window_secs,
            hits: window.hits,
            reset_in: window.reset_in,
            reset_at: window.reset_at,
        }
    }

    pub fn remaining(&self) -> u32 {
        self.quota.saturating_sub(self.hits.max(0) as u32)
    }

    pub fn exceeded(&self) -> bool {
        self.hits.max(0) as u32 > self.quota
    }
}

/// The client address a sign-in is counted against. An IPv6 client
/// controls its whole /64 (one customer's prefix), so it is keyed by that;
/// an IPv4-mapped IPv6 address is the IPv4 client it stands for.
pub fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[derive(Clone, Debug)]
struct Blocked {
    limit: Limit,
    until: Instant,
}

/// This instance's memory of rate limits and tokens.
pub struct Throttle {
    blocked: Mutex<HashMap<String, Blocked>>,
    /// Keyed by the first 8 bytes of the token's hash: this only chooses a
    /// lane, and a made-up token that shared a real token's 8 bytes could
    /// only be made by someone who knows that token's hash.
    /// Tokens that authenticated here lately, with their account.
    familiar: Mutex<HashMap<u64, (Instant, i64)>>,
    /// Database lookups of tokens not familiar here.
    unfamiliar_lane: Arc<Semaphore>,
    /// How long an unfamiliar token waits for the lane before a 503.
    lane_wait: Duration,
}

impl Throttle {
    /// `lane` connections of the pool at most look up tokens this instance
    /// has not seen succeed lately.
    pub fn new(lane: usize, lane_wait: Duration) -> Self {
        Throttle {
            blocked: Mutex::new(HashMap::new()),
            familiar: Mutex::new(HashMap::new()),
            unfamiliar_lane: Arc::new(Semaphore::new(lane.max(1))),
            lane_wait,
        }
    }

    /// The limit that refuses `key` from memory, if it is still blocked.
    pub fn blocked(&self, key: &str) -> Option<Limit> {
        let mut blocked = self.blocked.lock().ok()?;
        let entry = blocked.get(key)?;
        let now = Instant::now();
        if entry.until <= now {
            blocked.remove(key);
            return None;
        }
        let mut limit = entry.limit.clone();
        let left = entry.until - now;
        limit.reset_in = left.as_secs_f64().ceil().max(1.0) as i64;
        Some(limit)
    }

    /// Remembers `limit` under `key` until its window ends, if it is exceeded.
    pub fn remember(&self, key: &str, limit: &Limit) {
        if !limit.exceeded() {
            return;
        }
        let Ok(mut blocked) = self.blocked.lock() else {
            return;
        };
        let now = Instant::now();
        if blocked.len() >= BLOCKLIST_MAX {
            blocked.retain(|_, b| b.until > now);
            if blocked.len() >= BLOCKLIST_MAX {
                return;
            }
        }
        let until = now + Duration::from_secs(limit.reset_in.max(1) as u64);
        blocked.insert(
            key.to_string(),
            Blocked {
                limit: limit.clone(),
                until,
            },
        );
    }

    /// The account of a token hash that authenticated on this instance
    /// lately: a hint only (the key is 64 bits of the hash), for work that
    /// the token's lookup then confirms.
    pub fn familiar_account(&self, hash: &[u8; 32]) -> Option<i64> {
        self.familiar
            .lock()
            .ok()
            .and_then(|f| f.get(&familiar_key(hash)).copied())
            .filter(|(at, _)| at.elapsed() < FAMILIAR_FOR)
            .map(|(_, account)| account)
    }

    pub fn make_familiar(&self, hash: &[u8; 32], account_id: i64) {
        let Ok(mut familiar) = self.familiar.lock() else {
            return;
        };
        let key = familiar_key(hash);
        if familiar.len() >= FAMILIAR_MAX && !familiar.contains_key(&key) {
            // Make room: first what has expired, then all but the most
            // recent, then (only if every entry is that recent) everything.
            familiar.retain(|_, (at, _)| at.elapsed() < FAMILIAR_FOR);
            if familiar.len() >= FAMILIAR_MAX {
                familiar.retain(|_, (at, _)| at.elapsed() < FAMILIAR_FOR / 8);
            }
            if familiar.len() >= FAMILIAR_MAX {
                familiar.clear();
            }
        }
        familiar.insert(key, (Instant::now(), account_id));
    }

    /// A place in the lane for an unfamiliar token's lookup, or a 503 when
    /// the lane stays full (a flood of made-up tokens is going on).
    pub async fn unfamiliar_lookup(&self) -> Result<OwnedSemaphorePermit, Error> {
        tokio::time::timeout(self.lane_wait, self.unfamiliar_lane.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(Error::Busy("token lookups are saturated"))
    }
}

fn familiar_key(hash: &[u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(first)
}

/// A browser that signed in to an account before, as its signed device
/// cookie says (OWASP's "device cookies": an attacker who locks an email
/// out from many addresses does not lock out the owner's own browser).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub account_id: i64,
    pub id: String,
}

/// A sign-in attempt's limits (`POST /auth/token` and the settings page).
///
/// The client address is counted first. An attempt refused because the
/// address is over its limit is not counted against the email it names, so
/// one address can burn at most its own attempts, not lock out every
/// account it names. `email` must be a validated address
/// (`validate::email`): only then is it a key. A `device` that signed in to
/// the email's account before is counted on its own key instead of the
/// email's.
pub async fn sign_in(
    db: &deadpool_postgres::Pool,
    memory: &Throttle,
    quota: u32,
    client: IpAddr,
    email: Option<&str>,
    device: Option<&Device>,
) -> Result<Vec<Limit>, Error> {
    let ip_key = client_key(client);
    if let Some(limit) = memory.blocked(&ip_key) {
        return Ok(vec![limit]);
    }
    // This instance's memory of the second key: the device's own, or an
    // alias of the email (the database decides what counts as the same
    // address; a miss here only costs a database round trip).
    let alias = match device {
        Some(device) => Some(format!("device:{}", device.id)),
        None => email.map(|e| format!("email-alias:{}", e.to_lowercase())),
    };
    if let Some(limit) = alias.as_deref().and_then(|a| memory.blocked(a)) {
        return Ok(vec![limit]);
    }
    let client = db.get().await?;
    let windows = throttle::hit_then_email(
        &client,
        &ip_key,
        email,
        i32::try_from(quota).unwrap_or(i32::MAX),
        f64::from(MINUTE_SECS),
        device.map(|d| (d.account_id, d.id.as_str())),
    )
    .await?;
    let mut limits = Vec::new();
    for window in windows {
        let policy = match window.key.split(':').next() {
            Some("ip") => "ip",
            Some("device") => "device",
            _ => "email",
        };
        let memory_key = match policy {
            "ip" => Some(ip_key.clone()),
            "device" => Some(window.key.clone()),
            _ if device.is_none() => alias.clone(),
            // A device cookie for another account: the email was counted,
            // but under no alias this request computed.
            _ => None,
        };
        let limit = Limit::counted(policy, quota, MINUTE_SECS, window);
        if let Some(key) = memory_key {
            memory.remember(&key, &limit);
        }
        limits.push(limit);
    }
    Ok(limits)
}

/// Policy name of the per-account token-creation budget.
pub const CREATION_POLICY: &str = "token-creation";

/// The key an account's token creations are counted under (in
/// `rate_limits` and in this instance's memory). The count itself happens
/// in the transaction that stores the token (`auth::issue::mint_counted`).
pub fn creation_key(account_id: i64) -> String {
    format!("mint:{account_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(hits: i32, reset_in: i64) -> Limit {
        Limit {
            policy: "ip",
            quota: 5,
            window_secs: MINUTE_SECS,
            hits,
            reset_in,
            reset_at: 1_800_000_000,
        }
    }

    #[test]
    fn an_ipv6_client_is_keyed_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), "ip:2001:db8:1:2::/64");
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
    }

    #[test]
    fn ipv4_clients_keep_their_address_also_when_mapped() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(v4), "ip:192.0.2.7");
        assert_eq!(client_key(mapped), "ip:192.0.2.7");
    }

    #[test]
    fn only_exceeded_limits_are_remembered_until_their_window_ends() {
        let memory = Throttle::new(1, Duration::from_millis(10));
        memory.remember("k", &limit(5, 30));
        assert!(memory.blocked("k").is_none(), "at the limit is not over it");
        memory.remember("k", &limit(6, 30));
        let blocked = memory.blocked("k").expect("blocked");
        assert!(blocked.exceeded());
        assert!((1..=30).contains(&blocked.reset_in));
        memory.remember("short", &limit(6, 0));
        // A window reported as ending now is still held for a second.
        assert!(memory.blocked("short").is_some());
    }

    #[test]
    fn a_full_memory_of_familiar_tokens_still_learns_new_ones() {
        let memory = Throttle::new(1, Duration::from_millis(10));
        let hash = |n: usize| {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&(n as u64).to_le_bytes());
            h
        };
        for n in 0..=FAMILIAR_MAX {
            memory.make_familiar(&hash(n), 1);
        }
        let newest = hash(FAMILIAR_MAX + 1);
        memory.make_familiar(&newest, 2);
        assert_eq!(memory.familiar_account(&newest), Some(2));
    }

    #[test]
    fn familiar_tokens_are_remembered_with_their_account() {
        let memory = Throttle::new(1, Duration::from_millis(10));
        assert_eq!(memory.familiar_account(&[1; 32]), None);
        memory.make_familiar(&[1; 32], 7);
        assert_eq!(memory.familiar_account(&[1; 32]), Some(7));
        assert_eq!(memory.familiar_account(&[2; 32]), None);
    }

    #[tokio::test]
    async fn the_unfamiliar_lane_is_bounded() {
        let memory = Throttle::new(1, Duration::from_millis(20));
        let held = memory.unfamiliar_lookup().await.expect("a place");
        assert!(matches!(
            memory.unfamiliar_lookup().await,
            Err(Error::Busy(_))
        ));
        drop(held);
        assert!(memory.unfamiliar_lookup().await.is_ok());
    }
}
