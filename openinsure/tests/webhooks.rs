//! Webhook endpoints through the use cases, the fan-out of events to them, and their delivery
//! on the retry schedule, with a scripted sender (the HTTP sender has its own tests against real
//! servers in `openinsure-webhook-http`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Duration;
use common::{World, acme, caller, org, world};
use openinsure::dispatch::Dispatcher;
use openinsure::webhooks::{ReplayRange, WebhookDeliverer, WebhookFanout};
use openinsure_core::clock::Clock;
use openinsure_core::events::DomainEvent;
use openinsure_core::store::Page;
use openinsure_core::tenancy::Role;
use openinsure_webhooks::{
    DeliveryStatus, EndpointPatch, NewEndpoint, OutboundRequest, RetrySchedule, SendOutcome, SendResult, WebhookSecret,
    WebhookSender, verify,
};
use serde_json::Value;

#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<SendOutcome>>,
    always: Mutex<Option<SendOutcome>>,
    sent: Mutex<Vec<OutboundRequest>>,
}

impl Scripted {
    fn answer(&self, outcomes: impl IntoIterator<Item = SendOutcome>) {
        self.answers.lock().unwrap().extend(outcomes);
    }
    fn always(&self, outcome: SendOutcome) {
        *self.always.lock().unwrap() = Some(outcome);
    }
    fn sent(&self) -> Vec<OutboundRequest> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl WebhookSender for Scripted {
    async fn send(&self, request: &OutboundRequest) -> SendResult {
        self.sent.lock().unwrap().push(request.clone());
        let outcome = self.answers.lock().unwrap().pop_front().or_else(|| self.always.lock().unwrap().clone());
        SendResult { outcome: outcome.unwrap_or(SendOutcome::Response { status: 200 }), latency_ms: 3 }
    }
}

fn header<'a>(r: &'a OutboundRequest, name: &str) -> &'a str {
    r.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str()).unwrap()
}

fn new_endpoint(url: &str, types: &[&str]) -> NewEndpoint {
    NewEndpoint {
        url: url.into(),
        description: "test".into(),
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
    }
}

struct Setup {
    w: World,
    sender: Arc<Scripted>,
    dispatcher: Dispatcher,
    deliverer: WebhookDeliverer,
}

fn setup() -> Setup {
    let w = world();
    let sender = Arc::new(Scripted::default());
    let store = w.app.backend().clone();
    let dispatcher = Dispatcher::new(store.clone())
        .with_clock(w.clock.clone())
        .subscribe(Arc::new(WebhookFanout::new(store.clone(), w.clock.clone())));
    let deliverer = WebhookDeliverer::new(store, sender.clone(), w.clock.clone(), w.app.ids().clone());
    Setup { w, sender, dispatcher, deliverer }
}

async fn bind_one(w: &World, n: u128) -> Value {
    let o = org(w, n).await;
    let sub = w
        .app
        .submit(&o.producer, &openinsure_core::submission::SubmissionInput::read(&acme(), w.clock.now()).unwrap())
        .await
        .unwrap();
    w.app.quote(&o.producer, sub.id, &Default::default()).await.unwrap();
    let policy = w.app.bind_submission(&o.underwriter, sub.id, &Default::default()).await.unwrap();
    serde_json::to_value(policy).unwrap()
}

