//! One small surface over the two drivers: a pool, a transaction, typed parameters and rows.
//!
//! The store is written once against this: statements are plain SQL with `?` placeholders (both
//! SQLite and MySQL use them), and the few places where the dialects differ ([`Dialect`]) are
//! named where they are used.

use openinsure_core::error::{Error, Result};
#[cfg(any(feature = "sqlite", feature = "mysql"))]
use sqlx::Row as _;

/// Which SQL the database speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// MySQL protocol (MariaDB here, PlanetScale / Vitess there).
    MySql,
}

impl Dialect {
    /// The suffix that locks the rows a `SELECT` reads in a write transaction (SQLite has one
    /// writer at a time, so nothing).
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::MySql => " FOR UPDATE",
        }
    }

    /// `table` read through `index`: SQLite's planner, with no statistics, prefers the primary
    /// key's `org_id` prefix to a better secondary index, so it is told; MySQL's is not.
    pub fn through(self, table: &str, index: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{table} INDEXED BY {index}"),
            Dialect::MySql => table.to_owned(),
        }
    }

    /// A `DATETIME(6)` / text time column read back as `YYYY-MM-DD HH:MM:SS.ffffff` text.
    pub fn time_text(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_owned(),
            Dialect::MySql => format!("DATE_FORMAT({column}, '%Y-%m-%d %H:%i:%s.%f')"),
        }
    }

    /// The suffix that makes an `INSERT` of an existing key change nothing (on MySQL it takes an
    /// exclusive lock, not the shared one `INSERT IGNORE` takes, which deadlocks).
    pub fn on_conflict_nothing(self, first_key: &str) -> String {
        match self {
            Dialect::Sqlite => " ON CONFLICT DO NOTHING".to_owned(),
            Dialect::MySql => format!(" ON DUPLICATE KEY UPDATE {first_key} = {first_key}"),
        }
    }
}

/// A parameter bound to a `?`.
#[derive(Clone, Debug)]
pub enum Param {
    /// Bytes (ids as their 16 bytes).
    Bytes(Vec<u8>),
    /// An integer.
    Int(i64),
    /// Text (documents, names, times).
    Text(String),
    /// SQL `NULL` (a time not set).
    Null,
}

impl From<uuid::Uuid> for Param {
    fn from(u: uuid::Uuid) -> Self {
        Param::Bytes(u.as_bytes().to_vec())
    }
}

impl From<i64> for Param {
    fn from(n: i64) -> Self {
        Param::Int(n)
    }
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(s.to_owned())
    }
}

/// A row, read by column position.
pub enum Row {
    #[cfg(feature = "sqlite")]
    /// A SQLite row.
    Sqlite(sqlx::sqlite::SqliteRow),
    #[cfg(feature = "mysql")]
    /// A MySQL row.
    MySql(sqlx::mysql::MySqlRow),
    #[cfg(feature = "wire")]
    /// A row of a text result set read by the [`crate::wire`] client: each value as the server
    /// sent it, `None` for `NULL`.
    Wire(Vec<Option<Vec<u8>>>),
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Row")
    }
}

impl Row {
    /// Text at `i`.
    pub fn text(&self, i: usize) -> Result<String> {
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(r) => r.try_get(i).map_err(|e| backend(e.into())),
            #[cfg(feature = "mysql")]
            Row::MySql(r) => r.try_get(i).map_err(|e| backend(e.into())),
            #[cfg(feature = "wire")]
            Row::Wire(_) => String::from_utf8(self.wire(i)?.to_vec())
                .map_err(|_| Error::Backend(format!("database: column {i} is not UTF-8 text"))),
        }
    }

    /// An integer at `i`.
    pub fn int(&self, i: usize) -> Result<i64> {
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(r) => r.try_get(i).map_err(|e| backend(e.into())),
            #[cfg(feature = "mysql")]
            Row::MySql(r) => r.try_get(i).map_err(|e| backend(e.into())),
            #[cfg(feature = "wire")]
            Row::Wire(_) => std::str::from_utf8(self.wire(i)?)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| Error::Backend(format!("database: column {i} is not an integer"))),
        }
    }

    /// Bytes at `i`.
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>> {
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(r) => r.try_get(i).map_err(|e| backend(e.into())),
            #[cfg(feature = "mysql")]
            Row::MySql(r) => r.try_get(i).map_err(|e| backend(e.into())),
            #[cfg(feature = "wire")]
            Row::Wire(_) => Ok(self.wire(i)?.to_vec()),
        }
    }

    /// Text at `i`, `None` for `NULL`.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(r) => r.try_get(i).map_err(|e| backend(e.into())),
            #[cfg(feature = "mysql")]
            Row::MySql(r) => r.try_get(i).map_err(|e| backend(e.into())),
            #[cfg(feature = "wire")]
            Row::Wire(values) => match values.get(i) {
                Some(None) => Ok(None),
                _ => self.text(i).map(Some),
            },
        }
    }

    /// An integer at `i`, `None` for `NULL`.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(r) => r.try_get(i).map_err(|e| backend(e.into())),
            #[cfg(feature = "mysql")]
            Row::MySql(r) => r.try_get(i).map_err(|e| backend(e.into())),
            #[cfg(feature = "wire")]
            Row::Wire(values) => match values.get(i) {
                Some(None) => Ok(None),
                _ => self.int(i).map(Some),
            },
        }
    }

    /// The value at `i` of a wire row; `NULL` is an error (the store reads `NULL` nowhere it
    /// does not expect it, as the drivers' typed reads do).
    #[cfg(feature = "wire")]
    fn wire(&self, i: usize) -> Result<&[u8]> {
        #[allow(irrefutable_let_patterns, reason = "one variant when only `wire` is on")]
        let Row::Wire(values) = self else {
            return Err(Error::Backend("database: not a wire row".into()));
        };
        match values.get(i) {
            Some(Some(v)) => Ok(v),
            Some(None) => Err(Error::Backend(format!("database: column {i} is NULL"))),
            None => Err(Error::Backend(format!("database: no column {i}"))),
        }
    }

    /// A UUID stored as 16 bytes at `i`.
    pub fn uuid(&self, i: usize) -> Result<uuid::Uuid> {
        let bytes = self.bytes(i)?;
        uuid::Uuid::from_slice(&bytes).map_err(|e| Error::Backend(format!("a stored id is not 16 bytes: {e}")))
    }

    /// The JSON document at `i`.
    pub fn doc<T: serde::de::DeserializeOwned>(&self, i: usize) -> Result<T> {
        serde_json::from_str(&self.text(i)?)
            .map_err(|e| Error::Backend(format!("a stored document does not read: {e}")))
    }
}

