//! `mirror`: a local copy of an AniTrack list, kept in step through the
//! change feed, and writes that are done once however often they are
//! retried. A real consumer of the sync protocol (`docs/sync.md`), built on
//! the generated client.
//!
//! ```sh
//! cargo run -p anitrack-client --example mirror -- --help
//! ANITRACK_URL=http://127.0.0.1:8080 ANITRACK_TOKEN=atk_... \
//!     cargo run -p anitrack-client --example mirror -- sync
//! ```
//!
//! How it stays correct when killed at any point:
//!
//! - The copy and the cursor it is in step with are one JSON file, replaced
//!   as a whole: written to a temporary file in the same directory, flushed
//!   to disk, renamed over the old one (and the directory flushed). A kill
//!   leaves the old file or the new one, never a mix, and the cursor is only
//!   ever stored with the changes it covers, so a restart asks again for
//!   exactly what it has not applied.
//! - A write gets an `Idempotency-Key` once, stored (the same way) in a
//!   file beside the copy *before* the request is sent. A restarted write
//!   sends the same key, so the server replays its first answer instead of
//!   writing twice; the file goes once the result is printed (a run that
//!   printed nothing may have written: run it again).
//! - A `410 Gone` (the cursor is older than the deletions the server still
//!   keeps) drops the copy and starts over from the beginning of the feed.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write as _;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anitrack_client::types::{self, ListStatus};
use anitrack_client::{Client, Error as ClientError, Patch, ResponseValue};
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

/// The layout of the mirror file this program writes.
const FORMAT: u32 = 1;
/// How long the server keeps the answer of a write sent with an
/// `Idempotency-Key` (`docs/sync.md`).
const KEY_KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// Starts over after a 410 within one pass before giving up: a copy built
/// again from the beginning is never older than the deletions the server
/// keeps, so a second 410 is already a surprise.
const MAX_STARTS_OVER: u32 = 3;
/// The longest wait between two attempts, whatever `Retry-After` says.
const LONGEST_WAIT: Duration = Duration::from_secs(300);

#[derive(Parser)]
#[command(
    name = "mirror",
    about = "Keep a local copy of your AniTrack list in a JSON file, in step with the server",
    long_about = "Keep a local copy of your AniTrack list in a JSON file, in step with the server, \
and change the list with writes that are done once however often they are retried.

`mirror sync` follows the change feed (GET /api/v1/list/changes): the first run copies the \
whole list page by page, later runs (or the same run, every --interval) fetch only what changed, \
deletions included. The copy and its cursor are saved together after every page, atomically \
(temporary file, fsync, rename), so the program can be killed at any moment and resumes where it \
stopped. When the server answers 410 Gone (the copy is older than the deletions it still keeps), \
the copy is dropped and built again from the start.

`mirror add`, `patch` and `delete` change the list and print the result (the entry as JSON, or \
`deleted entry N`). Each write gets an Idempotency-Key that is saved beside the copy before the \
request is sent, and stays until the result is printed: failed connections and busy answers \
(409, 429, 5xx, honouring Retry-After) are retried with it, and when the program is killed or \
gives up before printing, running the same command again (or `mirror resume`) resends the same \
key, so the server replays its first answer instead of writing twice. The server keeps those \
answers for 24 hours.

Against `cargo xtask dev`, which prints a token:

    export ANITRACK_URL=http://127.0.0.1:8080 ANITRACK_TOKEN=atk_...
    mirror sync --once                 # copy the list into anitrack-mirror.json
    mirror add --anime-id 3 --status watching
    mirror sync --interval 5           # keep polling; Ctrl-C (or kill -9) any time

