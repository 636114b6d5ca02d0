//! Batched, idempotent upserts of catalog records, shared by
//! `catalog import` (files) and `catalog sync` (AniList's API).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use deadpool_postgres::Pool;

use super::media::Record;
use super::reader::{self, Position};
use super::upsert::{Upserted, upsert};
use crate::db::DbError;

/// Records per transaction: large enough to amortise commits, small enough
/// that a failure loses little work and memory stays flat.
pub const BATCH: usize = 500;
/// Skipped records reported one by one before only counting them.
const MAX_REPORTED: u64 = 1000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} inserted, {} updated, {} unchanged, {} skipped",
            self.inserted, self.updated, self.unchanged, self.skipped
        )
    }
}

/// Collects records and writes them a batch per transaction.
pub struct Importer {
    pool: Pool,
    /// Records waiting for the next transaction, each with where it came
    /// from (for the report if it must be skipped).
    batch: Vec<(String, Record)>,
    pub summary: Summary,
    last_progress: Instant,
    progress: bool,
}

impl Importer {
    pub fn new(pool: Pool, progress: bool) -> Self {
        Importer {
            pool,
            batch: Vec::with_capacity(BATCH),
            summary: Summary::default(),
            last_progress: Instant::now(),
            progress,
        }
    }

    /// Queues a record; `origin` names it in a report (`file: record 7`).
    pub async fn add(&mut self, origin: String, record: Record) -> Result<(), DbError> {
        self.batch.push((origin, record));
        if self.batch.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Reports a record that could not be used.
    pub fn skip(&mut self, source: &str, position: &str, reason: &str) {
        self.summary.skipped += 1;
        if self.summary.skipped <= MAX_REPORTED {
            eprintln!("skipped {source}: {position}: {reason}");
        } else if self.summary.skipped == MAX_REPORTED + 1 {
            eprintln!("(further skipped records are counted but not listed)");
        }
    }

    /// Writes the pending batch in one transaction. If the database refuses
    /// one of its records (and is not merely unavailable), the batch is
    /// written again one record per transaction, so only the bad record is
    /// skipped, with its origin and the reason.
    pub async fn flush(&mut self) -> Result<(), DbError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let counts = match self.write_batch().await {
            Ok(counts) => counts,
            Err(error) if error.is_unavailable() => return Err(error),
            Err(_) => self.write_one_by_one().await?,
        };
        self.batch.clear();
        self.summary.inserted += counts.inserted;
        self.summary.updated += counts.updated;
        self.summary.unchanged += counts.unchanged;
        if self.progress && self.last_progress.elapsed() >= Duration::from_secs(1) {
            self.last_progress = Instant::now();
            eprintln!("progress: {}", self.summary);
        }
        Ok(())
    }
}

impl Importer {
    async fn write_batch(&self) -> Result<Summary, DbError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut counts = Summary::default();
        for (_, record) in &self.batch {
            counts.count(upsert(&tx, record).await?);
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn write_one_by_one(&mut self) -> Result<Summary, DbError> {
        let batch = std::mem::take(&mut self.batch);
        let mut counts = Summary::default();
        for (origin, record) in &batch {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            match upsert(&tx, record).await {
                Ok(upserted) => {
                    tx.commit().await?;
                    counts.count(upserted);
                }
                Err(error) if error.is_unavailable() => return Err(error),
                Err(error) => {
                    drop(tx);
                    let (source, position) = origin.split_once(": ").unwrap_or((origin, ""));
                    self.skip(
                        source,
                        position,
                        &format!("the database refused it: {error}"),
                    );
                }
            }
        }
        Ok(counts)
    }
}

impl Summary {
    fn count(&mut self, upserted: Upserted) {
        match upserted {
            Upserted::Inserted => self.inserted += 1,
            Upserted::Updated => self.updated += 1,
            Upserted::Unchanged => self.unchanged += 1,
        }
    }
}

/// Imports every file; a bad record is reported and skipped, a file that
/// cannot be read at all fails the command after the files before it.
pub async fn import_files(pool: Pool, files: &[PathBuf]) -> anyhow::Result<Summary> {
    let mut importer = Importer::new(pool, true);
    for path in files {
        import_file(&mut importer, path).await?;
    }
    importer.flush().await?;
    Ok(importer.summary)
}

async fn import_file(importer: &mut Importer, path: &Path) -> anyhow::Result<()> {
    let source = path.display().to_string();
    eprintln!("importing {source}");
    // The reader runs on a blocking thread and hands records over a bounded
    // channel, so a huge file never sits in memory.
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<(Position, Result<super::media::Media, String>)>(BATCH * 2);
    let reader_path = path.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || {
        reader::read_file(&reader_path, &mut |item| tx.blocking_send(item).is_ok())
    });
    let mut outcome: anyhow::Result<()> = Ok(());
    while let Some((position, media)) = rx.recv().await {
        match media.and_then(Record::try_from) {
            Ok(record) => {
                let origin = format!("{source}: {position}");
                if let Err(error) = importer.add(origin, record).await {
                    outcome = Err(error)
                        .with_context(|| format!("writing records of {source} up to {position}"));
                    break;
                }
            }
            Err(reason) => importer.skip(&source, &position.to_string(), &reason),
        }
    }
    drop(rx);
    let read = reader.await.context("the file reader failed")?;
    outcome?;
    read.with_context(|| format!("reading {source}"))
}
