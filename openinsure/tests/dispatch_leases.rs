//! Two dispatchers on one SQLite database, each through its own connection pool (as two `serve`
//! processes would be), running at once: every event is delivered, none twice.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use openinsure::dispatch::{Dispatcher, Subscriber};
use openinsure_core::events::{DomainEvent, EventEnvelope, EventId};
use openinsure_core::ids::{OrgId, PolicyId};
use openinsure_core::store::PolicyStore;
use openinsure_core::testkit;

struct Recorder {
    name: &'static str,
    seen: Arc<Mutex<Vec<(EventId, &'static str)>>>,
}

#[async_trait]
impl Subscriber for Recorder {
    fn name(&self) -> &str {
        self.name
    }
    async fn handle(&self, event: &EventEnvelope) -> openinsure::Result<()> {
        self.seen.lock().unwrap().push((event.id, self.name));
        // a slow subscriber: the other dispatcher runs meanwhile
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_dispatchers_on_one_database_deliver_each_event_once() {
    let dir = std::env::temp_dir().join(format!("openinsure-leases-{}", uuid::Uuid::from_u128(rand_suffix())));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("openinsure.db").display());
    let a = openinsure_sql::SqlStore::connect(&url).await.unwrap();
    a.migrate().await.unwrap();
    let b = openinsure_sql::SqlStore::connect(&url).await.unwrap();

    let org = OrgId::from_uuid(testkit::test_uuid(1, 1));
    let quote = testkit::sample_quote(testkit::test_uuid(1, 2).into(), org, testkit::test_uuid(1, 3).into());
    let policy = testkit::sample_policy(PolicyId::from_uuid(testkit::test_uuid(1, 4)), org, &quote, "GL-2027-000001");
    let events: Vec<EventEnvelope> = (0..120)
        .map(|n| {
            EventEnvelope::new(
                testkit::test_uuid(1, 100 + n),
                org,
                policy.bound_at + chrono::Duration::milliseconds(n as i64),
                DomainEvent::PolicyIssued { policy_id: policy.id },
            )
        })
        .collect();
    a.insert_policy(org, &policy, None, &events).await.unwrap();

    let seen = Arc::new(Mutex::new(Vec::new()));
    let dispatcher = |store: openinsure_sql::SqlStore, name| {
        Dispatcher::new(Arc::new(store)).with_batch(7).subscribe(Arc::new(Recorder { name, seen: seen.clone() }))
    };
    let (da, db) = (dispatcher(a, "a"), dispatcher(b, "b"));
    // a run that finds nothing to lease (the other holds it all) is not the end: each keeps going
    // until every event was handled
    let handled = seen.clone();
    let run = |d: Dispatcher| {
        let handled = handled.clone();
        async move {
            let mut delivered = 0;
            for _ in 0..1000 {
                if handled.lock().unwrap().len() >= 120 {
                    break;
                }
                delivered += d.run_once().await.unwrap().delivered;
                tokio::task::yield_now().await;
            }
            delivered
        }
    };
    let (by_a, by_b) = tokio::join!(run(da), run(db));
    let seen = seen.lock().unwrap().clone();
    let mut ids: Vec<EventId> = seen.iter().map(|(id, _)| *id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(seen.len(), 120, "every event handled once: {} handlings of {} events", seen.len(), ids.len());
    assert_eq!(ids.len(), 120);
    assert_eq!(by_a + by_b, 120);
    assert!(by_a > 0 && by_b > 0, "both took part: {by_a} and {by_b}");
    std::fs::remove_dir_all(&dir).ok();
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}
