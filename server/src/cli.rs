//! The operator CLI. Its interface is public: operators and external tests
//! call it exactly as documented in README.md.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{ArgGroup, Parser, Subcommand, ValueEnum};

use crate::accounts;
use crate::db::{self, PoolSettings};

mod serve;

#[derive(Parser)]
#[command(
    name = "anitrack-server",
    version,
    about = "AniTrack API server and operator commands"
)]
struct Cli {
    /// PostgreSQL connection URL, e.g. postgres://user:pass@127.0.0.1:5432/anitrack
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,

    /// PEM file of the CA(s) that sign the database server's certificate.
    /// Used when the URL has no sslrootcert=; makes sslmode=prefer/require
    /// check the chain (as libpq does), and is what verify-ca/verify-full
    /// check against (without it: the platform's trusted roots).
    #[arg(long, env = "ANITRACK_DB_CA_FILE", global = true, value_name = "FILE")]
    db_ca_file: Option<std::path::PathBuf>,

    /// What stands between the server and PostgreSQL: `none` (direct, or a
    /// session-mode pooler: timeouts on the startup packet, statements
    /// prepared once per connection) or `transaction` (PgBouncer in
    /// transaction mode, 1.18 included: no startup options, unnamed
    /// statements, and the timeouts set at start as the role's defaults in
    /// this database).
    #[arg(
        long,
        env = "ANITRACK_DB_POOLER",
        value_enum,
        global = true,
        default_value_t = PoolerArg::None
    )]
    db_pooler: PoolerArg,

    /// Log format.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        global = true,
        env = "ANITRACK_LOG_FORMAT"
    )]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (migrate first). Stops gracefully on SIGTERM or Ctrl-C.
    Serve(serve::ServeArgs),
    /// Apply pending database migrations.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Fill the anime catalog from AniList data.
    Catalog {
        #[command(subcommand)]
        action: CatalogAction,
    },
}

#[derive(Subcommand)]
enum CatalogAction {
    /// Import AniList Media objects from files: a raw GraphQL response
    /// ({"data":{"Page":{"media":[...]}}} or {"data":{"Media":{...}}}), a JSON
    /// array of Media, or JSON Lines. Re-importing updates, never duplicates;
    /// bad records are reported with their position and skipped.
    Import {
        /// Files to import, in order.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<std::path::PathBuf>,
    },
    /// Fetch Media from AniList's GraphQL API and upsert them.
    #[command(group(ArgGroup::new("selection").required(true).args(["ids", "all_updated_since"])))]
    Sync {
        /// AniList ids, comma-separated (e.g. 101922,5114).
        #[arg(long, value_delimiter = ',')]
        ids: Vec<i64>,
        /// Every anime AniList changed since this date (YYYY-MM-DD, UTC) or
        /// instant (RFC 3339).
        #[arg(long, value_name = "DATE", value_parser = parse_since)]
        all_updated_since: Option<chrono::DateTime<chrono::Utc>>,
        /// GraphQL endpoint.
        #[arg(long, default_value = crate::catalog::sync::DEFAULT_ENDPOINT)]
        endpoint: String,
        /// Attempts per request on server errors and network failures.
        #[arg(long, default_value_t = 5)]
        attempts: u32,
        /// First retry delay in milliseconds; doubles on each retry.
        #[arg(long, default_value_t = 1000)]
        retry_delay_ms: u64,
    },
}

fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| format!("{text:?} is neither YYYY-MM-DD nor an RFC 3339 instant"))
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum PoolerArg {
    None,
    Transaction,
}

impl From<PoolerArg> for db::Pooler {
    fn from(arg: PoolerArg) -> Self {
        match arg {
            PoolerArg::None => db::Pooler::None,
            PoolerArg::Transaction => db::Pooler::Transaction,
        }
    }
}

#[derive(Subcommand)]
enum UserAction {
    /// Create an account; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Read the password from standard input (its first line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Create the account without API access (403 on the API).
        #[arg(long)]
        no_api_access: bool,
    },
    /// Switch an account's API-access feature flag.
    #[command(group(ArgGroup::new("switch").required(true).args(["enable", "disable"])))]
    ApiAccess {
        #[arg(long)]
        email: String,
        #[arg(long)]
        enable: bool,
        #[arg(long)]
        disable: bool,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Mint a token for an account; the plain token is printed alone on the
    /// last line of standard output (it is shown only once).
    Create {
        #[arg(long)]
        email: String,
        /// Device name shown in the token list (max 120 characters).
        #[arg(long)]
        name: String,
    },
}

