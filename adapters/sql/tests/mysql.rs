//! The MySQL-protocol store (MariaDB here, with MySQL 8's `sql_mode`) against every core store
//! suite, twice on one fresh database. Needs `OPENINSURE_MYSQL_URL` (a server URL, for example
//! `mysql://root@127.0.0.1:3306/test`); skipped without it unless `OPENINSURE_REQUIRE_MYSQL=1`,
//! which CI sets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use openinsure_core::testkit;
use openinsure_sql::{MYSQL8_SQL_MODE, SqlOptions, SqlStore};
use sqlx::Connection as _;

/// A fresh, empty database on the server, and its URL; `None` when no server is configured.
async fn fresh_database(name: &str) -> Option<String> {
    let Ok(server) = std::env::var("OPENINSURE_MYSQL_URL") else {
        assert!(
            std::env::var("OPENINSURE_REQUIRE_MYSQL").is_err(),
            "OPENINSURE_REQUIRE_MYSQL is set but OPENINSURE_MYSQL_URL is not"
        );
        eprintln!("skipped: set OPENINSURE_MYSQL_URL to run the MySQL suites");
        return None;
    };
    let database = format!("openinsure_{name}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::MySqlConnection::connect(&server).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {database}")).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base).to_owned();
    Some(format!("{base}/{database}"))
}

async fn open(url: &str) -> SqlStore {
    let options = SqlOptions { mysql_sql_mode: Some(MYSQL8_SQL_MODE.into()), ..SqlOptions::default() };
    let store = SqlStore::connect_with(url, options).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_every_store_suite_twice() {
    let Some(url) = fresh_database("suites").await else { return };
    let store = open(&url).await;
    testkit::stores(&store, 1).await;
    testkit::stores(&store, 2).await;
    testkit::bind_races(&store, 1, 64).await;
    store.close().await;
    // a new pool on the same database: migrations are applied once, the data is all there
    let again = open(&url).await;
    testkit::stores(&again, 3).await;
    again.close().await;
}