#[tokio::test]
async fn endpoints_are_checked_scoped_and_their_secret_shown_once() {
    let s = setup();
    let app = &s.w.app;
    let admin = caller(1, 1, Role::Admin);
    let bad = new_endpoint("http://10.0.0.5/hook", &["policy.bound", "policy.nope", "policy.bound", "webhook.test"]);
    let Err(openinsure::Error::Invalid(errors)) = app.create_webhook(&admin, &bad).await else { panic!("refused") };
    let fields: Vec<String> = errors.iter().map(|e| e.path.clone()).collect();
    assert_eq!(fields, ["url", "eventTypes[1]", "eventTypes[2]", "eventTypes[3]"], "every error at once: {errors:?}");
    let private = app.create_webhook(&admin, &new_endpoint("https://192.168.1.10/x", &["policy.bound"])).await;
    assert!(format!("{:?}", private.unwrap_err()).contains("not a public address"));
    assert!(app.create_webhook(&admin, &new_endpoint("https://h.example.com", &[])).await.is_err(), "no type");
    assert!(app.webhooks(&admin, Page::first()).await.unwrap().is_empty(), "nothing was written");

    let producer = caller(1, 2, Role::Producer);
    let ok = new_endpoint("https://hooks.example.com/in", &["policy.bound"]);
    assert!(matches!(app.create_webhook(&producer, &ok).await, Err(openinsure::Error::Forbidden(_))));
    let created = app.create_webhook(&admin, &ok).await.unwrap();
    assert!(created.secret.starts_with("whsec_"));
    let shown = serde_json::to_value(app.webhook(&admin, created.endpoint.id).await.unwrap()).unwrap();
    assert!(!shown.to_string().contains(&created.secret), "the secret is not shown again");
    assert!(shown.get("secret").is_none());

    let intruder = caller(2, 1, Role::Admin);
    let id = created.endpoint.id;
    assert!(
        matches!(app.webhook(&intruder, id).await, Err(openinsure::Error::NotFound { .. })),
        "another org's endpoint is not found"
    );
    assert!(app.delete_webhook(&intruder, id).await.is_err());
    assert!(app.webhooks(&intruder, Page::first()).await.unwrap().is_empty());

    // a patch is checked the same way, and enabling or disabling is recorded
    let patch = EndpointPatch { url: Some("ftp://x.example".into()), ..EndpointPatch::default() };
    assert!(app.update_webhook(&admin, id, &patch).await.is_err());
    let off = EndpointPatch { enabled: Some(false), ..EndpointPatch::default() };
    let e = app.update_webhook(&admin, id, &off).await.unwrap();
    assert_eq!((e.enabled, e.disabled_reason.as_deref()), (false, Some("disabled by its org")));
    let test = app.test_webhook(&admin, id).await;
    assert!(matches!(test, Err(openinsure::Error::Rule { code: "endpoint_disabled", .. })), "{test:?}");
    let on = EndpointPatch { enabled: Some(true), ..EndpointPatch::default() };
    assert!(app.update_webhook(&admin, id, &on).await.unwrap().enabled);
}

