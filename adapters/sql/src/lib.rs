#![doc = include_str!("../README.md")]

pub mod db;
mod more;
mod notifications;
mod store;
mod webhooks;
#[cfg(feature = "wire")]
pub mod wire;

#[cfg(any(feature = "sqlite", feature = "mysql"))]
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use more::PurgedMonth;

use db::{Dialect, Pool};

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The URL names no database this build speaks (`sqlite:` / `mysql:`), or does not parse.
    #[error("database URL `{url}`: {reason}")]
    Url {
        /// The URL, without its password.
        url: String,
        /// Why.
        reason: String,
    },
    /// The database refused the connection or a statement.
    #[error("database: {0}")]
    Connect(#[from] db::DbError),
    /// The database holds a migration this binary does not know: it was migrated by a newer
    /// version. The binary refuses to run on it.
    #[error("the database schema is newer than this binary (migration {0} is unknown here); run a newer openinsure")]
    SchemaTooNew(i64),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(String),
}

/// Connection settings beyond the URL.
#[derive(Clone, Debug)]
pub struct SqlOptions {
    /// Connections in the pool (SQLite: readers; one writer at a time).
    pub max_connections: u32,
    /// How long to wait for a connection or a lock before answering an error.
    pub acquire_timeout: Duration,
    /// MySQL only: a `sql_mode` to set on each connection (the tests set MySQL 8's on MariaDB).
    pub mysql_sql_mode: Option<String>,
}

impl Default for SqlOptions {
    fn default() -> Self {
        SqlOptions { max_connections: 16, acquire_timeout: Duration::from_secs(5), mysql_sql_mode: None }
    }
}

/// MySQL 8's default `sql_mode`, without `NO_ENGINE_SUBSTITUTION` (which PlanetScale refuses).
pub const MYSQL8_SQL_MODE: &str =
    "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO";

/// The system of record: every core store port, the notification queues (and the deal rooms', the
/// PHI audit log's and the webhooks' ports) over one SQL database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(crate) pool: Pool,
    /// SQLite writes one transaction at a time: writers queue here instead of failing busy.
    pub(crate) writer: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// A database URL fit for a log or a message: its credentials left out.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

impl SqlStore {
    /// Opens `url` (`sqlite://path/to/file.db`, `mysql://user:pass@host:3306/db`) with default
    /// options. SQLite creates the file when missing and runs in WAL mode.
    pub async fn connect(url: &str) -> Result<SqlStore, SqlError> {
        SqlStore::connect_with(url, SqlOptions::default()).await
    }

    /// Opens `url` with `options`.
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "mysql")),
        allow(unused_variables, reason = "no driver to configure")
    )]
    pub async fn connect_with(url: &str, options: SqlOptions) -> Result<SqlStore, SqlError> {
        let bad = |reason: String| SqlError::Url { url: redact_url(url), reason };
        if url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            {
                use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
                let connect = SqliteConnectOptions::from_str(url)
                    .map_err(|e| bad(e.to_string()))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(options.acquire_timeout);
                let pool = SqlitePoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(db::DbError::from)?;
                return Ok(SqlStore { pool: Pool::Sqlite(pool), writer: Some(Arc::default()) });
            }
            #[cfg(not(feature = "sqlite"))]
            return Err(bad("this build has no SQLite driver (feature `sqlite`)".into()));
        }
        if url.starts_with("mysql:") {
            #[cfg(feature = "mysql")]
            {
                use sqlx::Executor as _;
                use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
                // PlanetScale refuses the modes sqlx sets by default; times are UTC
                let connect = MySqlConnectOptions::from_str(url)
                    .map_err(|e| bad(e.to_string()))?
                    .pipes_as_concat(false)
                    .no_engine_substitution(false)
                    .timezone(Some("+00:00".into()));
                let sql_mode = options.mysql_sql_mode.clone();
                let pool = MySqlPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .after_connect(move |conn, _| {
                        let sql_mode = sql_mode.clone();
                        Box::pin(async move {
                            if let Some(mode) = sql_mode {
                                conn.execute(sqlx::query("SET SESSION sql_mode = ?").bind(mode)).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(connect)
                    .await
                    .map_err(db::DbError::from)?;
                return Ok(SqlStore { pool: Pool::MySql(pool), writer: None });
            }
            #[cfg(not(feature = "mysql"))]
            return Err(bad("this build has no MySQL driver (feature `mysql`)".into()));
        }
        Err(bad("expected `sqlite:` or `mysql:`".into()))
    }

    /// The store over the MySQL-protocol [`wire`] client (Cloudflare Workers, through
    /// Hyperdrive): the same statements and row mapping as the `mysql` feature's. The database
    /// must be migrated already (by `openinsure migrate` or [`SqlStore::migrate`] natively).
    #[cfg(feature = "wire")]
    pub fn wire(pool: wire::WirePool) -> SqlStore {
        SqlStore { pool: Pool::Wire(pool), writer: None }
    }

    /// The dialect the database speaks.
    pub fn dialect(&self) -> Dialect {
        self.pool.dialect()
    }

    /// Applies the migrations this binary knows that the database lacks. A database migrated by
    /// a newer binary is refused ([`SqlError::SchemaTooNew`]).
    pub async fn migrate(&self) -> Result<(), SqlError> {
        #[cfg(any(feature = "sqlite", feature = "mysql"))]
        let map = |e: sqlx::migrate::MigrateError| match e {
            sqlx::migrate::MigrateError::VersionMissing(v) => SqlError::SchemaTooNew(v),
            other => SqlError::Migrate(other.to_string()),
        };
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await.map_err(map),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => sqlx::migrate!("./migrations/mysql").run(p).await.map_err(map),
            #[cfg(feature = "wire")]
            Pool::Wire(_) => Err(SqlError::Migrate(
                "the wire client does not migrate: migrate with `openinsure migrate` natively".into(),
            )),
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => p.close().await,
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => p.close().await,
            #[cfg(feature = "wire")]
            Pool::Wire(p) => p.close(),
        }
    }
}

/// Every table of the schema (a test keeps it equal to the migrations' and `vschema.json`'s).
pub const TABLES: &[&str] = &[
    "agreements",
    "assignments",
    "audit_heads",
    "audit_log",
    "audit_purges",
    "claims",
    "da_usage",
    "da_usage_insured",
    "deal_room_annotations",
    "deal_room_messages",
    "deal_room_notepad",
    "deal_room_participants",
    "deal_rooms",
    "idempotency_keys",
    "money_ids",
    "notification_settings",
    "notifications",
    "outbox",
    "policies",
    "policy_quotes",
    "profiles",
    "quotes",
    "referral_activities",
    "referrals",
    "relation_tuples",
    "renewals",
    "rules",
    "sequences",
    "submissions",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
];

/// The MySQL grants of the application's database `user` on `database`: reads and writes on every
/// table but the PHI audit log, which it may only insert into and read. (Migrations and the
/// audit retention run as an administrator.)
pub fn application_grants(database: &str, user: &str) -> Vec<String> {
    TABLES
        .iter()
        .map(|t| {
            let privileges = if *t == "audit_log" { "SELECT, INSERT" } else { "SELECT, INSERT, UPDATE, DELETE" };
            format!("GRANT {privileges} ON `{database}`.`{t}` TO {user}")
        })
        .collect()
}
