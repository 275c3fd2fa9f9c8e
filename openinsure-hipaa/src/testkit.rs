//! The [`PhiAuditLog`] conformance suite (feature `testkit`).
//!
//! Every audit log backend runs [`phi_audit_log`], so all of them keep one contract. The suite
//! panics (through `assert!`) on the first breach. `run` keeps the orgs of separate runs apart on
//! a backend that persists: pass a different value each run (a timestamp), anything in memory.
#![allow(clippy::expect_used, clippy::panic, reason = "a conformance suite fails by panicking, as assert! does")]

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures_util::future::join_all;
use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::store::Page;
use uuid::Uuid;

use crate::audit::{
    AuditAction, AuditDraft, AuditEntry, AuditMonth, MonthRange, PhiAuditLog, PhiAuditLogExt, TamperError, verify,
    verify_links, verify_to_head,
};
use crate::error::Error;

/// Ids for one suite run: distinct per `run` and per `n`.
pub fn test_uuid(run: u64, n: u64) -> Uuid {
    Uuid::from_u64_pair(run, n)
}

/// The time the suite starts its entries at: 2026-10-30 09:00 UTC.
pub fn sample_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 30, 9, 0, 0).single().expect("a valid time")
}

/// A draft of a `read` of two claim columns by user `n` of run `run`.
pub fn sample_draft(run: u64, n: u64, at: DateTime<Utc>) -> AuditDraft {
    AuditDraft::new(
        UserId::from_uuid(test_uuid(run, 50)),
        AuditAction::Read,
        "claims",
        test_uuid(run, 1000 + n),
        ["claimant_name", "diagnosis_codes"],
        at,
    )
    .with_ip(std::net::IpAddr::from([192, 0, 2, 7]))
    .with_user_agent("openinsure-testkit/1")
}