/// A database error, whatever the driver: its text names the database's complaint, never a
/// value, and it says what kind of failure it is.
#[derive(Debug)]
pub struct DbError {
    message: String,
    transient: bool,
    duplicate: bool,
    unavailable: bool,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DbError {}

impl DbError {
    /// A statement the database refused (`code` is the MySQL error number).
    pub fn server(code: u16, message: &str) -> DbError {
        DbError {
            message: format!("error {code}: {message}"),
            // deadlock, lock wait timeout, statement invalidated by a schema change
            transient: matches!(code, 1205 | 1213 | 1615),
            duplicate: code == 1062,
            unavailable: false,
        }
    }

    /// The database could not be reached, or the connection broke.
    pub fn unavailable(message: impl std::fmt::Display) -> DbError {
        DbError { message: message.to_string(), transient: false, duplicate: false, unavailable: true }
    }

    /// Anything else (a reply that does not parse, a statement the client cannot send).
    pub fn other(message: impl std::fmt::Display) -> DbError {
        DbError { message: message.to_string(), transient: false, duplicate: false, unavailable: false }
    }
}

#[cfg(any(feature = "sqlite", feature = "mysql"))]
impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        let duplicate = matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation());
        let transient = match &e {
            sqlx::Error::Database(d) => {
                #[cfg(feature = "mysql")]
                if let Some(m) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                    return DbError::server(m.number(), m.message());
                }
                d.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|n| matches!(n & 0xff, 5 | 6))
            }
            sqlx::Error::PoolTimedOut => true,
            _ => false,
        };
        let unavailable =
            matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed);
        DbError { message: e.to_string(), transient, duplicate, unavailable }
    }
}

/// A driver error as a backend error (its text names the database's complaint, never a value);
/// a database that cannot be reached is [`Error::Unavailable`].
pub fn backend(e: DbError) -> Error {
    if e.unavailable { Error::Unavailable(format!("database: {e}")) } else { Error::Backend(format!("database: {e}")) }
}

/// Whether a driver error is a duplicate key.
pub fn is_duplicate(e: &DbError) -> bool {
    e.duplicate
}

/// Whether a driver error is worth retrying the whole transaction for: a MySQL deadlock (1213),
/// lock wait timeout (1205) or a prepared statement invalidated by a schema change (1615); a
/// SQLite busy or locked database (5, 6). A lost connection is not retried: its commit may have
/// happened.
pub fn is_transient(e: &DbError) -> bool {
    e.transient
}

#[cfg(feature = "statement-log")]
static STATEMENTS: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Every distinct statement sent so far by this process (feature `statement-log`, for the test
/// that checks each names `org_id` and binds it once).
#[cfg(feature = "statement-log")]
pub fn statements_sent() -> Vec<String> {
    STATEMENTS.lock().map(|s| s.iter().cloned().collect()).unwrap_or_default()
}

#[inline]
fn record(_sql: &str) {
    #[cfg(feature = "statement-log")]
    if let Ok(mut s) = STATEMENTS.lock() {
        s.insert(_sql.to_owned());
    }
}

#[cfg(any(feature = "sqlite", feature = "mysql"))]
macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                Param::Bytes(b) => q.bind(b.clone()),
                Param::Int(n) => q.bind(*n),
                Param::Text(s) => q.bind(s.clone()),
                Param::Null => q.bind(None::<String>),
            };
        }
        q
    }};
}

