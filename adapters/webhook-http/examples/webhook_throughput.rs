//! How fast webhooks reach a receiver: events committed to SQLite (in transactions of 50, as a
//! busy `serve` writes them), the dispatcher fanning them out to one endpoint and the deliverer
//! posting them over HTTP to a local receiver, as `serve` runs both; for each event the time
//! from its commit to the receiver's answer.
//!
//! ```sh
//! cargo run --release -p openinsure-webhook-http --example webhook_throughput -- [EVENTS]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a measuring program")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openinsure::dispatch::Dispatcher;
use openinsure::webhooks::{WebhookDeliverer, WebhookFanout};
use openinsure_core::clock::{IdGen, SequentialIds};
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::{OrgId, PolicyId, WebhookEndpointId};
use openinsure_core::store::PolicyStore;
use openinsure_core::testkit;
use openinsure_webhook_http::{HttpSender, SenderConfig};
use openinsure_webhooks::{NewEndpoint, TargetRules, WebhookSecret, WebhookStore};

#[tokio::main]
async fn main() {
    let total: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let dir = std::env::temp_dir().join(format!("openinsure-webhook-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = openinsure_sql::SqlStore::connect(&format!("sqlite://{}", dir.join("db").display())).await.unwrap();
    store.migrate().await.unwrap();

    // the receiver: notes when each message arrived
    let received: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let r = received.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let r = r.clone();
            async move {
                let id = headers["webhook-id"].to_str().unwrap().to_owned();
                r.lock().unwrap().insert(id, Instant::now());
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let org = OrgId::from_uuid(testkit::test_uuid(1, 1));
    let clock: Arc<dyn openinsure_core::clock::Clock> = Arc::new(openinsure::system::SystemClock);
    let ids = Arc::new(SequentialIds::new(7));
    let endpoint = NewEndpoint {
        url: format!("http://{addr}/hooks"),
        description: "bench".into(),
        event_types: vec!["policy.issued".into()],
    }
    .build(
        &TargetRules::permissive(),
        WebhookEndpointId::from_uuid(ids.next_uuid()),
        org,
        &WebhookSecret::from_bytes(&[9; 32]).unwrap(),
        chrono::Utc::now(),
    )
    .unwrap();
    store.insert_endpoint(org, &endpoint).await.unwrap();
    let backend = Arc::new(store.clone());
    let dispatcher =
        Dispatcher::new(backend.clone()).subscribe(Arc::new(WebhookFanout::new(backend.clone(), clock.clone())));
    let sender = HttpSender::new(SenderConfig { rules: TargetRules::permissive(), ..SenderConfig::default() }).unwrap();
    let deliverer = WebhookDeliverer::new(backend, Arc::new(sender), clock, Arc::new(openinsure::system::UuidV7));

    let committed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
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
                committed.lock().unwrap().extend(events.iter().map(|e| (format!("msg_{}", e.id.simple()), now)));
            }
        })
    };
    let started = Instant::now();
    // as `serve` runs them: each loop again at once while it found work, else after a tick
    let fan = tokio::spawn(async move {
        loop {
            let report = dispatcher.run_once().await.unwrap();
            if report.delivered + report.failed == 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    while received.lock().unwrap().len() < total as usize {
        let report = deliverer.run_once().await.unwrap();
        if report.attempted == 0 {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let elapsed = started.elapsed();
    fan.abort();
    writer.await.unwrap();
    let mut latencies: Vec<Duration> = {
        let committed = committed.lock().unwrap();
        let received = received.lock().unwrap();
        received.iter().map(|(id, at)| at.saturating_duration_since(committed[id])).collect()
    };
    latencies.sort();
    let pick = |per_mille: usize| latencies[(latencies.len() * per_mille / 1000).min(latencies.len() - 1)];
    let per_second = u128::from(total) * 1000 / elapsed.as_millis().max(1);
    println!(
        "{total} events, outbox (SQLite) to a local webhook receiver: {per_second} deliveries/s; commit to delivery p50 {:?}, p99 {:?}, max {:?}",
        pick(500),
        pick(990),
        latencies[latencies.len() - 1]
    );
    std::fs::remove_dir_all(&dir).ok();
}