/// The [`PhiAuditLog`] contract: chaining, months and paging, validation, tamper detection on
/// what the backend returns, tenancy and concurrent appends (64 appends polled together on this
/// task, which interleave on a backend that awaits IO; [`parallel_appends`] adds threads).
pub async fn phi_audit_log(log: &dyn PhiAuditLog, run: u64) {
    let org = OrgId::from_uuid(test_uuid(run, 1));
    let other = OrgId::from_uuid(test_uuid(run, 2));
    let third = OrgId::from_uuid(test_uuid(run, 3));
    let t0 = sample_time();

    assert_eq!(log.head(org).await.expect("head"), None, "a new org has no head");
    assert!(log.entries(org, MonthRange::all(), Page::first()).await.expect("entries").is_empty());

    // append: sequence, chaining, months (2026-10, 2026-11, 2026-12)
    let mut appended: Vec<AuditEntry> = Vec::new();
    for n in 0..7u64 {
        let at = t0 + Duration::days(i64::try_from(n).expect("small") * 7);
        let mut draft = sample_draft(run, n, at);
        if n == 3 {
            draft.action = AuditAction::Write;
            draft.ip_address = None;
            draft.user_agent = None;
        }
        let e = log.append(org, &draft).await.expect("append");
        assert_eq!(e.sequence, n + 1, "sequence numbers start at 1 and have no gap");
        assert_eq!(e.org_id, org);
        assert_eq!(
            (e.user_id, e.action, &e.table, e.record_id),
            (draft.user_id, draft.action, &draft.table, draft.record_id)
        );
        assert_eq!(
            (&e.fields, e.ip_address, &e.user_agent, e.at),
            (&draft.fields, draft.ip_address, &draft.user_agent, draft.at)
        );
        assert_eq!(Some(e.month), AuditMonth::containing(at));
        assert_eq!(e.hash, e.compute_hash());
        match appended.last() {
            None => assert_eq!(e.prev_hash, crate::audit::AuditHash::GENESIS),
            Some(prev) => assert_eq!(e.prev_hash, prev.hash),
        }
        assert_eq!(log.head(org).await.expect("head"), Some(e.head()));
        appended.push(e);
    }
    let head = appended.last().expect("appended").head();

    // read back exactly what was appended, and it verifies
    let all = log.entries(org, MonthRange::all(), Page::first()).await.expect("entries");
    assert_eq!(all, appended, "entries come back as appended, by sequence");
    verify_to_head(&all, &head).expect("the stored chain verifies");
    assert_eq!(log.verify_chain(org).await.expect("verify chain"), 7);

    // months and paging
    let oct = AuditMonth::new(2026, 10).expect("month");
    let nov = AuditMonth::new(2026, 11).expect("month");
    let dec = AuditMonth::new(2026, 12).expect("month");
    let in_month = |m: AuditMonth| appended.iter().filter(|e| e.month == m).cloned().collect::<Vec<_>>();
    for m in [oct, nov, dec] {
        let got = log.entries(org, MonthRange::month(m), Page::first()).await.expect("entries");
        assert_eq!(got, in_month(m), "month {m}");
        verify_links(&got).expect("a month verifies on its own");
    }
    assert_eq!(in_month(oct).len() + in_month(nov).len() + in_month(dec).len(), 7);
    let oct_nov = log.entries(org, MonthRange::new(oct, nov), Page::first()).await.expect("entries");
    assert_eq!(oct_nov, [in_month(oct), in_month(nov)].concat());
    let none = MonthRange::new(dec, oct);
    assert!(log.entries(org, none, Page::first()).await.expect("entries").is_empty(), "an empty range");
    let page = log.entries(org, MonthRange::all(), Page::new(3, 2)).await.expect("entries");
    assert_eq!(page, appended[2..5]);
    assert!(log.entries(org, MonthRange::all(), Page::new(3, 7)).await.expect("entries").is_empty());

    // a draft stamped before the head (clock skew) is recorded at the head's time
    let skewed = log.append(org, &sample_draft(run, 7, t0 - Duration::days(400))).await.expect("append");
    assert_eq!((skewed.sequence, skewed.at, skewed.month), (8, head.at, appended[6].month));
    appended.push(skewed);
    let head = appended.last().expect("appended").head();

    // invalid drafts are refused and change nothing
    let mut bad = sample_draft(run, 8, t0);
    bad.fields.clear();
    assert!(matches!(log.append(org, &bad).await, Err(Error::Invalid { .. })), "no fields");
    let mut bad = sample_draft(run, 8, t0);
    bad.table = String::new();
    assert!(matches!(log.append(org, &bad).await, Err(Error::Invalid { .. })), "no table");
    assert_eq!(log.head(org).await.expect("head"), Some(head), "a refused append stores nothing");

    // tamper detection on what the backend returns
    let stored = log.entries(org, MonthRange::all(), Page::first()).await.expect("entries");
    verify_to_head(&stored, &head).expect("verifies");
    let mut edited = stored.clone();
    edited[2].fields.push("claimant_ssn".into());
    assert_eq!(verify(&edited), Err(TamperError::Edited { sequence: 3 }));
    let mut removed = stored.clone();
    removed.remove(4);
    assert_eq!(verify(&removed).expect_err("removal").sequence(), 5);
    let mut truncated = stored.clone();
    truncated.pop();
    assert_eq!(verify_to_head(&truncated, &head).expect_err("truncation").sequence(), 8);
    let mut reordered = stored.clone();
    reordered.swap(5, 6);
    assert_eq!(verify(&reordered).expect_err("reordering").sequence(), 6);
    let mut inserted = stored.clone();
    inserted.insert(3, stored[2].clone());
    assert_eq!(verify(&inserted).expect_err("insertion").sequence(), 4);

    // tenancy: another org's chain is separate and unreachable
    assert_eq!(log.head(other).await.expect("head"), None);
    assert!(log.entries(other, MonthRange::all(), Page::first()).await.expect("entries").is_empty());
    let theirs = log.append(other, &sample_draft(run, 100, t0)).await.expect("append");
    assert_eq!((theirs.sequence, theirs.org_id), (1, other), "each org has its own chain");
    assert_eq!(log.head(org).await.expect("head"), Some(head), "another org's append leaves this chain alone");
    let mine = log.entries(org, MonthRange::all(), Page::first()).await.expect("entries");
    assert!(mine.iter().all(|e| e.org_id == org), "only the org's own entries");
    assert_eq!(mine.len(), 8);
    assert_eq!(log.entries(other, MonthRange::all(), Page::first()).await.expect("entries"), [theirs]);

    // concurrent appends form one unbroken chain
    let drafts: Vec<AuditDraft> = (0..64u64).map(|n| sample_draft(run, 200 + n, t0 + Duration::minutes(1))).collect();
    let results = join_all(drafts.iter().map(|d| log.append(third, d))).await;
    let mut sequences: Vec<u64> = results.into_iter().map(|r| r.expect("concurrent append").sequence).collect();
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=64).collect::<Vec<_>>(), "no sequence number twice, none skipped");
    assert_eq!(log.verify_chain(third).await.expect("the chain verifies"), 64);
    let (_, chain) = log.chain(third).await.expect("chain");
    assert_eq!(chain.len(), 64);
    let mut records: Vec<Uuid> = chain.iter().map(|e| e.record_id).collect();
    records.sort_unstable();
    records.dedup();
    assert_eq!(records.len(), 64, "every append is in the chain once");
}

