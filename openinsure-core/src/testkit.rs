//! Conformance suites for the store ports (feature `testkit`).
#![allow(clippy::expect_used, reason = "a conformance suite fails by panicking, as assert! does")]
//!
//! Every adapter's tests call every suite here, so all backends keep one contract. Each suite is
//! a plain `async fn` over `&dyn Port` that panics (through `assert!`) on the first breach. The
//! `run` argument keeps ids of separate runs apart on backends that persist between runs; pass a
//! different value each run (a timestamp) there, anything in memory.

use uuid::Uuid;

use crate::error::Error;
use crate::ids::{OrgId, QuoteId, SubmissionId};
pub use crate::samples::{sample_agreement_for, sample_quote, sample_submission};
use crate::store::{Page, QuoteStore, SubmissionStore};

/// Ids for one suite run: distinct per `run` and per `n`.
pub fn test_uuid(run: u64, n: u64) -> Uuid {
    Uuid::from_u64_pair(run, n)
}

/// The [`SubmissionStore`] contract.
pub async fn submission_store(store: &dyn SubmissionStore, run: u64) {
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let id = SubmissionId::from_uuid(test_uuid(run, 100));
    let sub = sample_submission(id, org);

    // insert and read back
    store.insert_submission(org, &sub).await.expect("insert");
    assert_eq!(store.get_submission(org, id).await.expect("get"), sub);

    // duplicate id
    assert!(
        matches!(store.insert_submission(org, &sub).await, Err(Error::Conflict(_))),
        "duplicate insert must conflict"
    );

    // missing
    let missing = SubmissionId::from_uuid(test_uuid(run, 999));
    assert!(matches!(store.get_submission(org, missing).await, Err(Error::NotFound { .. })));

    // update with revision check
    let mut changed = sub.clone();
    changed.insured_name = "Acme Manufacturing LLC".into();
    let updated = store.update_submission(org, &changed).await.expect("update");
    assert_eq!(updated.revision, sub.revision + 1);
    assert_eq!(updated.insured_name, "Acme Manufacturing LLC");
    assert_eq!(store.get_submission(org, id).await.expect("get"), updated);
    assert!(
        matches!(store.update_submission(org, &changed).await, Err(Error::Conflict(_))),
        "a stale revision must conflict"
    );
    assert_eq!(store.get_submission(org, id).await.expect("get"), updated, "a refused update changes nothing");
    let ghost = sample_submission(missing, org);
    assert!(matches!(store.update_submission(org, &ghost).await, Err(Error::NotFound { .. })));

    // tenancy: another org can neither see nor touch it
    assert!(matches!(store.get_submission(other, id).await, Err(Error::NotFound { .. })));
    assert!(matches!(
        store.update_submission(other, &updated).await,
        Err(Error::NotFound { .. } | Error::Forbidden(_))
    ));
    let mut hijack = updated.clone();
    hijack.org_id = other;
    assert!(matches!(store.update_submission(other, &hijack).await, Err(Error::NotFound { .. })));
    assert!(store.list_submissions(other, Page::first()).await.expect("list").is_empty());
    let foreign = sample_submission(SubmissionId::from_uuid(test_uuid(run, 101)), other);
    assert!(
        matches!(store.insert_submission(org, &foreign).await, Err(Error::Forbidden(_))),
        "a record of another org must be refused"
    );
    assert!(matches!(store.get_submission(org, foreign.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.get_submission(other, foreign.id).await, Err(Error::NotFound { .. })));
    assert_eq!(store.get_submission(org, id).await.expect("get"), updated);

    // listing: ordered by id, paged, scoped
    for n in 200..205 {
        store
            .insert_submission(org, &sample_submission(SubmissionId::from_uuid(test_uuid(run, n)), org))
            .await
            .expect("insert");
        store
            .insert_submission(other, &sample_submission(SubmissionId::from_uuid(test_uuid(run, n + 100)), other))
            .await
            .expect("insert");
    }
    let all = store.list_submissions(org, Page::first()).await.expect("list");
    assert_eq!(all.len(), 6);
    assert!(all.iter().all(|s| s.org_id == org));
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "listed in id order");
    let page = store.list_submissions(org, Page::new(2, 1)).await.expect("list");
    assert_eq!(page.iter().map(|s| s.id).collect::<Vec<_>>(), all[1..3].iter().map(|s| s.id).collect::<Vec<_>>());
    assert!(store.list_submissions(org, Page::new(10, 6)).await.expect("list").is_empty());
    assert_eq!(store.list_submissions(other, Page::first()).await.expect("list").len(), 5);
}

/// The [`QuoteStore`] contract.
pub async fn quote_store(store: &dyn QuoteStore, run: u64) {
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let sub = SubmissionId::from_uuid(test_uuid(run, 100));
    let q1 = sample_quote(QuoteId::from_uuid(test_uuid(run, 300)), org, sub);
    let q2 = sample_quote(QuoteId::from_uuid(test_uuid(run, 301)), org, sub);
    let elsewhere =
        sample_quote(QuoteId::from_uuid(test_uuid(run, 302)), org, SubmissionId::from_uuid(test_uuid(run, 101)));

    store.insert_quote(org, &q2).await.expect("insert");
    store.insert_quote(org, &q1).await.expect("insert");
    store.insert_quote(org, &elsewhere).await.expect("insert");
    assert_eq!(store.get_quote(org, q1.id).await.expect("get"), q1);
    assert!(matches!(store.insert_quote(org, &q1).await, Err(Error::Conflict(_))));
    assert!(matches!(store.get_quote(org, QuoteId::from_uuid(test_uuid(run, 399))).await, Err(Error::NotFound { .. })));

    let listed = store.list_quotes(org, sub).await.expect("list");
    assert_eq!(listed.iter().map(|q| q.id).collect::<Vec<_>>(), vec![q1.id, q2.id]);

    // tenancy
    assert!(matches!(store.get_quote(other, q1.id).await, Err(Error::NotFound { .. })));
    assert!(store.list_quotes(other, sub).await.expect("list").is_empty());
    let foreign = sample_quote(QuoteId::from_uuid(test_uuid(run, 303)), other, sub);
    assert!(matches!(store.insert_quote(org, &foreign).await, Err(Error::Forbidden(_))));
    assert!(matches!(store.get_quote(org, foreign.id).await, Err(Error::NotFound { .. })));
    assert_eq!(store.list_quotes(org, sub).await.expect("list").len(), 2);
}
