//! `cargo xtask dev`: AniTrack on this machine, from a fresh clone.
//!
//! A private PostgreSQL cluster (created on the first run, reused after) on
//! a free loopback port, or `$DATABASE_URL` when set; migrations; a demo
//! account with API access and a fresh token; then the server in the
//! foreground. Ctrl-C stops the server and PostgreSQL.
//!
//! The cluster lives where its server can reach it (`anitrack_pg::state_home`):
//! `target/dev-pg/` for an ordinary user; as root, where PostgreSQL runs as
//! the `postgres` user and a clone under `/root` (mode 700) is closed to
//! it, `/var/tmp/anitrack-pg/dev-<clone>-<hash of its path>/`.

use std::net::SocketAddr;
use std::process::Command;

use anitrack_pg::{ClusterOptions, PgCluster};
use anyhow::{Context, bail};

use crate::workspace;

const DEMO_EMAIL: &str = "demo@anitrack.test";
const DEMO_PASSWORD: &str = "anitrack-demo-password";
const DATABASE: &str = "anitrack";

#[derive(clap::Args)]
pub struct Args {
    /// Address the server listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = workspace::root();
    // Ctrl-C reaches the server too (same process group); we stay alive to
    // wait for it and then stop PostgreSQL.
    ctrlc::set_handler(|| {}).context("installing the Ctrl-C handler")?;

    println!("dev: building anitrack-server");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--package", "anitrack-server"])
        .current_dir(&root)
        .status()?;
    if !status.success() {
        bail!("cargo build failed");
    }
    let server = workspace::target_dir()
        .join("debug")
        .join("anitrack-server");

    let (database_url, _cluster) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            println!("dev: using DATABASE_URL");
            (url, None)
        }
        _ => {
            crate::install::ensure_postgresql("dev")?;
            let in_clone = root.join("target").join("dev-pg");
            let home = anitrack_pg::state_home("dev", &root, in_clone.clone())?;
            println!(
                "dev: starting PostgreSQL in {} ({})",
                home.dir.display(),
                home.reason
            );
            if home.dir != in_clone && in_clone.join("data").join("PG_VERSION").exists() {
                println!(
                    "dev: {} holds an earlier dev cluster, no longer used; delete it when \
                     you no longer need its data",
                    in_clone.display()
                );
            }
            let cluster = PgCluster::start(ClusterOptions {
                data_dir: home.dir.join("data"),
                durable: true,
                port: None,
            })?;
            let exists = cluster.sql("postgres")?.run(&format!(
                "SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
            ))?;
            if exists.trim().is_empty() {
                cluster.create_database(DATABASE, None)?;
            }
            println!(
                "dev: PostgreSQL on port {}, log {}",
                cluster.port(),
                cluster.log_file().display()
            );
            (cluster.url(DATABASE), Some(cluster))
        }
    };

    let cli = |args: &[&str], stdin: Option<&str>| -> anyhow::Result<std::process::Output> {
        use std::io::Write as _;
        let mut child = Command::new(&server)
            .args(args)
            .env("DATABASE_URL", &database_url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
            pipe.write_all(input.as_bytes())?;
        }
        Ok(child.wait_with_output()?)
    };

    let out = cli(&["migrate"], None)?;
    if !out.status.success() {
        bail!("migrate failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let demo = root
        .join("server")
        .join("catalog")
        .join("demo-anilist.json");
    let out = cli(&["catalog", "import", &demo.to_string_lossy()], None)?;
    if !out.status.success() {
        bail!(
            "importing the demo catalog failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    print!(
        "dev: demo catalog: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = cli(
        &[
            "user",
            "create",
            "--email",
            DEMO_EMAIL,
            "--name",
            "Demo",
            "--password-stdin",
        ],
        Some(&format!("{DEMO_PASSWORD}\n")),
    )?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && !stderr.contains("already exists") {
        bail!("creating the demo account failed: {stderr}");
    }
    let out = cli(
        &["user", "api-access", "--email", DEMO_EMAIL, "--enable"],
        None,
    )?;
    if !out.status.success() {
        bail!(
            "enabling API access failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = cli(
        &[
            "token",
            "create",
            "--email",
            DEMO_EMAIL,
            "--name",
            "cargo xtask dev",
        ],
        None,
    )?;
    if !out.status.success() {
        bail!(
            "minting a token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout.lines().last().unwrap_or_default().to_string();

    let base = format!("http://{}/api/v1", args.bind);
    println!();
    println!(
        "  settings page  http://{}/settings/tokens  (sign in, create and revoke tokens)",
        args.bind
    );
    println!(
        "  API reference  http://{}/docs  (the OpenAPI document: {base}/openapi.json)",
        args.bind
    );
    println!("  demo account   {DEMO_EMAIL}");
    println!("  password       {DEMO_PASSWORD}");
    println!("  token          {token}");
    println!();
    println!("  curl {base}/user -H \"Authorization: Bearer {token}\"");
    println!(
        "  curl {base}/anime/demon-slayer-kimetsu-no-yaiba -H \"Authorization: Bearer {token}\""
    );
    println!("  curl {base}/anime/anilist/101922 -H \"Authorization: Bearer {token}\"");
    println!(
        "  curl -X POST {base}/auth/token -H \"Content-Type: application/json\" \
         -d '{{\"email\":\"{DEMO_EMAIL}\",\"password\":\"{DEMO_PASSWORD}\",\"device_name\":\"My Integration\"}}'"
    );
    println!();
    println!(
        "dev: serving on http://{} (Ctrl-C stops the server and PostgreSQL)",
        args.bind
    );

    // The browser talks plain HTTP to this server, and a browser drops
    // `Secure` cookies on plain HTTP (except to localhost): opt out of them
    // for development, as `anitrack-server serve --help` explains.
    let status = Command::new(&server)
        .args([
            "serve",
            "--bind",
            &args.bind.to_string(),
            "--insecure-cookies",
        ])
        .env("DATABASE_URL", &database_url)
        .status()
        .context("running the server")?;
    println!("dev: server exited ({status}); stopping PostgreSQL");
    Ok(())
}
