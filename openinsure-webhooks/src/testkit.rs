//! The conformance suite of [`WebhookStore`] (feature `testkit`): every adapter's tests call
//! [`webhook_store`]. `run` keeps runs apart on a shared database.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, reason = "a test suite")]

use chrono::{DateTime, Duration, TimeZone, Utc};
use openinsure_core::error::Error;
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::{OrgId, PolicyId, WebhookEndpointId};
use openinsure_core::store::{Outbox, Page};
use openinsure_core::testkit::test_uuid;

use crate::WebhookSecret;
use crate::model::{
    AttemptDecision, AttemptRecord, DeliveryAttempt, DeliveryStatus, NewEndpoint, Replay, SendOutcome, StoredEndpoint,
    WebhookDelivery,
};
use crate::store::WebhookStore;
use crate::target::TargetRules;

fn at(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2101, 1, 1, 0, 0, 0).single().expect("a time") + Duration::seconds(s)
}

fn endpoint(run: u64, org: OrgId, n: u64, types: &[&str]) -> StoredEndpoint {
    let input = NewEndpoint {
        url: format!("https://hooks.example.com/{n}"),
        description: format!("suite {n}"),
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
    };
    let secret = WebhookSecret::from_bytes(&[n as u8; 32]).expect("a secret");
    input
        .build(&TargetRules::STRICT, WebhookEndpointId::from_uuid(test_uuid(run, 9000 + n)), org, &secret, at(0))
        .expect("a valid endpoint")
}

fn event(run: u64, org: OrgId, n: u64) -> EventEnvelope {
    EventEnvelope::new(
        test_uuid(run, 9100 + n),
        org,
        at(0),
        DomainEvent::PolicyIssued { policy_id: PolicyId::from_uuid(test_uuid(run, 9200 + n)) },
    )
}

fn attempt(d: &WebhookDelivery, n: u64, run: u64, outcome: SendOutcome, when: DateTime<Utc>) -> DeliveryAttempt {
    DeliveryAttempt {
        id: test_uuid(run, 9300 + n),
        delivery_id: d.id,
        endpoint_id: d.endpoint_id,
        at: when,
        latency_ms: 12,
        success: outcome.is_success(),
        outcome,
    }
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::NotFound { .. }))
}

