//! Realistic data, fast: the demo catalog through the server's own CLI,
//! then synthetic anime, accounts, real tokens and list entries in bulk SQL.
//!
//! Shape (full run; `--quick` has fewer accounts and tokens):
//! * the 166 demo anime plus synthetic ones up to `catalog` anime, so that
//!   the power user can have `power_entries` *live* entries (one live entry
//!   per account and anime is enforced by a partial unique index);
//! * `accounts` bench users `bench<N>@bench.test`, account id N, all with
//!   the same real Argon2id hash of [`PASSWORD`], made once by the server's
//!   own `user create` (hashing is slow);
//! * `tokens_per_account` real tokens each (minted to the published format
//!   by `tokens.rs`, only the SHA-256 stored), token id
//!   `(N - 1) * tokens_per_account + j + 1`;
//! * `entries_per_account` entries each, on demo anime
//!   `lo + (N + 8k) % cnt` (k = 0 is the account's *read target*, k = j is
//!   the entry token j PATCHes);
//! * one power user with `power_entries` live entries (every anime of the
//!   catalog), `power_deleted` soft-deleted ones (tombstones, 30 days old:
//!   within the server's default retention), and `power_tokens` tokens;
//! * every entry at its position in its account's change feed, in the order
//!   it last changed (as migration V8 numbers entries older than the feed),
//!   and every account's feed row (`list_feeds`) at its last position.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anitrack_pg::{PgCluster, Psql};
use anyhow::{Context as _, Result, bail};

use crate::cli::ServerCli;
use crate::tokens;

/// Every seeded account's password.
pub const PASSWORD: &str = "anitrack-bench-password";
pub const POWER_EMAIL: &str = "power@bench.test";
/// The account whose password hash every bench account gets; removed
/// before the bench accounts are made.
const HASH_SOURCE_EMAIL: &str = "hash-source@bench.test";

#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub accounts: usize,
    pub tokens_per_account: usize,
    pub entries_per_account: usize,
    pub catalog: usize,
    pub power_entries: usize,
    pub power_deleted: usize,
    pub power_tokens: usize,
}

impl Sizes {
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "accounts": self.accounts + 1,
            "bench_tokens": self.accounts * self.tokens_per_account,
            "power_user_tokens": self.power_tokens,
            "entries_per_account": self.entries_per_account,
            "catalog_anime": self.catalog,
            "power_user_live_entries": self.power_entries,
            "power_user_deleted_entries": self.power_deleted,
        })
    }
}

pub struct User {
    pub account_id: i64,
    pub email: String,
    /// Token j has id `(account_id - 1) * tokens_per_account + j + 1`.
    pub tokens: Vec<String>,
    /// The anime of entry k is `anime_for(k)`; this is its read target (k = 0).
    pub read_anime: i64,
    /// Entry id of entry k (k < tokens_per_account), for PATCH.
    pub entry_ids: Vec<i64>,
}

pub struct Dataset {
    pub users: Vec<User>,
    pub power_tokens: Vec<String>,
    /// Demo anime ids are `lo .. lo + cnt`.
    pub anime_lo: i64,
    pub anime_cnt: i64,
    pub sizes: Sizes,
}

fn step(what: &str, started: Instant) {
    println!("bench:   {what} ({:.1} s)", started.elapsed().as_secs_f64());
}

