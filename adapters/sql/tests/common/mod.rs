//! What the SQLite and the MySQL tests share.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use openinsure_core::testkit;
use openinsure_sql::SqlStore;
use sqlx::Connection as _;

/// The idempotency keys, the authorizer, the PHI audit log (with appends from 100 tasks at once),
/// the deal rooms and the webhooks.
pub async fn every_other_suite(store: &SqlStore, run: u64) {
    testkit::idempotency_store(store, run).await;
    testkit::authorizer(store, run).await;
    openinsure_hipaa::testkit::all(store, run).await;
    openinsure_dealroom::testkit::all(store, run).await;
    openinsure_webhooks::testkit::webhook_store(store, run).await;
    webhook_lease_race(store, run).await;
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

/// Six deliverers at once lease 120 deliveries of one endpoint, seven at a time, recording each
/// attempt, until none is left: each delivery is leased, attempted and logged exactly once. A
/// delivery enqueued to a disabled endpoint is never leased.
pub async fn webhook_lease_race(store: &SqlStore, run: u64) {
    use chrono::{Duration, TimeZone, Utc};
    use openinsure_core::events::{DomainEvent, EventEnvelope};
    use openinsure_core::ids::{OrgId, PolicyId, WebhookEndpointId};
    use openinsure_webhooks::{
        AttemptDecision, AttemptRecord, DeliveryAttempt, DeliveryStatus, NewEndpoint, SendOutcome, TargetRules,
        WebhookDelivery, WebhookSecret, WebhookStore,
    };
    const DELIVERIES: u64 = 120;
    let org = OrgId::from_uuid(testkit::test_uuid(run, 8800));
    let now = Utc.with_ymd_and_hms(2102, 1, 1, 0, 0, 0).unwrap();
    let endpoint = |n: u64| {
        let input = NewEndpoint {
            url: format!("https://hooks.example.com/race/{n}"),
            description: String::new(),
            event_types: vec!["policy.issued".into()],
        };
        let secret = WebhookSecret::from_bytes(&[n as u8; 32]).unwrap();
        let id = WebhookEndpointId::from_uuid(testkit::test_uuid(run, 8800 + n));
        input.build(&TargetRules::STRICT, id, org, &secret, now).unwrap()
    };
    let event = |n: u64| {
        let policy_id = PolicyId::from_uuid(testkit::test_uuid(run, 8900 + n));
        EventEnvelope::new(testkit::test_uuid(run, 9900 + n), org, now, DomainEvent::PolicyIssued { policy_id })
    };
    let on = endpoint(1);
    let mut off = endpoint(2);
    off.endpoint.enabled = false;
    store.insert_endpoint(org, &on).await.unwrap();
    store.insert_endpoint(org, &off).await.unwrap();
    let deliveries: Vec<WebhookDelivery> = (0..DELIVERIES)
        .map(|n| {
            let made = now + Duration::milliseconds(n as i64);
            WebhookDelivery::of_event(&on.endpoint, &event(n), made).unwrap()
        })
        .collect();
    assert_eq!(store.enqueue_deliveries(org, &deliveries).await.unwrap(), DELIVERIES as usize);
    let parked = WebhookDelivery::of_event(&off.endpoint, &event(DELIVERIES), now).unwrap();
    assert_eq!(store.enqueue_deliveries(org, std::slice::from_ref(&parked)).await.unwrap(), 1);

    let later = now + Duration::hours(1);
    let deliverers: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let lease = uuid::Uuid::new_v4();
                    let leased = store.lease_deliveries(later, 7, lease, later + Duration::hours(1)).await.unwrap();
                    let leased: Vec<_> = leased.into_iter().filter(|l| l.delivery.org_id == org).collect();
                    if leased.is_empty() {
                        break;
                    }
                    for l in leased {
                        let outcome = SendOutcome::Response { status: 204 };
                        let record = AttemptRecord {
                            lease,
                            attempt: DeliveryAttempt {
                                id: uuid::Uuid::new_v4(),
                                delivery_id: l.delivery.id,
                                endpoint_id: l.delivery.endpoint_id,
                                at: later,
                                latency_ms: 1,
                                success: outcome.is_success(),
                                outcome,
                            },
                            decision: AttemptDecision {
                                status: DeliveryStatus::Delivered,
                                next_attempt_at: None,
                                disable_endpoint: None,
                            },
                            events: vec![],
                        };
                        assert!(store.record_attempt(org, &record).await.unwrap(), "the lease holds what it leased");
                        mine.push(l.delivery.id);
                    }
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for d in deliverers {
        all.extend(d.await.unwrap());
    }
    let distinct: std::collections::BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), DELIVERIES as usize, "every delivery was leased once");
    assert_eq!(distinct.len(), DELIVERIES as usize, "and none twice");
    for d in &deliveries {
        let got = store.get_delivery(org, d.id).await.unwrap();
        assert_eq!((got.status, got.attempts), (DeliveryStatus::Delivered, 1));
        assert_eq!(store.delivery_attempts(org, d.id).await.unwrap().len(), 1);
    }
    let got = store.get_delivery(org, parked.id).await.unwrap();
    assert_eq!((got.status, got.attempts), (DeliveryStatus::Pending, 0), "a disabled endpoint's is not leased");
    store.delete_endpoint(org, on.endpoint.id).await.unwrap();
    store.delete_endpoint(org, off.endpoint.id).await.unwrap();
}