/// One core fewer than the machine has (at least one): a storm of sign-ins
/// then always leaves a core to the API's other requests.
pub fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .saturating_sub(1)
        .max(1)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: a log collector or a file
    // would keep the escape codes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(url) = cli.database_url else {
        bail!("no database: pass --database-url URL or set DATABASE_URL");
    };
    let shown = db::redact_url(&url);
    let database = Database {
        target: db::Target::new(&url, cli.db_ca_file.as_deref())
            .with_context(|| format!("database settings for {shown}"))?,
        shown,
        pooler: cli.db_pooler.into(),
        ca_file: cli.db_ca_file,
    };
    match cli.command {
        Command::Serve(args) => serve::serve(&database, args).await,
        Command::Migrate => {
            let applied = migrate(&database).await?;
            if applied.is_empty() {
                println!("database is up to date");
            }
            for name in applied {
                println!("applied {name}");
            }
            Ok(())
        }
        Command::User {
            action:
                UserAction::Create {
                    email,
                    name,
                    password_stdin: _,
                    no_api_access,
                },
        } => user_create(&database, &email, &name, !no_api_access).await,
        Command::User {
            action:
                UserAction::ApiAccess {
                    email,
                    enable,
                    disable: _,
                },
        } => user_api_access(&database, &email, enable).await,
        Command::Token {
            action: TokenAction::Create { email, name },
        } => token_create(&database, &email, &name).await,
        Command::Catalog { action } => catalog(&database, action).await,
    }
}

async fn catalog(database: &Database, action: CatalogAction) -> anyhow::Result<()> {
    use crate::catalog::{import, sync};
    let pool = cli_pool(database).await?;
    match action {
        CatalogAction::Import { files } => {
            let summary = import::import_files(pool, &files).await?;
            println!("imported: {summary}");
        }
        CatalogAction::Sync {
            ids,
            all_updated_since,
            endpoint,
            attempts,
            retry_delay_ms,
        } => {
            let selection = match all_updated_since {
                Some(since) => sync::Selection::UpdatedSince(since),
                None => sync::Selection::Ids(ids),
            };
            let retry = sync::Retry {
                attempts: attempts.max(1),
                base_delay: std::time::Duration::from_millis(retry_delay_ms),
                ..Default::default()
            };
            let client = sync::Client::new(&endpoint, retry)?;
            let mut importer = import::Importer::new(pool, true);
            let summary = sync::sync(&mut importer, &client, selection).await?;
            println!("synced: {summary}");
        }
    }
    Ok(())
}

/// The database a command works on, and how to name it in messages.
struct Database {
    target: db::Target,
    /// The URL without its password.
    shown: String,
    pooler: db::Pooler,
    /// `--db-ca-file`, for the replica's URL too.
    ca_file: Option<std::path::PathBuf>,
}

async fn migrate(database: &Database) -> anyhow::Result<Vec<String>> {
    db::migrate(&database.target)
        .await
        .with_context(|| format!("migrating the database at {}", database.shown))
}

/// A one-connection pool for a CLI command, checked to be reachable.
async fn cli_pool(database: &Database) -> anyhow::Result<deadpool_postgres::Pool> {
    let pool = db::pool(
        &database.target,
        PoolSettings {
            max_size: 1,
            pooler: database.pooler,
            ..Default::default()
        },
    )?;
    let probe = pool
        .get()
        .await
        .map_err(db::DbError::from)
        .with_context(|| format!("cannot reach the database at {}", database.shown))?;
    drop(probe);
    Ok(pool)
}

fn read_password() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the password from standard input")?;
    let password = input.lines().next().unwrap_or("").to_string();
    if password.is_empty() {
        bail!("the password on standard input is empty");
    }
    if password.chars().count() < 8 {
        bail!("the password must be at least 8 characters");
    }
    Ok(password)
}

async fn user_create(
    database: &Database,
    email: &str,
    name: &str,
    api_access: bool,
) -> anyhow::Result<()> {
    let password = read_password()?;
    let pool = cli_pool(database).await?;
    let account = accounts::create(&pool, email, name, password, api_access).await?;
    println!(
        "created account {} <{}> (id {}, API access {})",
        account.name,
        account.email,
        account.id,
        if account.api_access {
            "enabled"
        } else {
            "disabled"
        }
    );
    Ok(())
}

async fn user_api_access(database: &Database, email: &str, enabled: bool) -> anyhow::Result<()> {
    let pool = cli_pool(database).await?;
    let account = accounts::set_api_access(&pool, email, enabled).await?;
    println!(
        "API access {} for {}",
        if account.api_access {
            "enabled"
        } else {
            "disabled"
        },
        account.email
    );
    Ok(())
}

async fn token_create(database: &Database, email: &str, name: &str) -> anyhow::Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > crate::auth::issue::DEVICE_NAME_MAX {
        bail!(
            "the token name must be 1 to {} characters",
            crate::auth::issue::DEVICE_NAME_MAX
        );
    }
    let pool = cli_pool(database).await?;
    let account = accounts::find(&pool, email).await?;
    if !account.api_access {
        eprintln!(
            "warning: {} has no API access; the token answers 403 until it is enabled",
            account.email
        );
    }
    let (token, plain) = crate::auth::issue::mint_for(&pool, account.id, name)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "created token {} ({name}) for {}; it is shown only once:",
        token.id, account.email
    );
    println!("{plain}");
    Ok(())
}