Exit status: 0 on success, 1 on an error (refused request, retries exhausted, unreadable file), \
2 on a usage error.",
    version
)]
struct Cli {
    /// The server's base URL (a trailing `/api/v1` is allowed).
    #[arg(
        long,
        env = "ANITRACK_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// The bearer token (`atk_...`), e.g. the one `cargo xtask dev` prints.
    #[arg(long, env = "ANITRACK_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// The mirror file: the copy and its cursor. A write in progress is kept
    /// beside it in `<FILE>.pending-write`.
    #[arg(
        long,
        env = "ANITRACK_MIRROR_FILE",
        default_value = "anitrack-mirror.json",
        global = true
    )]
    file: PathBuf,
    /// Attempts per request before giving up (connection errors, timeouts,
    /// 409, 429 and 5xx are retried with backoff, honouring Retry-After).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    attempts: u32,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bring the copy in step: first the whole list, then only changes.
    Sync(SyncArgs),
    /// Add an anime to the list (POST /list).
    Add(AddArgs),
    /// Change an entry (PATCH /list/{entryId}): only the fields given.
    Patch(PatchArgs),
    /// Delete an entry (DELETE /list/{entryId}).
    Delete(DeleteArgs),
    /// Finish the write a killed or failed run left pending, with its key.
    Resume,
    /// Show what the mirror file holds (no request is sent).
    Status,
}

#[derive(Args)]
struct SyncArgs {
    /// One pass (follow the feed until it has nothing more), then exit.
    #[arg(long, conflicts_with = "interval")]
    once: bool,
    /// Seconds between two polls when not --once (fractions allowed).
    #[arg(long, default_value = "30", value_parser = parse_interval)]
    interval: Duration,
    /// Changes per page, 1 to 1000.
    #[arg(long, default_value = "500", value_parser = parse_page_size)]
    page_size: NonZeroU32,
    /// Drop the copy and start over from the beginning of the feed.
    #[arg(long)]
    reset: bool,
}

#[derive(Args)]
struct AddArgs {
    /// AniTrack's anime id (see GET /anime).
    #[arg(long)]
    anime_id: i64,
    /// watching, completed, on_hold, dropped or plan_to_watch.
    #[arg(long, value_parser = parse_status)]
    status: ListStatus,
    #[command(flatten)]
    fields: EntryFields,
}

#[derive(Args)]
struct PatchArgs {
    /// The entry's id (`id` in the copy).
    #[arg(long)]
    entry_id: i64,
    /// watching, completed, on_hold, dropped or plan_to_watch.
    #[arg(long, value_parser = parse_status)]
    status: Option<ListStatus>,
    #[command(flatten)]
    fields: EntryFields,
    /// Refuse the change (412) unless the entry still has this ETag.
    #[arg(long)]
    if_match: Option<String>,
}

#[derive(Args)]
struct EntryFields {
    /// Episodes watched.
    #[arg(long)]
    progress: Option<i32>,
    /// Score, 0 to 100.
    #[arg(long)]
    score: Option<i32>,
    /// Free-form notes, at most 2000 characters.
    #[arg(long)]
    notes: Option<String>,
}

#[derive(Args)]
struct DeleteArgs {
    /// The entry's id (`id` in the copy).
    #[arg(long)]
    entry_id: i64,
    /// Refuse the deletion (412) unless the entry still has this ETag.
    #[arg(long)]
    if_match: Option<String>,
}

