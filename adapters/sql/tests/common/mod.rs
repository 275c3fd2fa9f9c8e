//! What the SQLite and the MySQL tests share.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use openinsure_core::testkit;
use openinsure_sql::SqlStore;

/// The idempotency keys, the authorizer, the PHI audit log (with appends from 100 tasks at once)
/// and the deal rooms.
pub async fn every_other_suite(store: &SqlStore, run: u64) {
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
