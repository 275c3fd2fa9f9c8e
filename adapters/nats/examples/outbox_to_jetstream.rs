//! How fast the outbox reaches NATS JetStream: events committed to SQLite (in transactions of
//! 50, as a busy `serve` writes them), a dispatcher draining the outbox to the stream as `serve`
//! does, and for each event the time from its commit to the server's acknowledgement.
//!
//! ```sh
//! cargo run --release -p openinsure-nats --example outbox_to_jetstream -- [EVENTS] [NATS_URL]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a measuring program")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openinsure::dispatch::{Dispatcher, Subscriber};
use openinsure_core::events::{DomainEvent, EventEnvelope, EventId};
use openinsure_core::ids::{OrgId, PolicyId};
use openinsure_core::store::PolicyStore;
use openinsure_core::testkit;
use openinsure_nats::{JetStreamOptions, JetStreamPublisher};

/// The publisher, noting when each event was acknowledged.
struct Timed {
    inner: JetStreamPublisher,
    acked: Mutex<HashMap<EventId, Instant>>,
}

#[async_trait]
impl Subscriber for Timed {
    fn name(&self) -> &str {
        "timed"
    }
    async fn handle(&self, event: &EventEnvelope) -> openinsure::Result<()> {
        self.inner.handle(event).await?;
        self.acked.lock().unwrap().insert(event.id, Instant::now());
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let url = args.get(2).cloned().unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let dir = std::env::temp_dir().join(format!("openinsure-outbox-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = openinsure_sql::SqlStore::connect(&format!("sqlite://{}", dir.join("db").display())).await.unwrap();
    store.migrate().await.unwrap();

    let tag = uuid::Uuid::new_v4().simple().to_string();
    let options = JetStreamOptions {
        stream: format!("OI_BENCH_{tag}"),
        subject_prefix: format!("oibench.{tag}"),
        ..JetStreamOptions::default()
    };
    let publisher = JetStreamPublisher::connect(&url, options.clone()).await.unwrap();
    let timed = Arc::new(Timed { inner: publisher, acked: Mutex::default() });
    let dispatcher = Dispatcher::new(Arc::new(store.clone())).subscribe(timed.clone());

    let org = OrgId::from_uuid(testkit::test_uuid(1, 1));
    let committed: Arc<Mutex<HashMap<EventId, Instant>>> = Arc::default();
    let writer = {
        let (store, committed) = (store.clone(), committed.clone());
        tokio::spawn(async move {
            for batch in 0..total.div_ceil(50) {
                let quote = testkit::sample_quote(
                    testkit::test_uuid(batch, 2).into(),
                    org,
                    testkit::test_uuid(batch, 3).into(),
                );
                let policy = testkit::sample_policy(
                    PolicyId::from_uuid(testkit::test_uuid(batch + 1_000_000, 4)),
                    org,
                    &quote,
                    &format!("GL-2027-{batch:06}"),
                );
                let events: Vec<EventEnvelope> = (0..50.min(total - batch * 50))
                    .map(|i| {
                        EventEnvelope::new(
                            uuid::Uuid::new_v4(),
                            org,
                            policy.bound_at + chrono::Duration::milliseconds(i as i64),
                            DomainEvent::PolicyIssued { policy_id: policy.id },
                        )
                    })
                    .collect();
                store.insert_policy(org, &policy, None, &events).await.unwrap();
                let now = Instant::now();
                committed.lock().unwrap().extend(events.iter().map(|e| (e.id, now)));
            }
        })
    };
    let started = Instant::now();
    // as `serve` runs it: every 100 ms, and again at once while a run found events
    while timed.acked.lock().unwrap().len() < total as usize {
        let report = dispatcher.run_once().await.unwrap();
        if report.delivered + report.failed == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    writer.await.unwrap();
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = {
        let committed = committed.lock().unwrap();
        let acked = timed.acked.lock().unwrap();
        acked.iter().map(|(id, at)| at.duration_since(committed[id])).collect()
    };
    latencies.sort();
    let pick = |per_mille: usize| latencies[(latencies.len() * per_mille / 1000).min(latencies.len() - 1)];
    let per_second = u128::from(total) * 1000 / elapsed.as_millis().max(1);
    println!(
        "{total} events, outbox (SQLite) to JetStream: {per_second} events/s; commit to acknowledgement p50 {:?}, p99 {:?}, max {:?}",
        pick(500),
        pick(990),
        latencies[latencies.len() - 1]
    );
    timed.inner.context().delete_stream(&options.stream).await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