#[cfg(not(target_arch = "wasm32"))]
/// Appends `per_task * tasks` entries to one org from `tasks` threads at once (through clones of
/// a backend that shares its state), then checks the chain: the concurrency half of the contract
/// for backends that can be cloned across threads.
pub fn parallel_appends<L>(log: &L, run: u64, tasks: u64, per_task: u64)
where
    L: PhiAuditLog + Clone + 'static,
{
    let org = OrgId::from_uuid(test_uuid(run, 4));
    std::thread::scope(|s| {
        for t in 0..tasks {
            let log = log.clone();
            s.spawn(move || {
                for n in 0..per_task {
                    let draft = sample_draft(run, 10_000 + t * per_task + n, sample_time());
                    block_on(log.append(org, &draft)).expect("parallel append");
                }
            });
        }
    });
    let verified = block_on(log.verify_chain(org)).expect("the chain verifies");
    assert_eq!(verified, tasks * per_task);
}

/// Polls a future to completion on this thread (for backends whose futures need no runtime).
#[cfg(not(target_arch = "wasm32"))]
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// The [`EdgeStore`](crate::edge::EdgeStore) contract: absent keys read as nothing, a put is read
/// back byte for byte and replaced by the next, orgs' keys and keys of no org never meet, a
/// removal is idempotent, a value with a time to live is readable at once, and a rate book sized
/// value (256 KiB) round-trips. `run` keeps separate runs apart on a store that persists.
/// Expiry itself is the store's own test: KV's shortest time to live is a minute.
pub async fn edge_store(store: std::sync::Arc<dyn crate::edge::EdgeStore>, run: u64) {
    use crate::edge::{EdgeCache, EdgeKey};
    let cache = EdgeCache::<Vec<(String, i64)>>::new(store.clone());
    let org_a = OrgId::from_uuid(test_uuid(run, 1));
    let org_b = OrgId::from_uuid(test_uuid(run, 2));
    let name = format!("suite/{run}/rates");
    let a = EdgeKey::org(org_a, &name).expect("a valid key");
    let b = EdgeKey::org(org_b, &name).expect("a valid key");
    let global = EdgeKey::global(&name).expect("a valid key");
    assert_ne!(a.as_str(), b.as_str());
    assert_ne!(a.as_str(), global.as_str());

    assert_eq!(cache.get(&a).await.expect("get"), None, "an absent key reads as nothing");
    let first = vec![("CA".to_owned(), 185), ("NY".to_owned(), 210)];
    cache.put(&a, &first, None).await.expect("put");
    assert_eq!(cache.get(&a).await.expect("get").as_ref(), Some(&first), "a put reads back");
    assert_eq!(cache.get(&b).await.expect("get"), None, "another org's key with the same name is apart");
    assert_eq!(cache.get(&global).await.expect("get"), None, "a key of no org is apart");

    let second = vec![("TX".to_owned(), -5)];
    cache.put(&a, &second, None).await.expect("put");
    assert_eq!(cache.get(&a).await.expect("get").as_ref(), Some(&second), "a put replaces");
    cache.put(&b, &first, None).await.expect("put");
    cache.put(&global, &first, Some(Duration::minutes(2))).await.expect("put with a time to live");
    assert_eq!(cache.get(&global).await.expect("get").as_ref(), Some(&first), "readable within its time to live");
    assert_eq!(cache.get(&a).await.expect("get").as_ref(), Some(&second), "another key's put leaves it alone");

    cache.remove(&a).await.expect("remove");
    assert_eq!(cache.get(&a).await.expect("get"), None, "removed");
    cache.remove(&a).await.expect("removing an absent key is no error");
    assert_eq!(cache.get(&b).await.expect("get").as_ref(), Some(&first), "another org's value stays");

    let big: Vec<(String, i64)> = (0..4096).map(|i| (format!("{i:058}"), i)).collect();
    cache.put(&a, &big, None).await.expect("a large put");
    assert_eq!(cache.get(&a).await.expect("get").as_ref(), Some(&big), "a large value round-trips");
    for k in [&a, &b, &global] {
        cache.remove(k).await.expect("clean up");
    }

    assert!(EdgeKey::org(org_a, "").is_err(), "an empty name is refused");
    assert!(EdgeKey::org(org_a, "a b").is_err(), "a space is refused");
    assert!(EdgeKey::global(&"k".repeat(EdgeKey::MAX_NAME + 1)).is_err(), "an overlong name is refused");
}

/// Every suite of this crate that runs on any backend (a new `run` each time on a backend that
/// persists); [`parallel_appends`] needs a backend that clones across threads and is called apart.
pub async fn all(log: &dyn PhiAuditLog, run: u64) {
    phi_audit_log(log, run).await;
}