/// The whole suite.
pub async fn webhook_store<S>(store: &S, run: u64)
where
    S: WebhookStore + Outbox,
{
    let org = OrgId::from_uuid(test_uuid(run, 8990));
    let other = OrgId::from_uuid(test_uuid(run, 8991));

    // endpoints: insert, read, list, conflict, another org's is not found
    let bound = endpoint(run, org, 1, &["policy.bound", "policy.issued"]);
    let claims = endpoint(run, org, 2, &["claim.filed"]);
    store.insert_endpoint(org, &bound).await.expect("insert");
    store.insert_endpoint(org, &claims).await.expect("insert");
    assert!(matches!(store.insert_endpoint(org, &bound).await, Err(Error::Conflict(_))), "a taken id");
    let theirs = endpoint(run, other, 3, &["policy.issued"]);
    assert!(store.insert_endpoint(org, &theirs).await.is_err(), "an endpoint of another org is refused");
    store.insert_endpoint(other, &theirs).await.expect("insert");
    assert_eq!(store.get_endpoint(org, bound.endpoint.id).await.expect("get"), bound);
    assert!(is_not_found(store.get_endpoint(org, theirs.endpoint.id).await), "another org's endpoint: 404");
    assert!(is_not_found(store.get_endpoint(other, bound.endpoint.id).await));
    let listed = store.list_endpoints(org, Page::first()).await.expect("list");
    assert_eq!(listed.iter().map(|e| e.endpoint.id).collect::<Vec<_>>(), vec![bound.endpoint.id, claims.endpoint.id]);
    assert_eq!(listed[0].secrets, bound.secrets, "the secrets are kept");
    let wanting = store.endpoints_for(org, "policy.issued").await.expect("for");
    assert_eq!(wanting.iter().map(|e| e.endpoint.id).collect::<Vec<_>>(), vec![bound.endpoint.id]);
    assert!(store.endpoints_for(org, "referral.created").await.expect("for").is_empty());

    // updates carry a revision
    let mut changed = bound.clone();
    changed.endpoint.description = "changed".into();
    let updated = store.update_endpoint(org, &changed).await.expect("update");
    assert_eq!(updated.endpoint.revision, bound.endpoint.revision + 1);
    assert!(matches!(store.update_endpoint(org, &changed).await, Err(Error::Conflict(_))), "a stale revision");
    assert!(is_not_found(store.update_endpoint(other, &updated).await), "another org's: 404");
    assert_eq!(store.get_endpoint(org, bound.endpoint.id).await.expect("get").endpoint.description, "changed");

    // deliveries: made once per endpoint and event
    let e1 = event(run, org, 1);
    let e2 = event(run, org, 2);
    let d1 = WebhookDelivery::of_event(&updated.endpoint, &e1, at(10)).expect("a delivery");
    let d2 = WebhookDelivery::of_event(&updated.endpoint, &e2, at(11)).expect("a delivery");
    assert_eq!(store.enqueue_deliveries(org, &[d1.clone(), d2.clone()]).await.expect("enqueue"), 2);
    assert_eq!(store.enqueue_deliveries(org, std::slice::from_ref(&d1)).await.expect("again"), 0, "made once");
    let stray = WebhookDelivery::of_event(&theirs.endpoint, &event(run, other, 3), at(10)).expect("a delivery");
    let d3 = WebhookDelivery::of_event(&updated.endpoint, &event(run, org, 4), at(12)).expect("a delivery");
    assert!(
        store.enqueue_deliveries(org, &[d3.clone(), stray.clone()]).await.is_err(),
        "a delivery to another org's endpoint is refused"
    );
    assert!(is_not_found(store.get_delivery(org, d3.id).await), "and nothing of the batch was written");
    assert!(is_not_found(store.get_delivery(other, d1.id).await), "another org's delivery: 404");

    // leases
    let lease = test_uuid(run, 9400);
    let leased = store.lease_deliveries(at(9), 100, lease, at(70)).await.expect("lease");
    assert!(leased.iter().all(|l| l.delivery.org_id != org), "nothing is due before it was made");
    let leased: Vec<_> = store
        .lease_deliveries(at(20), 100, lease, at(80))
        .await
        .expect("lease")
        .into_iter()
        .filter(|l| l.delivery.org_id == org)
        .collect();
    assert_eq!(leased.iter().map(|l| l.delivery.id).collect::<Vec<_>>(), vec![d1.id, d2.id], "oldest due first");
    assert_eq!(leased[0].endpoint.endpoint.id, bound.endpoint.id);
    assert_eq!(leased[0].endpoint.secrets, bound.secrets, "with the secrets that sign");
    assert_eq!(leased[0].delivery.payload, d1.payload);
    let again = store.lease_deliveries(at(21), 100, test_uuid(run, 9401), at(81)).await.expect("lease");
    assert!(again.iter().all(|l| l.delivery.org_id != org), "a held lease is not taken");

    // an attempt under a lost lease writes nothing
    let fail = SendOutcome::Response { status: 500 };
    let retry =
        AttemptDecision { status: DeliveryStatus::Pending, next_attempt_at: Some(at(200)), disable_endpoint: None };
    let stale = AttemptRecord {
        lease: test_uuid(run, 9499),
        attempt: attempt(&d2, 1, run, fail.clone(), at(21)),
        decision: retry.clone(),
        events: vec![],
    };
    assert!(!store.record_attempt(org, &stale).await.expect("record"), "another lease's record is ignored");
    assert!(store.delivery_attempts(org, d2.id).await.expect("attempts").is_empty());

    // success, and failure with a retry
    let ok = SendOutcome::Response { status: 204 };
    let delivered =
        AttemptDecision { status: DeliveryStatus::Delivered, next_attempt_at: None, disable_endpoint: None };
    let rec = AttemptRecord { lease, attempt: attempt(&d1, 2, run, ok, at(22)), decision: delivered, events: vec![] };
    assert!(store.record_attempt(org, &rec).await.expect("record"));
    let got = store.get_delivery(org, d1.id).await.expect("get");
    assert_eq!((got.status, got.attempts, got.last_status_code), (DeliveryStatus::Delivered, 1, Some(204)));
    assert_eq!(store.get_endpoint(org, bound.endpoint.id).await.expect("get").endpoint.last_success_at, Some(at(22)));
    let rec =
        AttemptRecord { lease, attempt: attempt(&d2, 3, run, fail.clone(), at(23)), decision: retry, events: vec![] };
    assert!(store.record_attempt(org, &rec).await.expect("record"));
    assert!(!store.record_attempt(org, &rec).await.expect("record"), "the lease ended with the record");
    let got = store.get_delivery(org, d2.id).await.expect("get");
    assert_eq!((got.status, got.attempts, got.next_attempt_at), (DeliveryStatus::Pending, 1, Some(at(200))));
    assert_eq!(got.last_error.as_deref(), Some("answered 500"));
    let mine = |v: Vec<crate::model::LeasedDelivery>| v.into_iter().filter(|l| l.delivery.org_id == org).count();
    assert_eq!(mine(store.lease_deliveries(at(199), 100, test_uuid(run, 9402), at(260)).await.expect("l")), 0);
    let lease2 = test_uuid(run, 9403);
    assert_eq!(mine(store.lease_deliveries(at(200), 100, lease2, at(260)).await.expect("l")), 1, "due again");

    // the log
    let log = store.deliveries(org, bound.endpoint.id, Page::first()).await.expect("log");
    assert_eq!(log.iter().map(|d| d.id).collect::<Vec<_>>(), vec![d2.id, d1.id], "newest first");
    assert!(is_not_found(store.deliveries(other, bound.endpoint.id, Page::first()).await), "another org's: 404");
    assert_eq!(store.delivery_attempts(org, d2.id).await.expect("attempts").len(), 1);
    assert!(is_not_found(store.delivery_attempts(other, d2.id).await));

    // a disabling: the endpoint, its pending deliveries and the org's event, together
    store.enqueue_deliveries(org, std::slice::from_ref(&d3)).await.expect("enqueue");
    let disabled_event = EventEnvelope::new(
        test_uuid(run, 9500),
        org,
        at(201),
        DomainEvent::WebhookEndpointDisabled { endpoint_id: bound.endpoint.id, reason: "gone".into() },
    );
    let gone = SendOutcome::Response { status: 410 };
    let rec = AttemptRecord {
        lease: lease2,
        attempt: attempt(&d2, 4, run, gone, at(201)),
        decision: AttemptDecision {
            status: DeliveryStatus::Failed,
            next_attempt_at: None,
            disable_endpoint: Some("the endpoint answered 410 Gone".into()),
        },
        events: vec![disabled_event.clone()],
    };
    assert!(store.record_attempt(org, &rec).await.expect("record"));
    let ep = store.get_endpoint(org, bound.endpoint.id).await.expect("get").endpoint;
    assert!(!ep.enabled);
    assert_eq!(ep.disabled_reason.as_deref(), Some("the endpoint answered 410 Gone"));
    assert_eq!(ep.disabled_at, Some(at(201)));
    assert_eq!(store.get_delivery(org, d3.id).await.expect("get").status, DeliveryStatus::Failed, "pending failed");
    let events = store.org_events(org, Page::new(1000, 0)).await.expect("events");
    assert!(events.iter().any(|e| e.id == disabled_event.id), "the org is told, in the same step");
    assert!(store.endpoints_for(org, "policy.issued").await.expect("for").is_empty(), "a disabled endpoint");

    // replays
    assert!(is_not_found(store.replay_deliveries(other, bound.endpoint.id, Replay::One(d2.id), at(300)).await));
    let one = store.replay_deliveries(org, bound.endpoint.id, Replay::One(d1.id), at(300)).await.expect("replay");
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].status, one[0].attempts, one[0].next_attempt_at), (DeliveryStatus::Pending, 0, Some(at(300))));
    assert!(
        matches!(
            store.replay_deliveries(org, bound.endpoint.id, Replay::One(d1.id), at(301)).await,
            Err(Error::Rule { code: "delivery_pending", .. })
        ),
        "a pending delivery is not replayed"
    );
    let range = Replay::Failed { from: at(11), to: at(13) };
    let many = store.replay_deliveries(org, bound.endpoint.id, range, at(302)).await.expect("replay");
    assert_eq!(many.iter().map(|d| d.id).collect::<Vec<_>>(), vec![d2.id, d3.id], "the failed ones made in range");
    assert!(
        store.replay_deliveries(org, claims.endpoint.id, range, at(302)).await.expect("replay").is_empty(),
        "another endpoint's are not"
    );

    // disabling by an update fails the pending deliveries
    let mut off = store.get_endpoint(org, bound.endpoint.id).await.expect("get");
    off.endpoint.description = "still off".into();
    let off = store.update_endpoint(org, &off).await.expect("update");
    assert!(!off.endpoint.enabled);
    let mut on = off.clone();
    on.endpoint.enabled = true;
    on.endpoint.disabled_reason = None;
    let on = store.update_endpoint(org, &on).await.expect("update");
    let mut off = on.clone();
    off.endpoint.enabled = false;
    store.update_endpoint(org, &off).await.expect("update");
    for d in [&d1, &d2, &d3] {
        assert_eq!(store.get_delivery(org, d.id).await.expect("get").status, DeliveryStatus::Failed);
    }

    // delete: the endpoint, its deliveries and their log
    assert!(is_not_found(store.delete_endpoint(other, bound.endpoint.id).await), "another org's: 404");
    store.delete_endpoint(org, bound.endpoint.id).await.expect("delete");
    assert!(is_not_found(store.get_endpoint(org, bound.endpoint.id).await));
    assert!(is_not_found(store.get_delivery(org, d1.id).await));
    assert!(is_not_found(store.delete_endpoint(org, bound.endpoint.id).await));
    assert_eq!(store.list_endpoints(org, Page::first()).await.expect("list").len(), 1);
    assert!(store.get_endpoint(other, theirs.endpoint.id).await.is_ok(), "the other org's is untouched");
}