/// Creates `database`, migrates it and imports the demo catalog with the
/// server binary, then seeds it.
pub fn seed(
    cluster: &PgCluster,
    database: &str,
    server_bin: &Path,
    demo_catalog: &Path,
    sizes: Sizes,
) -> Result<Dataset> {
    let started = Instant::now();
    cluster.create_database(database, None)?;
    let url = cluster.url(database);
    let cli = ServerCli {
        bin: server_bin,
        database_url: &url,
    };
    cli.run(&["migrate"], None)?;
    let sql = cluster.sql(database)?;
    cli.run(
        &["catalog", "import", &demo_catalog.to_string_lossy()],
        None,
    )?;
    step("migrated, demo catalog imported", started);

    let bounds = sql.run("SELECT min(id), max(id), count(*) FROM anime")?;
    let nums: Vec<i64> = bounds
        .trim()
        .split('|')
        .filter_map(|v| v.parse().ok())
        .collect();
    let [lo, hi, cnt] = nums[..] else {
        bail!("unexpected anime bounds {bounds:?}");
    };
    if hi - lo + 1 != cnt || cnt < 2 {
        bail!("demo anime ids are not contiguous ({lo}..={hi}, {cnt} rows)");
    }
    let synthetic = sizes.catalog.saturating_sub(cnt as usize);
    sql.run(
        &format!(
            "INSERT INTO anime (anilist_id, mal_id, slug, title, title_english, format, status, episodes, \
               duration, season, season_year, synopsis, cover_image_url, site_url, search_text, source_hash) \
             SELECT 900000000 + g, 900000000 + g, 'bench-synthetic-title-' || g, \
               'Bench Synthetic Title ' || g, 'Bench Synthetic Title ' || g, 'TV', 'FINISHED', 12 + g % 40, \
               24, 'SPRING', 1990 + g % 35, repeat('A synthetic synopsis. ', 8), \
               'https://s4.anilist.co/file/anilistcdn/media/anime/cover/large/bx' || (900000000 + g) || '.jpg', \
               'https://anilist.co/anime/' || (900000000 + g), \
               'bench synthetic title ' || g, sha256(('bench-' || g)::bytea) \
             FROM generate_series(1, {synthetic}) g;\n\
             INSERT INTO anime_slugs (slug, anime_id) SELECT slug, id FROM anime WHERE anilist_id > 900000000;"
        ),
    )?;
    step(&format!("{synthetic} synthetic anime"), started);

    let hash = server_password_hash(&cli, &sql)?;
    let accounts = sizes.accounts;
    sql.run(
        &format!(
            "INSERT INTO accounts (email, name, password_hash, created_at) \
             SELECT 'bench' || g || '@bench.test', 'Bench User ' || g, '{hash}', \
               now() - (g % 700) * interval '1 day' FROM generate_series(1, {accounts}) g ORDER BY g;\n\
             INSERT INTO accounts (email, name, password_hash) VALUES ('{POWER_EMAIL}', 'Power User', '{hash}');"
        ),
    )?;
    let check = sql.run(
        &format!(
            "SELECT count(*) FROM accounts WHERE email = 'bench' || id || '@bench.test' AND id <= {accounts}"
        ),
    )?;
    if check.trim() != accounts.to_string() {
        bail!(
            "account ids are not 1..={accounts} in email order ({})",
            check.trim()
        );
    }
    let power_id = accounts as i64 + 1;
    step(&format!("{} accounts", accounts + 1), started);

    // Tokens: minted to the published format (see tokens.rs), inserted in
    // id order.
    let mut copy = String::from("COPY api_tokens (account_id, name, token_hash) FROM STDIN;\n");
    let mut users = Vec::with_capacity(accounts);
    for a in 1..=accounts as i64 {
        let mut tokens = Vec::with_capacity(sizes.tokens_per_account);
        for j in 0..sizes.tokens_per_account {
            let minted = tokens::mint();
            let _ = writeln!(
                copy,
                "{a}\tSync tool {j}\t\\\\x{}",
                tokens::hex(&minted.hash)
            );
            tokens.push(minted.plain);
        }
        users.push(User {
            account_id: a,
            email: format!("bench{a}@bench.test"),
            tokens,
            read_anime: lo + a % cnt,
            entry_ids: Vec::new(),
        });
    }
    let mut power_tokens = Vec::with_capacity(sizes.power_tokens);
    for j in 0..sizes.power_tokens {
        let minted = tokens::mint();
        let _ = writeln!(
            copy,
            "{power_id}\tPower tool {j}\t\\\\x{}",
            tokens::hex(&minted.hash)
        );
        power_tokens.push(minted.plain);
    }
    copy.push_str("\\.\n");
    sql.run(&copy)?;
    let per = sizes.tokens_per_account;
    let check = sql.run(
        &format!(
            "SELECT count(*) FROM api_tokens WHERE account_id <> 1 + (id - 1) / {per} AND account_id <= {accounts}"
        ),
    )?;
    if check.trim() != "0" {
        bail!("token ids do not follow account order");
    }
    step(
        &format!("{} tokens", accounts * per + sizes.power_tokens),
        started,
    );

    // Entries: bench users on demo anime, the power user on everything.
    // Each takes its position in its account's change feed (`change_seq`)
    // in the order it last changed, as migration V8 numbered the entries
    // that existed before the feed, and every account's feed row holds its
    // last position. The power user's deletions are 30 days old, within
    // the server's default tombstone retention (90 days), so that no
    // instance purges them during the run and the feed keeps them.
    let statuses = "(ARRAY['watching','completed','on_hold','dropped','plan_to_watch'])";
    sql.run(
        &format!(
            "INSERT INTO list_entries (account_id, anime_id, status, score, progress, notes, tags, \
               started_at, created_at, updated_at, change_seq) \
             SELECT a, {lo} + (a + 8 * k) % {cnt}, {statuses}[1 + (a + k) % 5], \
               CASE WHEN (a + k) % 3 = 0 THEN NULL ELSE (a * 7 + k * 13) % 101 END, (a + k) % 12, \
               CASE WHEN (a + k) % 4 = 0 THEN 'Rewatch with friends; the OST is great.' END, \
               CASE WHEN (a + k) % 5 = 0 THEN ARRAY['favourite','rewatch'] ELSE '{{}}' END, \
               date '2020-01-01' + (a + k) % 1500, now() - ((a * 31 + k * 17) % 9000) * interval '1 hour', \
               now() - ((a * 13 + k * 7) % 5000) * interval '1 minute', \
               row_number() OVER (PARTITION BY a ORDER BY (a * 13 + k * 7) % 5000 DESC, k) \
             FROM generate_series(1, {accounts}) a, generate_series(0, {epa}) k ORDER BY a, k;\n\
             INSERT INTO list_entries (account_id, anime_id, status, score, progress, notes, tags, \
               started_at, completed_at, is_private, rewatch_count, created_at, updated_at, change_seq) \
             SELECT {power_id}, id, {statuses}[1 + id % 5], \
               CASE WHEN id % 3 = 0 THEN NULL ELSE id % 101 END, id % 12, \
               CASE WHEN id % 4 = 0 THEN repeat('Notes on this one. ', (1 + id % 10)::int) END, \
               CASE WHEN id % 5 = 0 THEN ARRAY['favourite','seasonal','rewatch'] ELSE '{{}}' END, \
               date '2015-01-01' + (id % 3000)::int, CASE WHEN id % 5 = 1 THEN date '2015-01-01' + (id % 3000)::int + 30 END, \
               id % 17 = 0, id % 3, now() - (id % 20000) * interval '1 hour', now() - (id % 40000) * interval '1 minute', \
               {pd} + row_number() OVER (ORDER BY id % 40000 DESC, id) \
             FROM (SELECT id FROM anime ORDER BY id LIMIT {pe}) anime ORDER BY id;\n\
             INSERT INTO list_entries (account_id, anime_id, status, progress, created_at, updated_at, \
               deleted_at, rev, change_seq) \
             SELECT {power_id}, id, 'dropped', 1, now() - interval '400 days', now() - interval '30 days', \
               now() - interval '30 days', 2, row_number() OVER (ORDER BY id) \
             FROM (SELECT id FROM anime ORDER BY id LIMIT {pd}) anime ORDER BY id;\n\
             INSERT INTO list_feeds (account_id, last_seq) \
             SELECT account_id, max(change_seq) FROM list_entries GROUP BY account_id;",
            epa = sizes.entries_per_account.saturating_sub(1),
            pe = sizes.power_entries,
            pd = sizes.power_deleted,
        ),
    )?;
    let live = sql.run(&format!(
        "SELECT count(*) FROM list_entries WHERE account_id = {power_id} AND deleted_at IS NULL"
    ))?;
    if live.trim() != sizes.power_entries.to_string() {
        bail!(
            "the power user has {} live entries, not {}",
            live.trim(),
            sizes.power_entries
        );
    }
    step(
        &format!(
            "{} list entries",
            accounts * sizes.entries_per_account + sizes.power_entries + sizes.power_deleted
        ),
        started,
    );

    // Entry ids for PATCH: entry k of account a, k < tokens_per_account.
    let rows = sql.run(&format!(
        "SELECT account_id, anime_id, id FROM list_entries \
             WHERE account_id <= {accounts} AND deleted_at IS NULL"
    ))?;
    let mut ids: HashMap<(i64, i64), i64> = HashMap::with_capacity(accounts * 20);
    for line in rows.lines() {
        let v: Vec<i64> = line.split('|').filter_map(|x| x.parse().ok()).collect();
        if let [account, anime, id] = v[..] {
            ids.insert((account, anime), id);
        }
    }
    for user in &mut users {
        for k in 0..per.min(sizes.entries_per_account) as i64 {
            let anime = lo + (user.account_id + 8 * k) % cnt;
            let id = ids.get(&(user.account_id, anime)).with_context(|| {
                format!("no entry for account {} anime {anime}", user.account_id)
            })?;
            user.entry_ids.push(*id);
        }
    }

    sql.run("VACUUM ANALYZE;")?;
    step("vacuumed and analyzed", started);
    Ok(Dataset {
        users,
        power_tokens,
        anime_lo: lo,
        anime_cnt: cnt,
        sizes,
    })
}

