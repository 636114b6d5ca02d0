//! The writer loop and what it saw: each writer adds and changes entries
//! of its own account through one instance, as fast as answers come,
//! recording every answer and every acknowledged (2xx) write; the figures
//! of a failover are read from that record.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Answer, Api};
use crate::flows::{WriterAccount, i64_field};

/// A failed writer waits this long before its next write: a client
/// retrying promptly (it does not honour `Retry-After`, so that the gap is
/// measured to a few tens of milliseconds).
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// One answer a writer got.
#[derive(Debug, Clone)]
pub struct Event {
    pub instance: usize,
    pub sent: Instant,
    pub done: Instant,
    pub answer: Answer,
}

/// A write the server acknowledged: the entry's state as the answer gave
/// it.
#[derive(Debug, Clone)]
pub struct Ack {
    pub writer: usize,
    pub entry_id: i64,
    pub rev: i64,
    pub notes: String,
}

#[derive(Default)]
pub struct Record {
    pub events: Vec<Event>,
    pub acks: Vec<Ack>,
}

pub type SharedRecord = Arc<Mutex<Record>>;

pub fn lock(record: &SharedRecord) -> std::sync::MutexGuard<'_, Record> {
    record.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One writer: `POST /list` of the next anime (never one tried before, so
/// a create whose answer was lost cannot collide) alternating with a
/// `PATCH` of one of its entries, each with notes `w<writer>-<n>`, until
/// `stop`.
pub async fn writer_loop(
    writer: usize,
    account: WriterAccount,
    api: Api,
    anime: Arc<Vec<i64>>,
    stop: Arc<AtomicBool>,
    record: SharedRecord,
) {
    let mut next_anime = 0;
    let mut entries: Vec<i64> = Vec::new();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let notes = format!("w{writer}-{n}");
        let create = (n % 2 == 1 || entries.is_empty()) && next_anime < anime.len();
        let (method, path, body) = if create {
            next_anime += 1;
            (
                Method::POST,
                "/api/v1/list".to_owned(),
                json!({"anime_id": anime[next_anime - 1], "status": "watching", "notes": notes}),
            )
        } else if let Some(&entry) = entries.get((n as usize / 2) % entries.len().max(1)) {
            (
                Method::PATCH,
                format!("/api/v1/list/{entry}"),
                json!({"notes": notes}),
            )
        } else {
            // Nothing created yet and no anime left: nothing to write.
            break;
        };
        let sent = Instant::now();
        let answer = api
            .call(method, &path, Some(&account.token), Some(&body))
            .await;
        let done = Instant::now();
        let acked = acked_entry(&answer);
        let failed = !answer.is_success();
        {
            let mut record = lock(&record);
            if let Some((entry_id, rev)) = acked {
                record.acks.push(Ack {
                    writer,
                    entry_id,
                    rev,
                    notes: notes.clone(),
                });
            }
            record.events.push(Event {
                instance: account.instance,
                sent,
                done,
                answer,
            });
        }
        if create && let Some((entry_id, _)) = acked {
            entries.push(entry_id);
        }
        if failed {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}

/// The entry id and rev of a 2xx write's answer.
fn acked_entry(answer: &Answer) -> Option<(i64, i64)> {
    match answer {
        Answer::Status {
            status,
            json: Some(body),
            ..
        } if (200..300).contains(status) => {
            Some((i64_field(body, "id").ok()?, i64_field(body, "rev").ok()?))
        }
        _ => None,
    }
}

/// What one instance's clients saw around the failover.
#[derive(Debug, Clone, Default)]
pub struct InstanceFigures {
    pub requests: usize,
    pub acked: usize,
    /// Failures answered with a JSON 503 and `Retry-After`.
    pub refused_503: usize,
    /// Any other failure (another status, a 503 without `Retry-After` or
    /// JSON, no answer at all).
    pub other_errors: usize,
    /// The first few of them, described.
    pub other_examples: Vec<String>,
    /// From the kill to the first failed answer.
    pub first_failure_after_kill: Option<Duration>,
    /// From the first failed answer to the first success sent after it.
    pub gap: Option<Duration>,
    /// From the kill to that success.
    pub recovered_after_kill: Option<Duration>,
    pub slowest: Duration,
    /// Acknowledged writes sent after the promotion.
    pub acked_after_promote: usize,
    /// Failures answered before the kill (there should be none).
    pub failures_before_kill: usize,
}

/// The figures of `instance` from the record.
pub fn figures(
    events: &[Event],
    instance: usize,
    killed: Instant,
    promoted: Instant,
) -> InstanceFigures {
    let mut mine: Vec<&Event> = events.iter().filter(|e| e.instance == instance).collect();
    mine.sort_by_key(|e| e.done);
    let mut figures = InstanceFigures {
        requests: mine.len(),
        ..InstanceFigures::default()
    };
    for event in &mine {
        figures.slowest = figures.slowest.max(event.answer.took());
        if event.answer.is_success() {
            figures.acked += 1;
            if event.sent >= promoted {
                figures.acked_after_promote += 1;
            }
            continue;
        }
        if event.done < killed {
            figures.failures_before_kill += 1;
        }
        if event.answer.is_json_503() {
            figures.refused_503 += 1;
        } else {
            figures.other_errors += 1;
            if figures.other_examples.len() < 5 {
                figures.other_examples.push(event.answer.describe());
            }
        }
    }
    let Some(first_failure) = mine.iter().find(|e| !e.answer.is_success()) else {
        return figures;
    };
    figures.first_failure_after_kill = first_failure.done.checked_duration_since(killed);
    if let Some(recovery) = mine
        .iter()
        .find(|e| e.answer.is_success() && e.sent >= first_failure.done)
    {
        figures.gap = Some(recovery.done.duration_since(first_failure.done));
        figures.recovered_after_kill = recovery.done.checked_duration_since(killed);
    }
    figures
}

/// Whether every instance has had `enough` acknowledged writes sent after
/// the promotion.
pub fn all_recovered(
    record: &SharedRecord,
    instances: usize,
    promoted: Instant,
    enough: usize,
) -> bool {
    let record = lock(record);
    (0..instances).all(|instance| {
        record
            .events
            .iter()
            .filter(|e| e.instance == instance && e.sent >= promoted && e.answer.is_success())
            .count()
            >= enough
    })
}

/// The entries of a JSON list (`GET /list`'s data, the feed's `entry`):
/// id, rev, notes.
pub fn entry_state(entry: &Value) -> Option<(i64, i64, String)> {
    Some((
        entry.get("id")?.as_i64()?,
        entry.get("rev")?.as_i64()?,
        entry
            .get("notes")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(instance: usize, at: Instant, ms: u64, status: u16) -> Event {
        let sent = at + Duration::from_millis(ms);
        Event {
            instance,
            sent,
            done: sent + Duration::from_millis(5),
            answer: Answer::Status {
                status,
                retry_after: (status == 503).then(|| "2".to_owned()),
                json: Some(json!({"message": "x", "id": 1, "rev": 1})),
                took: Duration::from_millis(5),
            },
        }
    }

    #[test]
    fn the_gap_runs_from_the_first_failure_to_the_first_success_sent_after_it() {
        let t0 = Instant::now();
        let killed = t0 + Duration::from_millis(100);
        let promoted = t0 + Duration::from_millis(300);
        let events = vec![
            event(0, t0, 0, 201),
            event(0, t0, 110, 503),
            // Sent before the failure was answered: not the recovery.
            event(0, t0, 112, 200),
            event(0, t0, 200, 500),
            event(0, t0, 400, 200),
            event(0, t0, 450, 200),
            event(1, t0, 50, 200),
        ];
        let f = figures(&events, 0, killed, promoted);
        assert_eq!(f.requests, 6);
        assert_eq!(f.acked, 4);
        assert_eq!(f.refused_503, 1);
        assert_eq!(f.other_errors, 1, "{:?}", f.other_examples);
        assert_eq!(f.first_failure_after_kill, Some(Duration::from_millis(15)));
        assert_eq!(f.gap, Some(Duration::from_millis(290)));
        assert_eq!(f.recovered_after_kill, Some(Duration::from_millis(305)));
        assert_eq!(f.acked_after_promote, 2);
        assert_eq!(f.failures_before_kill, 0);
        let quiet = figures(&events, 1, killed, promoted);
        assert_eq!((quiet.requests, quiet.gap), (1, None));
    }
}
