//! Opening a database: engine from the URL scheme, per-engine connection
//! settings, migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn from_url(url: &str) -> Result<Self, OpenError> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else {
            Err(OpenError::UnsupportedUrl(redact_url(url)))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported database URL `{0}` (expected sqlite://PATH or postgres://…)")]
    UnsupportedUrl(String),
    #[error("cannot connect to the database `{url}`: {cause}")]
    Connect { url: String, cause: String },
    #[error("cannot migrate the database `{url}`: {cause}")]
    Migrate { url: String, cause: String },
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub audit: crate::AuditSettings,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { max_connections: 10, acquire_timeout: Duration::from_secs(5), audit: crate::AuditSettings::default() }
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => format!("{scheme}://{userinfo}@{host}"),
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(crate) async fn connect(engine: Engine, url: &str, options: &ConnectOptions) -> Result<AnyPool, OpenError> {
    sqlx::any::install_default_drivers();
    let redacted = redact_url(url);
    let connect_error = |cause: sqlx::Error| OpenError::Connect { url: redacted.clone(), cause: cause.to_string() };
    let url = match engine {
        // Create the file when missing.
        Engine::Sqlite if !url.contains("mode=") => {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        }
        _ => url.to_owned(),
    };
    let connect_options = AnyConnectOptions::from_str(&url).map_err(connect_error)?;
    let pool_options = AnyPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        // A ping before every checkout doubles the cost of each read.
        // Without it a connection that died fails the one query that
        // finds out (answered 503), instead of every query paying.
        .test_before_acquire(false)
        .idle_timeout(Duration::from_secs(300));
    let pool = match engine {
        Engine::Sqlite => {
            pool_options
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        // WAL lets readers run beside the writer; FULL makes a
                        // commit durable before it is acknowledged.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        // Reads by memory map and a larger page cache: a proof
                        // touches a few dozen pages scattered over the tree,
                        // which should cost memory reads, not syscalls.
                        conn.execute("PRAGMA mmap_size = 4294967296").await?;
                        conn.execute("PRAGMA cache_size = -65536").await?;
                        // Statement journals (a multi-row insert's undo) in
                        // memory rather than in a temporary file per batch.
                        conn.execute("PRAGMA temp_store = MEMORY").await?;
                        Ok(())
                    })
                })
                .connect_with(connect_options)
                .await
        }
        Engine::Postgres => pool_options.connect_with(connect_options).await,
    }
    .map_err(connect_error)?;

    let migrator = match engine {
        Engine::Sqlite => &SQLITE_MIGRATIONS,
        Engine::Postgres => &POSTGRES_MIGRATIONS,
    };
    migrator.run(&pool).await.map_err(|cause| OpenError::Migrate { url: redacted, cause: cause.to_string() })?;
    Ok(pool)
}