#[tokio::test]
async fn events_fan_out_to_the_endpoints_that_want_them_and_are_delivered_signed() {
    let s = setup();
    let app = &s.w.app;
    let admin = caller(1, 1, Role::Admin);
    let bound = app.create_webhook(&admin, &new_endpoint("https://a.example.com/in", &["policy.bound"])).await.unwrap();
    let claims = app.create_webhook(&admin, &new_endpoint("https://b.example.com/in", &["claim.filed"])).await.unwrap();
    let other_org = caller(2, 1, Role::Admin);
    app.create_webhook(&other_org, &new_endpoint("https://c.example.com/in", &["policy.bound"])).await.unwrap();

    let policy = bind_one(&s.w, 1).await;
    s.dispatcher.run_once().await.unwrap();
    s.dispatcher.run_once().await.unwrap();
    let report = s.deliverer.run_once().await.unwrap();
    assert_eq!((report.attempted, report.delivered), (1, 1), "{report:?}");
    let sent = s.sender.sent();
    assert_eq!(sent.len(), 1, "one endpoint of the org wants policy.bound");
    let r = &sent[0];
    assert_eq!(r.url, "https://a.example.com/in");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "policy.bound");
    assert_eq!(body["data"]["policyId"], policy["id"]);
    assert_eq!(body["orgId"], admin.org_id.to_string());
    assert_eq!(header(r, "content-type"), "application/json");
    assert_eq!(header(r, "webhook-id"), format!("msg_{}", body["id"].as_str().unwrap().replace('-', "")));
    let secret = WebhookSecret::parse(&bound.secret).unwrap();
    let now = s.w.clock.now().timestamp();
    verify(
        &[secret],
        header(r, "webhook-id"),
        header(r, "webhook-timestamp"),
        header(r, "webhook-signature"),
        &r.body,
        now,
        300,
    )
    .unwrap();

    // the log: delivered, one attempt with its status and latency
    let log = app.webhook_deliveries(&admin, bound.endpoint.id, Page::first()).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].status, log[0].attempts, log[0].last_status_code), (DeliveryStatus::Delivered, 1, Some(200)));
    let details = app.webhook_delivery(&admin, bound.endpoint.id, log[0].id).await.unwrap();
    assert_eq!(details.attempts.len(), 1);
    assert_eq!(details.attempts[0].latency_ms, 3);
    assert!(app.webhook_delivery(&admin, claims.endpoint.id, log[0].id).await.is_err(), "another endpoint's: 404");
    assert!(app.webhook_deliveries(&admin, claims.endpoint.id, Page::first()).await.unwrap().is_empty());

    // the same event handed out again (a redelivery) makes no second delivery
    let events = app.backend().org_events(admin.org_id, Page::new(1000, 0)).await.unwrap();
    let fanout = WebhookFanout::new(app.backend().clone(), s.w.clock.clone());
    for e in &events {
        openinsure::dispatch::Subscriber::handle(&fanout, e).await.unwrap();
    }
    assert_eq!(s.deliverer.run_once().await.unwrap().attempted, 0);

    // a test message, to one endpoint, whatever it subscribed to
    app.test_webhook(&admin, claims.endpoint.id).await.unwrap();
    s.deliverer.run_once().await.unwrap();
    let last = s.sender.sent().pop().unwrap();
    assert_eq!(last.url, "https://b.example.com/in");
    assert_eq!(serde_json::from_slice::<Value>(&last.body).unwrap()["type"], "webhook.test");

    // a rotation: both secrets sign for a day, then the new one alone
    let rotated = app.rotate_webhook_secret(&admin, bound.endpoint.id).await.unwrap();
    assert_ne!(rotated.secret, bound.secret);
    let first = app.webhook_deliveries(&admin, bound.endpoint.id, Page::first()).await.unwrap()[0].id;
    app.replay_webhook_delivery(&admin, bound.endpoint.id, first).await.unwrap();
    s.deliverer.run_once().await.unwrap();
    let again = s.sender.sent().pop().unwrap();
    assert_eq!(header(&again, "webhook-id"), header(r, "webhook-id"), "a replay keeps the message id");
    assert_eq!(again.body, r.body, "and the body");
    assert_eq!(header(&again, "webhook-signature").split(' ').count(), 2);
    let now = s.w.clock.now().timestamp();
    for secret in [&bound.secret, &rotated.secret] {
        let key = WebhookSecret::parse(secret).unwrap();
        verify(
            &[key],
            header(&again, "webhook-id"),
            header(&again, "webhook-timestamp"),
            header(&again, "webhook-signature"),
            &again.body,
            now,
            300,
        )
        .unwrap();
    }
    s.w.clock.advance(Duration::hours(25));
    app.replay_webhook_delivery(&admin, bound.endpoint.id, first).await.unwrap();
    s.deliverer.run_once().await.unwrap();
    let later = s.sender.sent().pop().unwrap();
    assert_eq!(header(&later, "webhook-signature").split(' ').count(), 1, "the old secret no longer signs");
}

