//! The SQLite store against every core store suite, twice on one database file (as a restart
//! would find it), and the schema-version guard.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use openinsure_core::testkit;
use openinsure_sql::{SqlError, SqlStore};

fn temp_db(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("openinsure-sql-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("openinsure.db").display());
    (dir, url)
}

/// The idempotency keys, the authorizer, the PHI audit log (with appends from 100 tasks at once)
/// and the deal rooms.
async fn every_other_suite(store: &SqlStore, run: u64) {
    testkit::idempotency_store(store, run).await;
    testkit::authorizer(store, run).await;
    openinsure_hipaa::testkit::all(store, run).await;
    openinsure_dealroom::testkit::all(store, run).await;
    let org = openinsure_core::ids::OrgId::from_uuid(openinsure_hipaa::testkit::test_uuid(run, 77));
    let at = openinsure_hipaa::testkit::sample_time();
    let appends: Vec<_> = (0..100u64)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                use openinsure_hipaa::PhiAuditLog as _;
                store.append(org, &openinsure_hipaa::testkit::sample_draft(run, 1000 + n, at)).await
            })
        })
        .collect();
    for a in appends {
        a.await.unwrap().unwrap();
    }
    use openinsure_hipaa::PhiAuditLogExt as _;
    assert_eq!(store.verify_chain(org).await.unwrap(), 100, "100 parallel appends make one chain");
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
