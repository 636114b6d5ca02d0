//! The seed's flows, through both instances: accounts from the operator
//! CLI, the demo catalog imported, tokens issued over HTTP, the catalog
//! read, a list entry written on one instance and read, changed, deleted
//! and followed in the change feed on the other.

use anitrack_conformance::harness::cli;
use anyhow::{Context as _, Result, bail, ensure};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Answer, Api};

/// Every account's password.
pub const PASSWORD: &str = "topology-password-1";
/// The account the flows use on both instances.
const FLOW_EMAIL: &str = "flows@topology.test";

/// An account of the writer loop, its token issued by the instance it
/// writes through.
#[derive(Clone)]
pub struct WriterAccount {
    pub email: String,
    pub token: String,
    /// The instance (0 or 1) it writes through.
    pub instance: usize,
    /// The change feed's cursor before the writer's first write.
    pub feed_cursor: String,
}

/// The operator CLI on the database the instances use.
pub struct Cli {
    /// The same multi-host URL the instances use.
    pub database_url: String,
    /// Global flags before the command (`--db-pooler transaction`).
    pub global: Vec<String>,
}

impl Cli {
    /// The CLI's standard output, or an error with its standard error.
    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let all: Vec<&str> = self
            .global
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied())
            .collect();
        let out = cli(Some(&self.database_url), &all, stdin)
            .await
            .with_context(|| format!("anitrack-server {}", all.join(" ")))?;
        if !out.success {
            bail!(
                "anitrack-server {} failed ({:?}): {}",
                all.join(" "),
                out.code,
                out.stderr.trim()
            );
        }
        Ok(out.stdout)
    }
}

/// `migrate`, the demo catalog, and the accounts, through the operator CLI.
pub async fn seed_with_cli(
    cli: &Cli,
    demo_catalog: &std::path::Path,
    writers: usize,
) -> Result<()> {
    cli.run(&["migrate"], None).await?;
    let imported = cli
        .run(
            &["catalog", "import", &demo_catalog.to_string_lossy()],
            None,
        )
        .await?;
    println!(
        "topology: demo catalog: {}",
        imported.lines().last().unwrap_or_default().trim()
    );
    let password = format!("{PASSWORD}\n");
    for email in std::iter::once(FLOW_EMAIL.to_owned()).chain((0..writers).map(writer_email)) {
        cli.run(
            &[
                "user",
                "create",
                "--email",
                &email,
                "--name",
                "Topology",
                "--password-stdin",
            ],
            Some(&password),
        )
        .await?;
    }
    Ok(())
}

fn writer_email(i: usize) -> String {
    format!("writer{i}@topology.test")
}

/// `POST /auth/token` on `api`: the plain token.
pub async fn issue_token(api: &Api, email: &str, device: &str) -> Result<String> {
    let body = json!({"email": email, "password": PASSWORD, "device_name": device});
    let issued = api
        .call(Method::POST, "/api/v1/auth/token", None, Some(&body))
        .await
        .into_json(
            &format!("POST /auth/token for {email} on {}", api.base()),
            201,
        )?;
    str_field(&issued, "token")
}

pub(crate) fn str_field(value: &Value, key: &str) -> Result<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no string {key:?} in {value}"))
}

pub(crate) fn i64_field(value: &Value, key: &str) -> Result<i64> {
    value
        .get(key)
        .and_then(Value::as_i64)
        .with_context(|| format!("no integer {key:?} in {value}"))
}

/// The entries of `GET /list` (the whole list), as sent.
pub async fn list(api: &Api, token: &str) -> Result<Vec<Value>> {
    let page = api
        .get("/api/v1/list", Some(token))
        .await
        .into_json(&format!("GET /list on {}", api.base()), 200)?;
    page.get("data")
        .and_then(Value::as_array)
        .cloned()
        .with_context(|| format!("no data in {page}"))
}

/// One page of the change feed after `cursor` (the start without one).
pub async fn changes(api: &Api, token: &str, cursor: Option<&str>) -> Result<Value> {
    let path = match cursor {
        Some(cursor) => format!("/api/v1/list/changes?cursor={cursor}&limit=500"),
        None => "/api/v1/list/changes?limit=500".to_owned(),
    };
    api.get(&path, Some(token))
        .await
        .into_json(&format!("GET /list/changes on {}", api.base()), 200)
}