#[tokio::test]
async fn failures_follow_the_schedule_then_fail_and_disable_the_endpoint_and_tell_the_org() {
    let s = setup();
    let app = &s.w.app;
    let admin = caller(1, 1, Role::Admin);
    let hook = app.create_webhook(&admin, &new_endpoint("https://a.example.com/in", &["policy.bound"])).await.unwrap();
    let watcher = app
        .create_webhook(&admin, &new_endpoint("https://ops.example.com/in", &["webhook.endpoint_disabled"]))
        .await
        .unwrap();
    bind_one(&s.w, 1).await;
    s.dispatcher.run_once().await.unwrap();
    s.sender.answer([SendOutcome::Timeout, SendOutcome::Response { status: 302 }]);
    s.sender.always(SendOutcome::Response { status: 500 });
    let schedule = RetrySchedule::default();
    let start = s.w.clock.now();
    let mut attempts = 0;
    for _ in 0..200 {
        let r = s.deliverer.run_once().await.unwrap();
        attempts += r.attempted;
        if r.failed > 0 {
            assert_eq!(r.disabled, 1);
            break;
        }
        s.w.clock.advance(Duration::minutes(30));
    }
    assert_eq!(attempts as u32, schedule.max_attempts, "every attempt of the schedule, no more");
    let span = s.w.clock.now() - start;
    assert!(span > Duration::days(2) && span < Duration::days(4), "about three days: {span}");
    let log = app.webhook_deliveries(&admin, hook.endpoint.id, Page::first()).await.unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Failed);
    let attempts = app.webhook_delivery(&admin, hook.endpoint.id, log[0].id).await.unwrap().attempts;
    assert_eq!(attempts[0].outcome, SendOutcome::Timeout);
    assert_eq!(attempts[1].outcome, SendOutcome::Response { status: 302 }, "a redirect is not followed");
    let e = app.webhook(&admin, hook.endpoint.id).await.unwrap();
    assert!(!e.enabled);
    assert!(e.disabled_reason.unwrap().starts_with("every delivery failed since"));

    // the org is told: an event, fanned out to the endpoint that wants it
    s.sender.always(SendOutcome::Response { status: 200 });
    s.dispatcher.run_once().await.unwrap();
    s.deliverer.run_once().await.unwrap();
    let told = s.sender.sent().pop().unwrap();
    assert_eq!(told.url, "https://ops.example.com/in");
    let body: Value = serde_json::from_slice(&told.body).unwrap();
    assert_eq!(body["type"], "webhook.endpoint_disabled");
    assert_eq!(body["data"]["endpointId"], hook.endpoint.id.to_string());
    let _ = watcher;

    // enabled again, the failed deliveries of the outage are replayed, and go through
    let on = EndpointPatch { enabled: Some(true), ..EndpointPatch::default() };
    app.update_webhook(&admin, hook.endpoint.id, &on).await.unwrap();
    let range = ReplayRange { from: start - Duration::hours(1), to: s.w.clock.now() };
    assert_eq!(app.replay_webhook_range(&admin, hook.endpoint.id, range).await.unwrap().len(), 1);
    let bad = ReplayRange { from: range.to, to: range.from };
    assert!(app.replay_webhook_range(&admin, hook.endpoint.id, bad).await.is_err(), "`to` before `from`");
    assert_eq!(s.deliverer.run_once().await.unwrap().delivered, 1);
    let log = app.webhook_deliveries(&admin, hook.endpoint.id, Page::first()).await.unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn a_410_disables_at_once_and_a_success_meanwhile_keeps_the_endpoint() {
    let s = setup();
    let app = &s.w.app;
    let admin = caller(1, 1, Role::Admin);
    let hook = app
        .create_webhook(&admin, &new_endpoint("https://a.example.com/in", &["policy.bound", "policy.issued"]))
        .await
        .unwrap();
    let _policy = bind_one(&s.w, 1).await;
    s.dispatcher.run_once().await.unwrap();
    s.sender.answer([SendOutcome::Response { status: 410 }]);
    let r = s.deliverer.run_once().await.unwrap();
    assert_eq!((r.failed, r.disabled), (1, 1));
    let e = app.webhook(&admin, hook.endpoint.id).await.unwrap();
    assert_eq!(e.disabled_reason.as_deref(), Some("the endpoint answered 410 Gone"));
    let events = app.backend().org_events(admin.org_id, Page::new(1000, 0)).await.unwrap();
    assert!(events.iter().any(|e| matches!(e.event, DomainEvent::WebhookEndpointDisabled { .. })));

    // schedules that run out while another delivery succeeded do not disable
    let short = RetrySchedule { max_attempts: 2, ..RetrySchedule::default() };
    let deliverer = s.deliverer.clone().with_schedule(short);
    let again = app.create_webhook(&admin, &new_endpoint("https://d.example.com/in", &["policy.bound"])).await.unwrap();
    app.test_webhook(&admin, again.endpoint.id).await.unwrap();
    s.sender.answer([SendOutcome::Response { status: 500 }]);
    deliverer.run_once().await.unwrap();
    app.test_webhook(&admin, again.endpoint.id).await.unwrap();
    s.sender.answer([SendOutcome::Response { status: 200 }]);
    s.w.clock.advance(Duration::seconds(1));
    assert_eq!(deliverer.run_once().await.unwrap().delivered, 1, "the second test message went through");
    s.w.clock.advance(Duration::seconds(10));
    s.sender.answer([SendOutcome::Response { status: 500 }]);
    let r = deliverer.run_once().await.unwrap();
    assert_eq!((r.failed, r.disabled), (1, 0), "{r:?}");
    assert!(app.webhook(&admin, again.endpoint.id).await.unwrap().enabled);
}
