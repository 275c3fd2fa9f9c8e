//! What the SQLite and the MySQL tests share.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use openinsure_core::testkit;
use openinsure_sql::SqlStore;
use sqlx::Connection as _;

/// The idempotency keys, the authorizer, the PHI audit log (with appends from 100 tasks at once),
/// the deal rooms, the webhooks and the notifications.
pub async fn every_other_suite(store: &SqlStore, run: u64) {
    testkit::idempotency_store(store, run).await;
    testkit::authorizer(store, run).await;
    openinsure_hipaa::testkit::all(store, run).await;
    openinsure_dealroom::testkit::all(store, run).await;
    openinsure_webhooks::testkit::webhook_store(store, run).await;
    webhook_lease_race(store, run).await;
    testkit::notification_store(store, run).await;
    notification_lease_race(store, run).await;
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

/// Six mailers at once lease the 120 pending emails of three users, seven at a time, recording
/// each as sent, until none is left: each email is leased and sent exactly once, to its user's
/// address. The pending email of a user with no address is never leased; nor one already sent.
pub async fn notification_lease_race(store: &SqlStore, run: u64) {
    use chrono::{Duration, SubsecRound as _, TimeZone, Utc};
    use openinsure_core::ids::{OrgId, UserId};
    use openinsure_core::notifications::{
        Content, EmailOutcome, EmailStatus, Notification, NotificationKind, NotificationSettings, NotificationStore,
    };
    use openinsure_core::store::Page;
    const EMAILS: u64 = 120;
    let org = OrgId::from_uuid(testkit::test_uuid(run, 9700));
    let users: Vec<UserId> = (1..=3).map(|n| UserId::from_uuid(testkit::test_uuid(run, 9700 + n))).collect();
    let silent = UserId::from_uuid(testkit::test_uuid(run, 9704));
    // made with nanoseconds: what is read back is what was made, to the nanosecond
    let now = Utc.with_ymd_and_hms(2101, 6, 1, 0, 0, 0).unwrap() + Duration::nanoseconds(123_456_789);
    let address = |u: usize| format!("user{u}@example.com");
    for (i, u) in users.iter().enumerate() {
        let settings = NotificationSettings { user_id: *u, email: Some(address(i)), updated_at: now };
        store.put_settings(org, &settings).await.unwrap();
        assert_eq!(store.settings(org, *u).await.unwrap(), Some(settings), "kept to the nanosecond");
    }
    let content = |n: u64| Content {
        kind: NotificationKind::Mention,
        title: format!("Mentioned in room {n}"),
        body: "body".into(),
        link: format!("/v1/deal-rooms/{n}"),
    };
    let made: Vec<Notification> = (0..EMAILS)
        .map(|n| {
            let user = users[(n % 3) as usize];
            let at = now + Duration::microseconds(n as i64);
            Notification::new(org, user, testkit::test_uuid(run, 9800 + n), content(n), at, true)
        })
        .collect();
    // four writers of the same batch at once: each notification is made once, and counted once
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (store, made) = (store.clone(), made.clone());
            tokio::spawn(async move { store.insert_notifications(org, &made).await.unwrap() })
        })
        .collect();
    let mut new = 0;
    for w in writers {
        new += w.await.unwrap();
    }
    assert_eq!(new, EMAILS as usize, "made once");
    // twice in one batch, and again: made once
    let twice = [made[0].clone(), made[0].clone()];
    assert_eq!(store.insert_notifications(org, &twice).await.unwrap(), 0);
    let parked = Notification::new(org, silent, testkit::test_uuid(run, 9799), content(999), now, true);
    assert_eq!(store.insert_notifications(org, &[parked.clone(), parked.clone()]).await.unwrap(), 1);
    let mine = store.notifications(org, users[0], false, Page { limit: 100, offset: 0 }).await.unwrap();
    assert_eq!(mine.len(), 40);
    for n in &mine {
        assert_eq!(Some(n), made.iter().find(|m| m.id == n.id), "read back as made");
    }

    let later = now + Duration::hours(1);
    let mailers: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            let users = users.clone();
            tokio::spawn(async move {
                let mut sent = Vec::new();
                loop {
                    let lease = uuid::Uuid::new_v4();
                    let leased = store.lease_emails(later, 7, lease, later + Duration::minutes(5)).await.unwrap();
                    let leased: Vec<_> = leased.into_iter().filter(|p| p.notification.org_id == org).collect();
                    if leased.is_empty() {
                        break;
                    }
                    for p in leased {
                        let user = users.iter().position(|u| *u == p.notification.user_id).unwrap();
                        assert_eq!(p.to, address(user), "to its user's address");
                        let outcome =
                            EmailOutcome { status: EmailStatus::Sent, at: later, next_attempt_at: None, error: None };
                        assert!(
                            store.record_email(org, p.notification.id, lease, &outcome).await.unwrap(),
                            "the lease holds it"
                        );
                        sent.push(p.notification.id);
                    }
                }
                sent
            })
        })
        .collect();
    let mut all = Vec::new();
    for m in mailers {
        all.extend(m.await.unwrap());
    }
    let distinct: std::collections::BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), EMAILS as usize, "every email was leased once");
    assert_eq!(distinct.len(), EMAILS as usize, "and none twice");
    for u in &users {
        let got = store.notifications(org, *u, false, Page { limit: 100, offset: 0 }).await.unwrap();
        assert_eq!(got.len(), 40);
        for n in got {
            // a time recorded since it was made is kept to the microsecond
            let sent_at = Some(later.trunc_subsecs(6));
            assert_eq!((n.email.status, n.email.attempts, n.email.sent_at), (EmailStatus::Sent, 1, sent_at));
        }
    }
    let got = store.notifications(org, silent, false, Page::first()).await.unwrap();
    assert_eq!(got, vec![parked], "the email of a user with no address is not leased");
    let left = store.lease_emails(later + Duration::days(1), 1000, uuid::Uuid::new_v4(), later).await.unwrap();
    assert!(left.iter().all(|p| p.notification.org_id != org), "nothing left to send");
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
/// and its acknowledgement; the webhook deliverer's read of the due deliveries; the mailer's read
/// of the due emails; the audit retention's first read, the clock's list of orgs), as the crate
/// docs list them.
const CROSS_ORG: [&str; 9] = [
    "SELECT DISTINCT org_id FROM policies",
    "SELECT body, attempts, generation FROM outbox WHERE delivered = 0 ",
    "SELECT id, body, attempts, generation FROM outbox WHERE delivered = 0 ",
    "UPDATE outbox SET lease_id = ?, leased_until = ? WHERE delivered = 0 ",
    "SELECT body, attempts, generation FROM outbox WHERE lease_id = ? ",
    "UPDATE outbox SET delivered = 1, lease_id = NULL, leased_until = NULL WHERE id IN (",
    "SELECT DISTINCT org_id, month FROM audit_log WHERE month < ?",
    "SELECT d.org_id, d.status, d.attempts, ",
    "SELECT n.org_id, ",
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
