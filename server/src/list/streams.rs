//! How many streamed `GET /list` bodies may hold a database connection.
//!
//! A streamed list keeps its connection until the client has taken the
//! body (the buffer between them is one chunk, so memory stays bounded). A
//! client that reads slowly, or not at all until the stall timeout cuts it,
//! could otherwise pin the whole pool: each account may stream only a few
//! lists at once, and all streams together only part of the pool. Both
//! answer a 503 with `Retry-After` when full, as a busy database does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::Error;

/// Lists one account may stream at once on one instance.
pub use anitrack_spec::limits::LIST_STREAMS_PER_ACCOUNT as PER_ACCOUNT;

/// How long a request waits for one of its account's streams to end...
const ACCOUNT_WAIT: Duration = Duration::from_millis(500);
/// ...looking this often (a rare path: polling is simpler than a wakeup).
const ACCOUNT_POLL: Duration = Duration::from_millis(10);

/// The limits, shared by every request of an instance.
pub struct Streams {
    lane: Arc<Semaphore>,
    per_account: Arc<Mutex<HashMap<i64, usize>>>,
    wait: Duration,
    /// How long a client may take no chunk before its transfer is cut.
    pub stall: Duration,
}

/// A stream's place: the account's count until the transfer ends, the
/// lane until the producer is done with the connection.
pub struct StreamPermit {
    _lane: OwnedSemaphorePermit,
    account: AccountCount,
}

impl StreamPermit {
    /// The client is done with the transfer (it ended, was cut, or the
    /// client left): the account may start another while this one's
    /// connection is still drained.
    pub fn end_transfer(&mut self) {
        self.account.release();
    }
}

/// Gives one of an account's streams back.
fn release(per_account: &Mutex<HashMap<i64, usize>>, account_id: i64) {
    let Ok(mut counts) = per_account.lock() else {
        return;
    };
    if let Some(count) = counts.get_mut(&account_id) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            counts.remove(&account_id);
        }
    }
}

impl Streams {
    /// `lane` streams at once in all; a request waits up to `wait` for one.
    pub fn new(lane: usize, wait: Duration, stall: Duration) -> Self {
        Streams {
            lane: Arc::new(Semaphore::new(lane.max(1))),
            per_account: Arc::new(Mutex::new(HashMap::new())),
            wait,
            stall,
        }
    }

    /// One more of the account's streams, if it has one left.
    fn count_one(&self, account_id: i64) -> Result<bool, Error> {
        let mut counts = self
            .per_account
            .lock()
            .map_err(|_| Error::Busy("list streams"))?;
        let count = counts.entry(account_id).or_insert(0);
        if *count >= PER_ACCOUNT {
            return Ok(false);
        }
        *count += 1;
        Ok(true)
    }

    pub async fn admit(&self, account_id: i64) -> Result<StreamPermit, Error> {
        // A client that gave up on its transfers and asks again at once may
        // find them still ending; it waits a moment rather than getting 503.
        let deadline = tokio::time::Instant::now() + ACCOUNT_WAIT;
        while !self.count_one(account_id)? {
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Busy("this account's list streams"));
            }
            tokio::time::sleep(ACCOUNT_POLL).await;
        }
        // From here the count is ours: the permit (or this guard, if the
        // lane refuses) gives it back.
        let account = AccountCount {
            per_account: self.per_account.clone(),
            account_id,
            held: true,
        };
        let lane = tokio::time::timeout(self.wait, self.lane.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(Error::Busy("list streams"))?;
        Ok(StreamPermit {
            _lane: lane,
            account,
        })
    }
}

/// One of an account's streams, given back once.
struct AccountCount {
    per_account: Arc<Mutex<HashMap<i64, usize>>>,
    account_id: i64,
    held: bool,
}

impl AccountCount {
    fn release(&mut self) {
        if self.held {
            self.held = false;
            release(&self.per_account, self.account_id);
        }
    }
}

impl Drop for AccountCount {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_account_streams_at_most_a_few_lists_at_once() {
        let streams = Streams::new(8, Duration::from_millis(10), Duration::from_secs(1));
        let first = streams.admit(1).await.unwrap();
        let mut held = Vec::new();
        for _ in 1..PER_ACCOUNT {
            held.push(streams.admit(1).await.unwrap());
        }
        assert!(matches!(streams.admit(1).await, Err(Error::Busy(_))));
        assert!(
            streams.admit(2).await.is_ok(),
            "another account is not held up"
        );
        drop(first);
        assert!(streams.admit(1).await.is_ok());
    }

    #[tokio::test]
    async fn a_place_freed_a_moment_later_is_waited_for() {
        let streams = Streams::new(8, Duration::from_millis(10), Duration::from_secs(1));
        let mut held = Vec::new();
        for _ in 0..PER_ACCOUNT {
            held.push(streams.admit(7).await.unwrap());
        }
        let ending = held.pop().unwrap();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(ending);
        });
        assert!(streams.admit(7).await.is_ok());
    }

    #[tokio::test]
    async fn all_streams_together_take_a_bounded_lane() {
        let streams = Streams::new(1, Duration::from_millis(10), Duration::from_secs(1));
        let held = streams.admit(1).await.unwrap();
        assert!(matches!(streams.admit(2).await, Err(Error::Busy(_))));
        // The refused admission gave its account count back.
        drop(held);
        let _a = streams.admit(2).await.unwrap();
    }
}
