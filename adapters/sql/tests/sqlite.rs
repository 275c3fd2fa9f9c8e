//! The SQLite store against every core store suite, twice on one database file (as a restart
//! would find it), and the schema-version guard.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use common::every_other_suite;
use openinsure_core::testkit;
use openinsure_sql::{SqlError, SqlStore};

fn temp_db(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("openinsure-sql-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("openinsure.db").display());
    (dir, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_every_store_suite_twice_and_again_after_reopening() {
    let (dir, url) = temp_db("suites");
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    testkit::stores(&store, 1).await;
    testkit::stores(&store, 2).await;
    testkit::bind_races(&store, 1, 64).await;
    every_other_suite(&store, 1).await;
    every_other_suite(&store, 2).await;
    store.close().await;
    // the file keeps everything: a new process (a new pool) runs on it
    let again = SqlStore::connect(&url).await.unwrap();
    again.migrate().await.unwrap();
    testkit::stores(&again, 3).await;
    again.close().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_binary_is_refused() {
    let (dir, url) = temp_db("newer");
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (29990101000000, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    match store.migrate().await {
        Err(SqlError::SchemaTooNew(v)) => assert_eq!(v, 29_990_101_000_000),
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    store.close().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_bad_url_names_what_is_wrong_without_the_password() {
    let e = SqlStore::connect("postgres://user:secret@host/db").await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("expected `sqlite:` or `mysql:`"), "{text}");
    assert!(!text.contains("secret"), "{text}");
}