/// A pool of connections to one database.
#[derive(Clone, Debug)]
pub enum Pool {
    #[cfg(feature = "sqlite")]
    /// SQLite.
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "mysql")]
    /// MySQL protocol.
    MySql(sqlx::MySqlPool),
    #[cfg(feature = "wire")]
    /// MySQL protocol through the [`crate::wire`] client (Workers, Hyperdrive).
    Wire(crate::wire::WirePool),
}

impl Pool {
    /// Its dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "mysql")]
            Pool::MySql(_) => Dialect::MySql,
            #[cfg(feature = "wire")]
            Pool::Wire(_) => Dialect::MySql,
        }
    }

    /// Every row of one query, outside a transaction.
    pub async fn fetch_all(&self, sql: &str, params: &[Param]) -> std::result::Result<Vec<Row>, DbError> {
        record(sql);
        Ok(match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => {
                bind_all!(sqlx::query(sql), params).fetch_all(p).await?.into_iter().map(Row::Sqlite).collect()
            }
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => {
                bind_all!(sqlx::query(sql), params).fetch_all(p).await?.into_iter().map(Row::MySql).collect()
            }
            #[cfg(feature = "wire")]
            Pool::Wire(p) => p.run(sql, params).await?.rows.into_iter().map(Row::Wire).collect(),
        })
    }

    /// The first row of one query, if any, outside a transaction.
    pub async fn fetch_optional(&self, sql: &str, params: &[Param]) -> std::result::Result<Option<Row>, DbError> {
        record(sql);
        Ok(match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => bind_all!(sqlx::query(sql), params).fetch_optional(p).await?.map(Row::Sqlite),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => bind_all!(sqlx::query(sql), params).fetch_optional(p).await?.map(Row::MySql),
            #[cfg(feature = "wire")]
            Pool::Wire(p) => p.run(sql, params).await?.rows.into_iter().next().map(Row::Wire),
        })
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> std::result::Result<Tx, DbError> {
        Ok(match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => Tx::MySql(p.begin().await?),
            #[cfg(feature = "wire")]
            Pool::Wire(p) => {
                let mut conn = p.get().await?;
                conn.query("BEGIN").await?;
                Tx::Wire(p.clone(), conn)
            }
        })
    }
}

/// An open transaction; dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub enum Tx {
    #[cfg(feature = "sqlite")]
    /// SQLite.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    #[cfg(feature = "mysql")]
    /// MySQL protocol.
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
    #[cfg(feature = "wire")]
    /// A wire connection with `BEGIN` sent; dropped uncommitted, the connection closes and the
    /// server rolls back.
    Wire(crate::wire::WirePool, crate::wire::Conn),
}

impl Tx {
    /// Runs a statement; the rows it matched.
    pub async fn execute(&mut self, sql: &str, params: &[Param]) -> std::result::Result<u64, DbError> {
        record(sql);
        Ok(match self {
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(t) => bind_all!(sqlx::query(sql), params).execute(&mut **t).await?.rows_affected(),
            #[cfg(feature = "mysql")]
            Tx::MySql(t) => bind_all!(sqlx::query(sql), params).execute(&mut **t).await?.rows_affected(),
            #[cfg(feature = "wire")]
            Tx::Wire(_, c) => {
                let sql = c.interpolate(sql, params)?;
                c.query(&sql).await?.affected
            }
        })
    }

    /// Every row of a query.
    pub async fn fetch_all(&mut self, sql: &str, params: &[Param]) -> std::result::Result<Vec<Row>, DbError> {
        record(sql);
        Ok(match self {
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query(sql), params).fetch_all(&mut **t).await?.into_iter().map(Row::Sqlite).collect()
            }
            #[cfg(feature = "mysql")]
            Tx::MySql(t) => {
                bind_all!(sqlx::query(sql), params).fetch_all(&mut **t).await?.into_iter().map(Row::MySql).collect()
            }
            #[cfg(feature = "wire")]
            Tx::Wire(_, c) => {
                let sql = c.interpolate(sql, params)?;
                c.query(&sql).await?.rows.into_iter().map(Row::Wire).collect()
            }
        })
    }

    /// The first row of a query, if any.
    pub async fn fetch_optional(&mut self, sql: &str, params: &[Param]) -> std::result::Result<Option<Row>, DbError> {
        record(sql);
        Ok(match self {
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(t) => bind_all!(sqlx::query(sql), params).fetch_optional(&mut **t).await?.map(Row::Sqlite),
            #[cfg(feature = "mysql")]
            Tx::MySql(t) => bind_all!(sqlx::query(sql), params).fetch_optional(&mut **t).await?.map(Row::MySql),
            #[cfg(feature = "wire")]
            Tx::Wire(_, c) => {
                let sql = c.interpolate(sql, params)?;
                c.query(&sql).await?.rows.into_iter().next().map(Row::Wire)
            }
        })
    }

    /// Commits.
    pub async fn commit(self) -> std::result::Result<(), DbError> {
        match self {
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(t) => Ok(t.commit().await?),
            #[cfg(feature = "mysql")]
            Tx::MySql(t) => Ok(t.commit().await?),
            #[cfg(feature = "wire")]
            Tx::Wire(pool, mut c) => {
                c.query("COMMIT").await?;
                pool.put(c).await;
                Ok(())
            }
        }
    }
}