/// One real Argon2id hash of [`PASSWORD`], made by the server itself: an
/// account created through its CLI, whose hash is read and which is then
/// removed again (with the identity counters reset, so that bench account
/// N still gets id N). On the way, a token minted by the server's CLI
/// must have the shape the bench mints (see tokens.rs).
fn server_password_hash(cli: &ServerCli, sql: &Psql) -> Result<String> {
    cli.run(
        &[
            "user",
            "create",
            "--email",
            HASH_SOURCE_EMAIL,
            "--name",
            "Bench hash source",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    )?;
    let token = cli.token_create(HASH_SOURCE_EMAIL, "bench format check")?;
    if !tokens::is_well_formed(&token) {
        bail!(
            "the server minted a token of another shape than the bench mints ({} characters, \
             starting {:?}); update xtask/bench/src/tokens.rs",
            token.len(),
            token.get(..4).unwrap_or_default()
        );
    }
    let hash = sql.value(&format!(
        "SELECT password_hash FROM accounts WHERE email = '{HASH_SOURCE_EMAIL}'"
    ))?;
    if !hash.starts_with("$argon2") || hash.contains('\'') {
        bail!("unexpected password hash from the server: {hash:?}");
    }
    sql.run(&format!(
        "DELETE FROM accounts WHERE email = '{HASH_SOURCE_EMAIL}';\n\
         SELECT setval(pg_get_serial_sequence('accounts', 'id'), 1, false);\n\
         SELECT setval(pg_get_serial_sequence('api_tokens', 'id'), 1, false);"
    ))?;
    Ok(hash)
}

/// A deterministic shuffle (xorshift), so runs are comparable.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}