/// A fresh, empty database on the server, and its URL; `None` when no server is configured.
pub async fn fresh_database(name: &str) -> Option<String> {
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

/// Drops the database of `url`.
pub async fn drop_database(url: &str) {
    let (server, database) = url.rsplit_once('/').unwrap();
    let mut conn = sqlx::MySqlConnection::connect(&format!("{server}/test")).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {database}")).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

/// The statements that serve every org by design (the outbox dispatcher's: its list, its lease
/// and its acknowledgement; the webhook deliverer's read of the due deliveries; the audit
/// retention's first read, the clock's list of orgs), as the crate docs list them.
const CROSS_ORG: [&str; 8] = [
    "SELECT DISTINCT org_id FROM policies",
    "SELECT body, attempts, generation FROM outbox WHERE delivered = 0 ",
    "SELECT id, body, attempts, generation FROM outbox WHERE delivered = 0 ",
    "UPDATE outbox SET lease_id = ?, leased_until = ? WHERE delivered = 0 ",
    "SELECT body, attempts, generation FROM outbox WHERE lease_id = ? ",
    "UPDATE outbox SET delivered = 1, lease_id = NULL, leased_until = NULL WHERE id IN (",
    "SELECT DISTINCT org_id, month FROM audit_log WHERE month < ?",
    "SELECT d.org_id, d.status, d.attempts, ",
];

/// Every statement the suites sent parses as MySQL and names `org_id` once, bound: in its `WHERE`
/// (`org_id = ?`, joins matching on it apart) or in the columns it inserts, so vtgate routes it to
/// one shard and never plans a cross-shard query for a shard key bound twice.
pub fn every_statement_names_its_org_once() {
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;
    let sent = openinsure_sql::db::statements_sent();
    assert!(sent.len() > 60, "the suites sent {} distinct statements", sent.len());
    let mut wrong = Vec::new();
    let mut crossing = 0;
    for sql in &sent {
        Parser::parse_sql(&MySqlDialect {}, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        if CROSS_ORG.iter().any(|p| sql.starts_with(p)) {
            crossing += 1;
            continue;
        }
        let bound = sql.matches("org_id = ?").count();
        let ok = if let Some(rest) = sql.strip_prefix("INSERT INTO ") {
            let columns = rest.split_once('(').and_then(|(_, r)| r.split_once(')')).map_or("", |(c, _)| c);
            bound == 0 && columns.split(',').filter(|c| c.trim() == "org_id").count() == 1
        } else {
            bound == 1
        };
        if !ok {
            wrong.push(sql.clone());
        }
    }
    assert!(wrong.is_empty(), "statements that do not name their org once:\n{}", wrong.join("\n"));
    assert!(crossing >= 1, "the dispatcher's statements were sent");
}