/// The seed's flows across the two instances; then a token and the feed's
/// starting cursor for each writer account.
pub async fn run(cli: &Cli, apis: &[Api; 2], writers: usize) -> Result<Vec<WriterAccount>> {
    let [a, b] = apis;
    // Tokens: one from each instance's sign-in, one from the CLI.
    let token_a = issue_token(a, FLOW_EMAIL, "topology instance A").await?;
    let token_b = issue_token(b, FLOW_EMAIL, "topology instance B").await?;
    let token_cli = cli
        .run(
            &["token", "create", "--email", FLOW_EMAIL, "--name", "cli"],
            None,
        )
        .await?
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    for (api, token) in [
        (a, &token_a),
        (b, &token_b),
        (a, &token_cli),
        (b, &token_cli),
    ] {
        let user = api
            .get("/api/v1/user", Some(token))
            .await
            .into_json("GET /user", 200)?;
        ensure!(
            str_field(&user, "email")? == FLOW_EMAIL,
            "GET /user: {user}"
        );
    }

    // The catalog, searched on one instance and read on the other.
    let found = a
        .get("/api/v1/anime?q=demon&limit=5", Some(&token_a))
        .await
        .into_json("GET /anime?q=demon", 200)?;
    let first = found
        .get("data")
        .and_then(|d| d.get(0))
        .cloned()
        .with_context(|| format!("GET /anime?q=demon found nothing: {found}"))?;
    let slug = str_field(&first, "slug")?;
    let anime_id = i64_field(&first, "id")?;
    let viewed = b
        .get(&format!("/api/v1/anime/{slug}"), Some(&token_b))
        .await
        .into_json("GET /anime/{slug}", 200)?;
    ensure!(
        i64_field(&viewed, "id")? == anime_id,
        "GET /anime/{slug}: {viewed}"
    );

    // A list entry: written on A, read and changed on B, read back on A.
    let start = changes(a, &token_a, None).await?;
    let cursor = str_field(&start, "next_cursor")?;
    let created = a
        .call(
            Method::POST,
            "/api/v1/list",
            Some(&token_a),
            Some(&json!({"anime_id": anime_id, "status": "watching", "progress": 1})),
        )
        .await
        .into_json("POST /list", 201)?;
    let entry_id = i64_field(&created, "id")?;
    ensure!(
        list(b, &token_b)
            .await?
            .iter()
            .any(|e| e.get("id").and_then(Value::as_i64) == Some(entry_id)),
        "the entry written on A is not in GET /list on B"
    );
    let patched = b
        .call(
            Method::PATCH,
            &format!("/api/v1/list/{entry_id}"),
            Some(&token_b),
            Some(&json!({"progress": 2, "notes": "from B"})),
        )
        .await
        .into_json("PATCH /list/{id}", 200)?;
    let rev = i64_field(&patched, "rev")?;
    let read = a
        .get(&format!("/api/v1/list/anime/{anime_id}"), Some(&token_a))
        .await
        .into_json("GET /list/anime/{id}", 200)?;
    ensure!(
        i64_field(&read, "rev")? == rev && read.get("notes") == Some(&json!("from B")),
        "GET /list/anime/{anime_id} on A after the PATCH on B: {read}"
    );
    let deleted = b
        .call(
            Method::DELETE,
            &format!("/api/v1/list/{entry_id}"),
            Some(&token_b),
            None,
        )
        .await;
    ensure!(
        matches!(deleted, Answer::Status { status: 204, .. }),
        "DELETE /list/{entry_id}: {}",
        deleted.describe()
    );
    // The feed on A, from before the entry: one change, its deletion.
    let feed = changes(a, &token_a, Some(&cursor)).await?;
    let data = feed.get("data").and_then(Value::as_array);
    ensure!(
        data.is_some_and(|d| d.len() == 1
            && d[0].get("entry_id").and_then(Value::as_i64) == Some(entry_id)
            && d[0].get("op") == Some(&json!("delete"))),
        "GET /list/changes on A after the DELETE on B: {feed}"
    );
    println!(
        "topology: flows through both instances: tokens from each instance's sign-in and the \
         CLI, catalog search and view, an entry created on A, read and patched on B, read on A, \
         deleted on B, its deletion in A's change feed: ok"
    );

    let mut accounts = Vec::new();
    for i in 0..writers {
        let instance = i % 2;
        let email = writer_email(i);
        let token = issue_token(&apis[instance], &email, "topology writer").await?;
        let start = changes(&apis[instance], &token, None).await?;
        accounts.push(WriterAccount {
            feed_cursor: str_field(&start, "next_cursor")?,
            email,
            token,
            instance,
        });
    }
    Ok(accounts)
}
