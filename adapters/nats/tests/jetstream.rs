//! Events out to a real NATS JetStream: each event stored once with its envelope, a resend inside
//! the duplicate window dropped by the server, and a server stopped and restarted mid-run losing
//! and doubling nothing (the events wait in the outbox). Needs the NATS server at
//! `OPENINSURE_NATS_URL` (`nats://127.0.0.1:4222` by default) and `nats-server` for the restart;
//! skipped without them unless `OPENINSURE_REQUIRE_NATS=1`, which `scripts/test.sh` sets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::sync::Arc;
use std::time::Duration;

use openinsure::dispatch::{Dispatcher, Subscriber};
use openinsure_core::clock::FixedClock;
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::{OrgId, PolicyId};
use openinsure_core::store::{Outbox, PolicyStore};
use openinsure_core::testkit;
use openinsure_memory::MemoryStore;
use openinsure_nats::{JetStreamOptions, JetStreamPublisher};
use serde_json::Value;

fn required() -> bool {
    std::env::var("OPENINSURE_REQUIRE_NATS").is_ok_and(|v| v == "1")
}

/// The server's URL, if one answers.
fn nats_url() -> Option<String> {
    let url = std::env::var("OPENINSURE_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let address = url.trim_start_matches("nats://").to_owned();
    match std::net::TcpStream::connect_timeout(&address.parse().unwrap(), Duration::from_secs(2)) {
        Ok(_) => Some(url),
        Err(e) if required() => panic!("no NATS server at {url}: {e}"),
        Err(_) => None,
    }
}

fn options() -> JetStreamOptions {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    JetStreamOptions {
        stream: format!("OI_TEST_{tag}"),
        subject_prefix: format!("oitest.{tag}"),
        ack_timeout: Duration::from_secs(1),
        ..JetStreamOptions::default()
    }
}

/// Every message in the stream: subject, message id, payload.
async fn stored(publisher: &JetStreamPublisher, options: &JetStreamOptions) -> Vec<(String, String, Value)> {
    let mut stream = publisher.context().get_stream(&options.stream).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        let m = stream.get_raw_message(seq).await.unwrap();
        let id = m.headers.get("Nats-Msg-Id").map(|v| v.to_string()).unwrap_or_default();
        out.push((m.subject.to_string(), id, serde_json::from_slice(&m.payload).unwrap()));
    }
    out
}

/// `n` events of one policy, appended to `store`'s outbox; `from` keeps batches apart.
async fn append(store: &MemoryStore, org: OrgId, from: u64, n: u64) -> Vec<EventEnvelope> {
    let quote = testkit::sample_quote(testkit::test_uuid(from, 2).into(), org, testkit::test_uuid(from, 3).into());
    let policy = testkit::sample_policy(
        PolicyId::from_uuid(testkit::test_uuid(from, 4)),
        org,
        &quote,
        &format!("GL-2027-{from:06}"),
    );
    let events: Vec<EventEnvelope> = (0..n)
        .map(|i| {
            EventEnvelope::new(
                testkit::test_uuid(from, 100 + i),
                org,
                policy.bound_at,
                DomainEvent::PolicyIssued { policy_id: policy.id },
            )
        })
        .collect();
    store.insert_policy(org, &policy, None, &events).await.unwrap();
    events
}

#[tokio::test]
async fn each_event_is_stored_once_with_its_envelope() {
    let Some(url) = nats_url() else { return };
    let options = options();
    let publisher = Arc::new(JetStreamPublisher::connect(&url, options.clone()).await.unwrap());
    let store = MemoryStore::default();
    let org = OrgId::from_uuid(testkit::test_uuid(1, 1));
    let events = append(&store, org, 1, 5).await;
    let dispatcher = Dispatcher::new(Arc::new(store.clone())).subscribe(publisher.clone());
    assert_eq!(dispatcher.run_once().await.unwrap().delivered, 5);

    let messages = stored(&publisher, &options).await;
    assert_eq!(messages.len(), 5);
    for ((subject, id, payload), event) in messages.iter().zip(&events) {
        assert_eq!(subject, &format!("{}.{org}.policy.issued", options.subject_prefix));
        assert_eq!(id, &event.id.to_string(), "the event id is the message id");
        assert_eq!(payload["id"], event.id.to_string());
        assert_eq!(payload["orgId"], org.to_string());
        assert_eq!(payload["type"], "policy.issued");
        assert_eq!(payload["schemaVersion"], 1);
        assert!(payload["occurredAt"].is_string() && payload["data"]["policyId"].is_string(), "{payload}");
    }
    // sent again (a lost acknowledgement, another process): the server keeps one of each
    for event in &events {
        publisher.handle(event).await.unwrap();
    }
    assert_eq!(stored(&publisher, &options).await.len(), 5, "de-duplicated by the message id");
    publisher.context().delete_stream(&options.stream).await.unwrap();
}

/// A NATS server of the test's own, on a free port, keeping its JetStream data in `dir`.
struct Server {
    child: tokio::process::Child,
}

impl Server {
    async fn start(port: u16, dir: &std::path::Path) -> Option<Server> {
        let bin = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
        let dir = dir.display().to_string();
        let spawned = tokio::process::Command::new(&bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd", &dir])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match spawned {
            Ok(c) => c,
            Err(e) if required() => panic!("`{bin}` does not start: {e}"),
            Err(_) => return None,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Some(Server { child });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nats-server did not listen on {port}");
    }

    async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_and_restarted_mid_run_loses_and_doubles_nothing() {
    if nats_url().is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("openinsure-nats-{}", uuid::Uuid::new_v4()));
    let Some(server) = Server::start(port, &dir).await else { return };
    let options = options();
    let url = format!("nats://127.0.0.1:{port}");
    let publisher = Arc::new(JetStreamPublisher::connect(&url, options.clone()).await.unwrap());
    let store = MemoryStore::default();
    let org = OrgId::from_uuid(testkit::test_uuid(2, 1));
    let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
    let dispatcher = Dispatcher::new(Arc::new(store.clone())).subscribe(publisher.clone()).with_clock(clock.clone());

    let mut all = append(&store, org, 10, 3).await;
    assert_eq!(dispatcher.run_once().await.unwrap().delivered, 3);

    // the server goes away: the next events fail, and wait in the outbox
    server.stop().await;
    all.extend(append(&store, org, 11, 4).await);
    let down = dispatcher.run_once().await.unwrap();
    assert_eq!((down.delivered, down.failed, down.dead), (0, 4, 0), "{down:?}");

    // back on the same storage: the outbox retries once the backoff has passed, until all flow
    let server = Server::start(port, &dir).await.expect("restarted");
    let mut delivered = 0;
    for _ in 0..60 {
        clock.advance(chrono::Duration::seconds(30));
        delivered += dispatcher.run_once().await.unwrap().delivered;
        if delivered == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(delivered, 4, "the waiting events were delivered after the restart");
    let messages = stored(&publisher, &options).await;
    let mut ids: Vec<String> = messages.iter().map(|(_, id, _)| id.clone()).collect();
    ids.sort();
    let mut expected: Vec<String> = all.iter().map(|e| e.id.to_string()).collect();
    expected.sort();
    assert_eq!(ids, expected, "every event once: none lost, none doubled");
    assert!(store.pending_events(chrono::DateTime::<chrono::Utc>::MAX_UTC, 100).await.unwrap().is_empty());
    server.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}