fn parse_status(text: &str) -> Result<ListStatus, String> {
    text.parse().map_err(|_| {
        format!("{text:?} is not one of watching, completed, on_hold, dropped, plan_to_watch")
    })
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
        return Err("the interval is more than 0 and at most 86400 seconds".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_page_size(text: &str) -> Result<NonZeroU32, String> {
    match text.parse::<u32>() {
        Ok(n @ 1..=1000) => NonZeroU32::new(n).ok_or_else(|| "the page size is 1 to 1000".into()),
        _ => Err("the page size is 1 to 1000".into()),
    }
}

/// A line of progress on standard error (standard output carries results).
macro_rules! note {
    ($($arg:tt)*) => { eprintln!("mirror: {}", format_args!($($arg)*)) };
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            note!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let paths = Paths::new(&cli.file)?;
    if let Command::Status = cli.command {
        return status(&paths);
    }
    let token =
        cli.token.as_deref().filter(|t| !t.is_empty()).context(
            "no token: pass --token or set ANITRACK_TOKEN (`cargo xtask dev` prints one)",
        )?;
    let api = Api {
        client: client(&cli.url, token)?,
        attempts: cli.attempts,
    };
    match cli.command {
        Command::Sync(args) => sync(&api, &paths, &args).await,
        Command::Add(args) => {
            let body = types::NewListEntry::try_from(
                types::NewListEntry::builder()
                    .anime_id(args.anime_id)
                    .status(args.status)
                    .progress(args.fields.progress)
                    .score(args.fields.score)
                    .notes(new_notes(args.fields.notes)?),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let request = WriteRequest {
                op: WriteOp::Add,
                entry_id: None,
                body: Some(serde_json::to_value(body)?),
                if_match: None,
            };
            write(&api, &paths, request).await
        }
        Command::Patch(args) => {
            // Only the fields given are sent: the others stay as they are.
            let body = types::ListEntryPatch {
                status: args.status,
                progress: args.fields.progress,
                score: args.fields.score.map_or(Patch::Unchanged, Patch::Set),
                notes: new_notes(args.fields.notes)?.map_or(Patch::Unchanged, Patch::Set),
                ..Default::default()
            };
            let request = WriteRequest {
                op: WriteOp::Patch,
                entry_id: Some(args.entry_id),
                body: Some(serde_json::to_value(body)?),
                if_match: args.if_match,
            };
            write(&api, &paths, request).await
        }
        Command::Delete(args) => {
            let request = WriteRequest {
                op: WriteOp::Delete,
                entry_id: Some(args.entry_id),
                body: None,
                if_match: args.if_match,
            };
            write(&api, &paths, request).await
        }
        Command::Resume => match load_pending(&paths)? {
            Some(pending) => finish(&api, &paths, &pending).await,
            None => {
                note!("no write is pending");
                Ok(())
            }
        },
        Command::Status => status(&paths),
    }
}

fn new_notes(notes: Option<String>) -> Result<Option<types::NewListEntryNotes>> {
    notes
        .map(|n| n.parse().map_err(|e| anyhow::anyhow!("--notes: {e}")))
        .transpose()
}

/// The generated client for `url`, sending the token on every request.
/// Its own retries stay off: this program retries more (failed
/// connections, 409, every 5xx of a keyed write) and says so as it goes.
fn client(url: &str, token: &str) -> Result<Client> {
    Client::builder(url)
        .token(token)
        .user_agent_suffix(concat!("anitrack-mirror/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(60))
        .build()
        .context("--url and --token")
}

// ---------------------------------------------------------------------------
// Files

/// The mirror file and the files beside it.
struct Paths {
    copy: PathBuf,
    pending: PathBuf,
}

impl Paths {
    fn new(file: &Path) -> Result<Paths> {
        let name = file
            .file_name()
            .with_context(|| format!("--file {} names no file", file.display()))?;
        let mut pending = name.to_os_string();
        pending.push(".pending-write");
        Ok(Paths {
            copy: file.to_path_buf(),
            pending: file.with_file_name(pending),
        })
    }
}

/// Replaces `path` with `bytes` so that a crash at any moment leaves either
/// the old file or the new one: a temporary file in the same directory
/// (a rename is atomic only within one file system), flushed to disk, renamed
/// over `path`, then the directory flushed so the rename is durable too.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    temporary.push(".tmp");
    let temporary = dir.join(temporary);
    let mut file = std::fs::File::create(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", temporary.display()))?;
    drop(file);
    std::fs::rename(&temporary, path)
        .with_context(|| format!("renaming {} to {}", temporary.display(), path.display()))?;
    sync_dir(&dir)
}

fn remove_durably(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_dir(&parent_dir(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("flushing the directory {}", dir.display()))
}

/// `path`'s contents, or `None` when there is no such file.
fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

// ---------------------------------------------------------------------------
// The copy

/// What the mirror file holds.
#[derive(Serialize, Deserialize)]
struct Copy {
    /// This file's layout (1).
    format: u32,
    /// The account whose list this is (`GET /user`): a token of another
    /// account is refused rather than mixed in.
    account_id: Option<i64>,
    /// The feed position `entries` is in step with; null before the first
    /// page. Opaque, stored as the server gave it, and only ever together
    /// with the changes it covers.
    cursor: Option<String>,
    /// True once the feed's last page was reached: `entries` is then the
    /// whole list as of `cursor`. False while a first sync (or a start over
    /// after a 410) is under way.
    complete: bool,
    /// The list, by entry id.
    #[serde(with = "entries_by_id")]
    entries: BTreeMap<i64, types::ListEntry>,
}

impl Copy {
    fn empty(account_id: Option<i64>) -> Copy {
        Copy {
            format: FORMAT,
            account_id,
            cursor: None,
            complete: false,
            entries: BTreeMap::new(),
        }
    }
}

/// The entries as a JSON array ordered by id (readable, and diffable).
mod entries_by_id {
    use std::collections::BTreeMap;

    use anitrack_client::types::ListEntry;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        entries: &BTreeMap<i64, ListEntry>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let list: Vec<&ListEntry> = entries.values().collect();
        list.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<i64, ListEntry>, D::Error> {
        let list = Vec::<ListEntry>::deserialize(deserializer)?;
        Ok(list.into_iter().map(|e| (e.id, e)).collect())
    }
}

fn load_copy(paths: &Paths) -> Result<Option<Copy>> {
    let Some(bytes) = read_if_present(&paths.copy)? else {
        return Ok(None);
    };
    let copy: Copy = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a mirror file (move it away, or pass `sync --reset` to replace it)",
            paths.copy.display()
        )
    })?;
    if copy.format != FORMAT {
        bail!(
            "{} has format {}, this program writes {FORMAT}",
            paths.copy.display(),
            copy.format
        );
    }
    Ok(Some(copy))
}

fn save_copy(paths: &Paths, copy: &Copy) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(copy)?;
    bytes.push(b'\n');
    write_atomically(&paths.copy, &bytes)
}

// ---------------------------------------------------------------------------
// Requests, with retries

struct Api {
    client: Client,
    attempts: u32,
}

/// Why a request did not succeed.
#[derive(Debug)]
enum Failure {
    /// The server answered with a status that retrying will not change.
    Refused { status: u16, message: String },
    /// Every attempt failed with something worth retrying later.
    GaveUp(String),
    /// The request could not be made (a pending write file this program
    /// cannot send, say).
    Invalid(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused { status, message } => {
                write!(f, "the server answered {status}: {message}")
            }
            Failure::GaveUp(why) => write!(f, "gave up: {why}"),
            Failure::Invalid(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for Failure {}

/// What to do with one attempt's result.
enum Verdict<T> {
    Done(ResponseValue<T>),
    Retry {
        why: String,
        after: Option<Duration>,
    },
    Stop(Failure),
}

fn judge<T>(result: Result<ResponseValue<T>, ClientError<types::Error>>) -> Verdict<T> {
    match result {
        Ok(value) => Verdict::Done(value),
        Err(ClientError::ErrorResponse(answer)) => {
            let status = answer.status().as_u16();
            let after = retry_after(answer.headers());
            let message = answer.into_inner().to_string();
            // 409: the same key is still being processed (on any instance);
            // 429: rate-limited; 5xx: the server or a proxy failed, and a
            // failed write keeps nothing, so it may be sent again.
            if matches!(status, 409 | 429 | 500 | 502 | 503 | 504) {
                Verdict::Retry {
                    why: format!("{status} {message}"),
                    after,
                }
            } else {
                Verdict::Stop(Failure::Refused { status, message })
            }
        }
        Err(ClientError::UnexpectedResponse(response)) => {
            let status = response.status();
            if status.is_server_error() || status.as_u16() == 429 {
                Verdict::Retry {
                    why: format!("{status}"),
                    after: retry_after(response.headers()),
                }
            } else {
                Verdict::Stop(Failure::Refused {
                    status: status.as_u16(),
                    message: "an answer the API does not describe".into(),
                })
            }
        }
        // The request may or may not have reached the server: exactly the
        // case an Idempotency-Key is for.
        Err(ClientError::CommunicationError(e) | ClientError::ResponseBodyError(e)) => {
            Verdict::Retry {
                why: chain(&e),
                after: None,
            }
        }
        // A body cut short or garbled on the way (a proxy's error page).
        Err(ClientError::InvalidResponsePayload(_, e)) => Verdict::Retry {
            why: format!("an unreadable answer: {e}"),
            after: None,
        },
        Err(other) => Verdict::Stop(Failure::Invalid(other.to_string())),
    }
}

/// `Retry-After` in seconds, at most [`LONGEST_WAIT`].
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    anitrack_client::retry_after(headers).map(|wait| wait.min(LONGEST_WAIT))
}

/// An error and its causes on one line ("connection refused" is a cause).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Api {
    /// Sends what `attempt` builds until it succeeds, is refused, or
    /// `self.attempts` attempts failed; waits between attempts as
    /// `Retry-After` says, else 0.25 s doubling up to 30 s, with jitter.
    async fn send<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<ResponseValue<T>, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, ClientError<types::Error>>>,
    {
        let mut backoff = Duration::from_millis(250);
        let mut number = 1;
        loop {
            let (why, after) = match judge(attempt().await) {
                Verdict::Done(value) => return Ok(value),
                Verdict::Stop(failure) => return Err(failure),
                Verdict::Retry { why, after } => (why, after),
            };
            if number >= self.attempts {
                return Err(Failure::GaveUp(format!(
                    "{what}: {why} (attempt {number} of {})",
                    self.attempts
                )));
            }
            let jittered = backoff.mul_f64(rand::random_range(0.5..1.0));
            let wait = after.unwrap_or(jittered);
            note!(
                "{what}: {why}; retrying in {:.1} s (attempt {} of {})",
                wait.as_secs_f64(),
                number + 1,
                self.attempts
            );
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
            number += 1;
        }
    }
}

// ---------------------------------------------------------------------------
// sync

async fn sync(api: &Api, paths: &Paths, args: &SyncArgs) -> Result<()> {
    if paths.pending.exists() {
        note!("a write is pending (killed or failed earlier): `mirror resume` finishes it");
    }
    let mut copy = None;
    loop {
        match sync_once(api, paths, args, &mut copy).await {
            Ok((applied, entries)) => {
                if args.once {
                    println!("in step: {entries} entries ({applied} changes applied)");
                    return Ok(());
                }
            }
            // Worth another try at the next poll: the server may be back.
            Err(failure) if !args.once && is_transient(&failure) => {
                note!(
                    "{failure:#}; trying again in {:.1} s",
                    args.interval.as_secs_f64()
                );
            }
            Err(failure) => return Err(failure),
        }
        tokio::time::sleep(args.interval).await;
    }
}

/// One pass; the first one reads the copy (after checking whose list the
/// token is for). Returns the changes applied and the entries now held.
async fn sync_once(
    api: &Api,
    paths: &Paths,
    args: &SyncArgs,
    copy: &mut Option<Copy>,
) -> Result<(u64, usize)> {
    let copy = match copy {
        Some(copy) => copy,
        None => copy.insert(open_copy(api, paths, args.reset).await?),
    };
    let applied = pass(api, paths, copy, args.page_size).await?;
    Ok((applied, copy.entries.len()))
}

/// The copy in the file (or a new one), for the token's account.
async fn open_copy(api: &Api, paths: &Paths, reset: bool) -> Result<Copy> {
    let account = api
        .send("GET /user", || api.client.user_view().send())
        .await
        .map_err(refusal_advice)?
        .into_inner();
    let loaded = if reset {
        note!("--reset: dropping the copy, starting over");
        None
    } else {
        load_copy(paths)?
    };
    let mut copy = loaded.unwrap_or_else(|| Copy::empty(Some(account.id)));
    if let Some(id) = copy.account_id.filter(|id| *id != account.id) {
        bail!(
            "{} is the list of account {id}, the token is account {}'s: use another --file, or \
             `sync --reset` to replace it",
            paths.copy.display(),
            account.id
        );
    }
    copy.account_id = Some(account.id);
    match (&copy.cursor, copy.complete) {
        (None, _) => note!(
            "first sync of {}'s list into {}",
            account.email,
            paths.copy.display()
        ),
        (Some(_), false) => note!(
            "resuming the first sync ({} entries so far)",
            copy.entries.len()
        ),
        (Some(_), true) => note!("{} entries; polling for changes", copy.entries.len()),
    }
    Ok(copy)
}

fn is_transient(error: &anyhow::Error) -> bool {
    matches!(error.downcast_ref::<Failure>(), Some(Failure::GaveUp(_)))
}

/// Adds what an operator can do about a refusal.
fn refusal_advice(failure: Failure) -> anyhow::Error {
    let advice = match &failure {
        Failure::Refused { status: 401, .. } => {
            "the token was not accepted: check ANITRACK_TOKEN (and that it was not revoked)"
        }
        Failure::Refused { status: 403, .. } => "the account's API access is not enabled",
        _ => return failure.into(),
    };
    anyhow::Error::new(failure).context(advice)
}

/// Follows the feed from the copy's cursor until `has_more` is false,
/// saving the copy with its new cursor after every page that changed it.
async fn pass(api: &Api, paths: &Paths, copy: &mut Copy, page_size: NonZeroU32) -> Result<u64> {
    let started = Instant::now();
    let mut last_note = Instant::now();
    let mut applied = 0u64;
    let mut pages = 0u64;
    let mut starts_over = 0;
    loop {
        let cursor = copy.cursor.clone();
        let answer = api
            .send("GET /list/changes", || {
                let request = api.client.list_changes().limit(page_size);
                match &cursor {
                    Some(cursor) => request.cursor(cursor.clone()),
                    None => request,
                }
                .send()
            })
            .await;
        let page = match answer {
            Ok(page) => page.into_inner(),
            Err(Failure::Refused {
                status: 410,
                message,
            }) => {
                if cursor.is_none() {
                    bail!("the server answered 410 to a request without a cursor: {message}");
                }
                // A copy started over is newer than every deletion purged
                // so far; a 410 again and again means it can never finish.
                starts_over += 1;
                if starts_over > MAX_STARTS_OVER {
                    bail!(
                        "the server answered 410 Gone {starts_over} times in one pass, also to a \
                         copy started over from the beginning ({message}); giving up"
                    );
                }
                note!(
                    "410 Gone: the copy is older than the deletions the server keeps ({message}); \
                     starting over"
                );
                *copy = Copy::empty(copy.account_id);
                save_copy(paths, copy)?;
                continue;
            }
            Err(Failure::Refused {
                status: 422,
                message,
            }) if cursor.is_some() => bail!(
                "the server does not take this file's cursor (422 {message}): the file was made \
                 for another server or account; `sync --reset` starts over"
            ),
            Err(failure) => return Err(refusal_advice(failure)),
        };
        pages += 1;
        let first = !copy.complete;
        let changed = !page.data.is_empty()
            || copy.cursor.as_deref() != Some(page.next_cursor.as_str())
            || (!page.has_more && !copy.complete);
        let (mut upserts, mut deletes) = (0u64, 0u64);
        for change in page.data {
            match (change.op, change.entry) {
                (types::ChangeOp::Upsert, Some(entry)) => {
                    upserts += 1;
                    copy.entries.insert(change.entry_id, entry);
                }
                (types::ChangeOp::Upsert, None) => {
                    bail!(
                        "the feed sent an upsert of entry {} without the entry",
                        change.entry_id
                    )
                }
                (types::ChangeOp::Delete, _) => {
                    deletes += 1;
                    copy.entries.remove(&change.entry_id);
                }
            }
        }
        applied += upserts + deletes;
        copy.cursor = Some(page.next_cursor);
        if !page.has_more {
            copy.complete = true;
        }
        // The copy and the cursor that covers it, in one atomic step.
        if changed {
            save_copy(paths, copy)?;
        }
        if first && (last_note.elapsed() >= Duration::from_secs(1) || !page.has_more) {
            note!(
                "first sync: page {pages}, {} changes applied, {} entries ({:.1} s){}",
                applied,
                copy.entries.len(),
                started.elapsed().as_secs_f64(),
                if page.has_more { "" } else { ": done" }
            );
            last_note = Instant::now();
        } else if !first && upserts + deletes > 0 {
            note!(
                "{upserts} changed, {deletes} deleted; {} entries",
                copy.entries.len()
            );
        }
        if !page.has_more {
            return Ok(applied);
        }
    }
}

// ---------------------------------------------------------------------------
// Writes

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WriteOp {
    Add,
    Patch,
    Delete,
}

/// A write as it is sent: what a retry must repeat byte for byte.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct WriteRequest {
    op: WriteOp,
    entry_id: Option<i64>,
    body: Option<serde_json::Value>,
    if_match: Option<String>,
}

impl WriteRequest {
    fn describe(&self) -> String {
        match (self.op, self.entry_id) {
            (WriteOp::Add, _) => "POST /list".into(),
            (WriteOp::Patch, Some(id)) => format!("PATCH /list/{id}"),
            (WriteOp::Delete, Some(id)) => format!("DELETE /list/{id}"),
            (op, None) => format!("{op:?} without an entry id"),
        }
    }
}

/// A write that was (or was about to be) sent, with its key: on disk from
/// before the first attempt until its answer is in.
#[derive(Serialize, Deserialize)]
struct PendingWrite {
    /// The `Idempotency-Key`, made once for this write.
    key: String,
    /// When the key was made (the server keeps answers for 24 hours).
    created_at: DateTime<Utc>,
    #[serde(flatten)]
    request: WriteRequest,
}

fn load_pending(paths: &Paths) -> Result<Option<PendingWrite>> {
    let Some(bytes) = read_if_present(&paths.pending)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .with_context(|| format!("{} is not a pending write", paths.pending.display()))
}

/// A key nobody else will make: 128 random bits.
fn new_key() -> String {
    format!("mirror-{:032x}", rand::random::<u128>())
}

/// Sends `request` once, whatever happens to this process: the same
/// request already pending (a killed run of the same command) goes with
/// its stored key; another pending write is finished first.
async fn write(api: &Api, paths: &Paths, request: WriteRequest) -> Result<()> {
    if let Some(pending) = load_pending(paths)? {
        if pending.request == request {
            note!(
                "{}: resending the pending write with its key {}",
                request.describe(),
                pending.key
            );
            return finish(api, paths, &pending).await;
        }
        note!(
            "finishing the pending {} (key {}) first",
            pending.request.describe(),
            pending.key
        );
        if let Err(error) = finish(api, paths, &pending).await {
            // Refused: it is gone and the new write may go. Given up: it is
            // still pending, and stays first in line.
            if paths.pending.exists() {
                return Err(error);
            }
            note!("the pending write failed: {error:#}");
        }
    }
    let pending = PendingWrite {
        key: new_key(),
        created_at: Utc::now(),
        request,
    };
    // On disk before anything is sent: a retry after a kill finds the key.
    let mut bytes = serde_json::to_vec_pretty(&pending)?;
    bytes.push(b'\n');
    write_atomically(&paths.pending, &bytes)?;
    finish(api, paths, &pending).await
}

/// Sends a pending write with its key until the server answers it; the
/// pending file goes once the answer is in (done, or refused for good).
/// When every attempt failed, it stays for the next run.
async fn finish(api: &Api, paths: &Paths, pending: &PendingWrite) -> Result<()> {
    if Utc::now() - pending.created_at > KEY_KEPT_FOR {
        note!(
            "warning: this write's key is older than 24 hours; the server may have forgotten it \
             and do the write again if it was done"
        );
    }
    let what = pending.request.describe();
    let written = match send_write(api, pending, &what).await {
        Ok(written) => written,
        Err(failure @ Failure::GaveUp(_)) => {
            note!(
                "{what} is still pending in {}: run the same command again, or `mirror resume`, \
                 to retry it with the same key",
                paths.pending.display()
            );
            // The failure names the request already.
            return Err(failure.into());
        }
        // Refused for good: nothing was written, and the key kept nothing.
        Err(failure) => {
            remove_durably(&paths.pending)?;
            return Err(refusal_advice(failure)).context(what);
        }
    };
    let replayed = if written.replayed() {
        " (replayed: the server had done it already)"
    } else {
        ""
    };
    // The result first, then the pending file goes: a run killed before it
    // printed its result left the write pending, for the same command to
    // finish with the same key.
    let result = match written {
        Written::Entry { entry, .. } => {
            note!(
                "{what}: entry {} (anime {}), rev {}{replayed}",
                entry.id,
                entry.anime_id,
                entry.rev
            );
            format!("{}\n", serde_json::to_string_pretty(&entry)?)
        }
        Written::Deleted { entry_id, .. } => {
            note!("{what}: done{replayed}");
            format!("deleted entry {entry_id}\n")
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(result.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing the result")?;
    remove_durably(&paths.pending)
}

enum Written {
    Entry {
        entry: Box<types::ListEntry>,
        replayed: bool,
    },
    Deleted {
        entry_id: i64,
        replayed: bool,
    },
}

impl Written {
    fn entry(answer: ResponseValue<types::ListEntry>) -> Written {
        let replayed = replayed(&answer);
        Written::Entry {
            entry: Box::new(answer.into_inner()),
            replayed,
        }
    }

    fn replayed(&self) -> bool {
        match self {
            Written::Entry { replayed, .. } | Written::Deleted { replayed, .. } => *replayed,
        }
    }
}

fn replayed<T>(answer: &ResponseValue<T>) -> bool {
    answer
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
}

async fn send_write(api: &Api, pending: &PendingWrite, what: &str) -> Result<Written, Failure> {
    let request = &pending.request;
    let key = pending.key.as_str();
    let unusable =
        |why: String| Failure::Invalid(format!("the pending write cannot be sent: {why}"));
    let body = request.body.clone().unwrap_or(serde_json::Value::Null);
    match (request.op, request.entry_id) {
        (WriteOp::Add, _) => {
            let body: types::NewListEntry =
                serde_json::from_value(body).map_err(|e| unusable(e.to_string()))?;
            let answer = api
                .send(what, || {
                    api.client
                        .list_entry_create()
                        .idempotency_key(key)
                        .body(body.clone())
                        .send()
                })
                .await?;
            Ok(Written::entry(answer))
        }
        (WriteOp::Patch, Some(entry_id)) => {
            let body: types::ListEntryPatch =
                serde_json::from_value(body).map_err(|e| unusable(e.to_string()))?;
            let answer = api
                .send(what, || {
                    let call = api
                        .client
                        .list_entry_update()
                        .entry_id(entry_id)
                        .idempotency_key(key)
                        .body(body.clone());
                    match &request.if_match {
                        Some(tag) => call.if_match(tag.clone()),
                        None => call,
                    }
                    .send()
                })
                .await?;
            Ok(Written::entry(answer))
        }
        (WriteOp::Delete, Some(entry_id)) => {
            let answer = api
                .send(what, || {
                    let call = api
                        .client
                        .list_entry_delete()
                        .entry_id(entry_id)
                        .idempotency_key(key);
                    match &request.if_match {
                        Some(tag) => call.if_match(tag.clone()),
                        None => call,
                    }
                    .send()
                })
                .await?;
            Ok(Written::Deleted {
                entry_id,
                replayed: replayed(&answer),
            })
        }
        (_, None) => Err(unusable("no entry id".into())),
    }
}

// ---------------------------------------------------------------------------
// status

fn status(paths: &Paths) -> Result<()> {
    match load_copy(paths)? {
        None => println!(
            "{}: no copy yet (`mirror sync` makes one)",
            paths.copy.display()
        ),
        Some(copy) => println!(
            "{}: {} entries of account {}, {}",
            paths.copy.display(),
            copy.entries.len(),
            copy.account_id
                .map_or_else(|| "?".into(), |id| id.to_string()),
            match (&copy.cursor, copy.complete) {
                (_, true) => "in step as of its cursor",
                (Some(_), false) => "first sync under way (`mirror sync` resumes it)",
                (None, false) => "first sync not started",
            }
        ),
    }
    match load_pending(paths)? {
        None => println!("no write pending"),
        Some(pending) => println!(
            "pending: {} with Idempotency-Key {} (since {}): `mirror resume` sends it",
            pending.request.describe(),
            pending.key,
            pending.created_at.to_rfc3339()
        ),
    }
    Ok(())
}
