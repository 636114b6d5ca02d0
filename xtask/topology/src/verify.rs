//! After the failover: every acknowledged write is in the database (the
//! promoted standby), `GET /list` on both instances says exactly what the
//! database holds, and the change feed followed from before the first
//! write arrives at the same state.

use std::collections::BTreeMap;

use anitrack_pg::Psql;
use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::api::Api;
use crate::failover::{Ack, entry_state};
use crate::flows::{WriterAccount, changes, list, str_field};

/// Entry id → (rev, notes).
pub type Entries = BTreeMap<i64, (i64, String)>;

/// What the check found; `problems` empty means it passed.
#[derive(Debug, Default)]
pub struct Verdict {
    pub acked: usize,
    /// Acknowledged writes not found: the entry missing, an older rev, or
    /// the same rev with other notes.
    pub lost: usize,
    pub live_entries: usize,
    pub problems: Vec<String>,
}

/// The live entries of `email` in the database, read with `psql`.
pub fn database_entries(psql: &Psql, email: &str) -> Result<Entries> {
    let text = psql.run(&format!(
        "SELECT e.id, e.rev, coalesce(e.notes, '') FROM list_entries e \
         JOIN accounts a ON a.id = e.account_id \
         WHERE lower(a.email) = lower('{}') AND e.deleted_at IS NULL ORDER BY e.id",
        email.replace('\'', "''")
    ))?;
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut fields = line.splitn(3, '|');
            let id = fields.next().and_then(|f| f.parse().ok());
            let rev = fields.next().and_then(|f| f.parse().ok());
            let notes = fields.next().map(str::to_owned);
            match (id, rev, notes) {
                (Some(id), Some(rev), Some(notes)) => Ok((id, (rev, notes))),
                _ => anyhow::bail!("unexpected row from psql: {line:?}"),
            }
        })
        .collect()
}

/// The acknowledged writes of one account against the database's state.
pub fn check_acks(acks: &[&Ack], database: &Entries, verdict: &mut Verdict) {
    for ack in acks {
        verdict.acked += 1;
        let found = database.get(&ack.entry_id);
        let kept = match found {
            Some((rev, notes)) => *rev > ack.rev || (*rev == ack.rev && *notes == ack.notes),
            None => false,
        };
        if !kept {
            verdict.lost += 1;
            if verdict.lost <= 5 {
                verdict.problems.push(format!(
                    "acknowledged write lost: entry {} rev {} notes {:?}; the database has {:?}",
                    ack.entry_id, ack.rev, ack.notes, found
                ));
            }
        }
    }
}

/// `GET /list` of `token` on `api`, as [`Entries`].
async fn listed(api: &Api, token: &str) -> Result<Entries> {
    list(api, token)
        .await?
        .iter()
        .map(|entry| {
            entry_state(entry)
                .map(|(id, rev, notes)| (id, (rev, notes)))
                .with_context(|| format!("an entry without id or rev: {entry}"))
        })
        .collect()
}

/// The state the feed gives from `cursor` on, paged to its end: entry id →
/// its last change (`None` for a deletion).
async fn followed(
    api: &Api,
    token: &str,
    cursor: &str,
) -> Result<BTreeMap<i64, Option<(i64, String)>>> {
    let mut state = BTreeMap::new();
    let mut cursor = cursor.to_owned();
    for _ in 0..1000 {
        let page = changes(api, token, Some(&cursor)).await?;
        for change in page
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = change
                .get("entry_id")
                .and_then(Value::as_i64)
                .with_context(|| format!("a change without entry_id: {change}"))?;
            let entry = change
                .get("entry")
                .filter(|e| !e.is_null())
                .and_then(entry_state)
                .map(|(_, rev, notes)| (rev, notes));
            state.insert(id, entry);
        }
        cursor = str_field(&page, "next_cursor")?;
        if page.get("has_more") != Some(&Value::Bool(true)) {
            return Ok(state);
        }
    }
    anyhow::bail!("the change feed did not end within 1000 pages")
}

/// One writer account: its acknowledged writes against the database, and
/// `GET /list` on every instance and its change feed (read through the
/// instance it did not write through) against the database.
pub async fn check_account(
    apis: &[Api; 2],
    account: &WriterAccount,
    acks: &[&Ack],
    database: &Entries,
    verdict: &mut Verdict,
) -> Result<()> {
    check_acks(acks, database, verdict);
    verdict.live_entries += database.len();
    for (i, api) in apis.iter().enumerate() {
        let seen = listed(api, &account.token).await?;
        if &seen != database {
            verdict.problems.push(format!(
                "{}: GET /list on instance {} has {} entries, the database {}; first \
                 difference at entry {:?}",
                account.email,
                ["A", "B"][i],
                seen.len(),
                database.len(),
                first_difference(&seen, database)
            ));
        }
    }
    let other = &apis[1 - account.instance];
    let feed = followed(other, &account.token, &account.feed_cursor).await?;
    let live: Entries = feed
        .into_iter()
        .filter_map(|(id, state)| state.map(|s| (id, s)))
        .collect();
    if &live != database {
        verdict.problems.push(format!(
            "{}: the change feed followed from before the first write gives {} live entries, \
             the database {}; first difference at entry {:?}",
            account.email,
            live.len(),
            database.len(),
            first_difference(&live, database)
        ));
    }
    Ok(())
}

fn first_difference(a: &Entries, b: &Entries) -> Option<i64> {
    a.keys()
        .chain(b.keys())
        .copied()
        .filter(|id| a.get(id) != b.get(id))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(entry_id: i64, rev: i64, notes: &str) -> Ack {
        Ack {
            writer: 0,
            entry_id,
            rev,
            notes: notes.to_owned(),
        }
    }

    #[test]
    fn an_ack_is_kept_by_its_own_state_or_a_later_rev() {
        let database: Entries = [(1, (3, "w0-9".to_owned())), (2, (1, "w0-2".to_owned()))]
            .into_iter()
            .collect();
        let acks = [
            ack(1, 2, "w0-5"),
            ack(1, 3, "w0-9"),
            ack(2, 1, "w0-2"),
            ack(2, 1, "w0-3"),
            ack(3, 1, "w0-4"),
        ];
        let mut verdict = Verdict::default();
        check_acks(&acks.iter().collect::<Vec<_>>(), &database, &mut verdict);
        assert_eq!(
            (verdict.acked, verdict.lost),
            (5, 2),
            "{:?}",
            verdict.problems
        );
        let mut other = database.clone();
        other.insert(2, (2, "w0-7".to_owned()));
        assert_eq!(first_difference(&database, &other), Some(2));
        assert_eq!(first_difference(&database, &database), None);
    }
}
