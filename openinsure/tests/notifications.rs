//! Who is notified of what, the queue through the use cases, and the mailer with a scripted
//! sender (the SMTP sender has its own tests against a real server in `openinsure-smtp`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Duration;
use common::{acme, caller, org, world};
use openinsure::dispatch::{Dispatcher, Subscriber};
use openinsure::notifications::{Mailer, MentionNotifier, Notifier, SettingsInput};
use openinsure_core::clock::Clock;
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::DealMessageId;
use openinsure_core::notifications::{Email, EmailError, EmailSender, EmailStatus, NotificationKind};
use openinsure_core::quote::Schedule;
use openinsure_core::store::Page;
use openinsure_core::tenancy::Role;
use openinsure_core::underwriting::authority::ReferralStatus;
use openinsure_dealroom::protocol::{ChatMessage, RichContent};
use openinsure_dealroom::room::{NewParticipant, NewRoom, ParticipantRole};
use serde_json::json;

#[derive(Default)]
struct Outbox {
    sent: Mutex<Vec<Email>>,
    script: Mutex<VecDeque<Result<(), EmailError>>>,
}

#[async_trait]
impl EmailSender for Outbox {
    async fn send(&self, email: &Email) -> Result<(), EmailError> {
        let r = self.script.lock().unwrap().pop_front().unwrap_or(Ok(()));
        if r.is_ok() {
            self.sent.lock().unwrap().push(email.clone());
        }
        r
    }
}

#[tokio::test]
async fn referrals_bound_policies_notices_and_mentions_reach_the_right_people() {
    let w = world();
    let o = org(&w, 1).await;
    let store = w.app.backend().clone();
    let dispatcher = Dispatcher::new(store.clone())
        .with_clock(w.clock.clone())
        .subscribe(Arc::new(Notifier::new(store.clone(), w.clock.clone())));
    for who in [&o.producer, &o.underwriter, &o.senior, &o.chief] {
        let email = format!("user{}@example.com", who.user_id.as_uuid().as_u128() % 1000);
        w.app.put_notification_settings(who, &SettingsInput { email: Some(email) }).await.unwrap();
    }

    // a referral routed to level 2: the senior and the chief may decide it, nobody else is told
    let mut big = acme();
    big["annualRevenueCents"] = json!(4_500_000_000i64);
    big["fein"] = json!("31-1111111");
    let sub = w.app.submit(&o.producer, &common::typed(&big)).await.unwrap();
    let q = w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    dispatcher.run_once().await.unwrap();
    let kinds = |c| {
        let w = &w;
        async move {
            w.app.notifications(c, false, Page::first()).await.unwrap().into_iter().map(|n| n.kind).collect::<Vec<_>>()
        }
    };
    assert_eq!(kinds(&o.senior).await, [NotificationKind::ReferralRaised]);
    assert_eq!(kinds(&o.chief).await, [NotificationKind::ReferralRaised]);
    assert!(kinds(&o.underwriter).await.is_empty(), "the requester, without the authority, is not");
    assert!(kinds(&o.producer).await.is_empty());
    let raised = &w.app.notifications(&o.senior, false, Page::first()).await.unwrap()[0];
    let referral = w.app.referrals(&o.senior, Some(ReferralStatus::Pending), Page::first()).await.unwrap()[0].clone();
    assert_eq!(raised.link, format!("/v1/referrals/{}", referral.id));
    assert_eq!(raised.email.status, EmailStatus::Pending);

    // decided: the requester is told; bound: the producer is told
    w.app.approve_referral(&o.senior, referral.id, "ok", "within appetite").await.unwrap();
    let policy = w.app.bind(&o.underwriter, q.id, &Default::default()).await.unwrap();
    dispatcher.run_once().await.unwrap();
    assert_eq!(kinds(&o.underwriter).await, [NotificationKind::ReferralDecided]);
    assert_eq!(kinds(&o.producer).await, [NotificationKind::PolicyBound]);
    let bound = &w.app.notifications(&o.producer, false, Page::first()).await.unwrap()[0];
    assert_eq!(bound.title, format!("Policy {} was bound", policy.number));

    // a notice of cancellation: the producer again; the same event twice makes one notification
    w.clock.advance(Duration::minutes(1));
    let notice = EventEnvelope::new(
        uuid::Uuid::from_u128(77),
        o.producer.org_id,
        w.clock.now(),
        DomainEvent::PolicyCancellationNoticed {
            policy_id: policy.id,
            installment_number: 2,
            amount_due: openinsure_core::money::Money::from_cents(12_345),
            cancel_on: chrono::NaiveDate::from_ymd_opt(2027, 1, 20).unwrap(),
        },
    );
    let notifier = Notifier::new(store.clone(), w.clock.clone());
    notifier.handle(&notice).await.unwrap();
    notifier.handle(&notice).await.unwrap();
    assert_eq!(kinds(&o.producer).await, [NotificationKind::CancellationNoticed, NotificationKind::PolicyBound]);
    let n = &w.app.notifications(&o.producer, false, Page::first()).await.unwrap()[0];
    assert!(n.body.contains("$123.45") && n.body.contains("2027-01-20"), "{}", n.body);

    // a mention: the mentioned participant only, never the message's text
    let room = w
        .app
        .create_room(&o.underwriter, &common::typed::<NewRoom>(&json!({ "submissionId": sub.id, "title": "Acme" })))
        .await
        .unwrap();
    let add = |u: openinsure_core::ids::UserId| {
        common::typed::<NewParticipant>(&json!({ "userId": u, "role": "underwriter" }))
    };
    w.app.add_participant(&o.underwriter, room.id, &add(o.senior.user_id)).await.unwrap();
    let message = ChatMessage {
        id: DealMessageId::from_uuid(uuid::Uuid::from_u128(5)),
        room_id: room.id,
        sender_id: o.underwriter.user_id,
        sender_name: None,
        sender_role: ParticipantRole::Underwriter,
        content: "claimant Jane Roe, SSN 123-45-6789: see the file".into(),
        parent_message_id: None,
        rich_content: Some(RichContent {
            mentions: vec![o.senior.user_id.to_string(), o.chief.user_id.to_string(), "not-a-user".into()],
            attachments: vec![],
        }),
        annotation_target: None,
        created_at: w.clock.now(),
    };
    let mentions = MentionNotifier::new(store.clone(), w.ports.rooms.clone(), w.clock.clone());
    assert_eq!(mentions.message_stored(o.producer.org_id, &message).await.unwrap(), 1, "the chief is no participant");
    assert_eq!(mentions.message_stored(o.producer.org_id, &message).await.unwrap(), 0, "once");
    assert_eq!(kinds(&o.senior).await, [NotificationKind::Mention, NotificationKind::ReferralRaised]);

    // the queue: the user's own, read state
    let other_org = caller(2, 2, Role::Producer);
    assert!(w.app.notifications(&other_org, false, Page::first()).await.unwrap().is_empty());
    let first = w.app.notifications(&o.senior, false, Page::first()).await.unwrap()[0].id;
    assert!(matches!(w.app.mark_notification_read(&o.chief, first).await, Err(openinsure::Error::NotFound { .. })));
    assert!(matches!(w.app.mark_notification_read(&other_org, first).await, Err(openinsure::Error::NotFound { .. })));
    assert!(w.app.mark_notification_read(&o.senior, first).await.unwrap().read_at.is_some());
    assert_eq!(w.app.notifications(&o.senior, true, Page::first()).await.unwrap().len(), 1);
    assert_eq!(w.app.mark_all_notifications_read(&o.senior).await.unwrap(), 1);
    assert!(w.app.notifications(&o.senior, true, Page::first()).await.unwrap().is_empty());

    // email: every pending one sent, no PHI in any
    let sender = Arc::new(Outbox::default());
    let mailer = Mailer::new(store.clone(), sender.clone(), w.clock.clone(), w.app.ids().clone());
    let report = mailer.run_once().await.unwrap();
    assert_eq!((report.attempted, report.sent), (6, 6), "two raised, decided, bound, noticed, a mention: {report:?}");
    let sent = sender.sent.lock().unwrap().clone();
    for e in &sent {
        for phi in ["Jane Roe", "123-45-6789", "claimant"] {
            assert!(!e.subject.contains(phi) && !e.text.contains(phi), "{e:?}");
        }
    }
    assert!(sent.iter().any(|e| e.to.starts_with("user") && e.subject == "You were mentioned in a deal room"));
    assert_eq!(mailer.run_once().await.unwrap().attempted, 0, "sent once");
}

#[tokio::test]
async fn a_refused_email_is_retried_then_given_up_and_a_refusal_for_good_at_once() {
    let w = world();
    let o = org(&w, 1).await;
    let store = w.app.backend().clone();
    w.app
        .put_notification_settings(&o.producer, &SettingsInput { email: Some("ann@example.com".into()) })
        .await
        .unwrap();
    let bad = w.app.put_notification_settings(&o.producer, &SettingsInput { email: Some("ann@@x".into()) }).await;
    match bad {
        Err(openinsure::Error::Invalid(e)) => assert_eq!(e.iter().next().unwrap().path, "email"),
        other => panic!("{other:?}"),
    }
    let sub = w.app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    w.app.bind_submission(&o.underwriter, sub.id, &Default::default()).await.unwrap();
    Dispatcher::new(store.clone())
        .subscribe(Arc::new(Notifier::new(store.clone(), w.clock.clone())))
        .run_once()
        .await
        .unwrap();

    let sender = Arc::new(Outbox::default());
    let busy = || Err(EmailError::Transient("451 4.3.0 try again later".into()));
    sender.script.lock().unwrap().extend([busy(), busy()]);
    let mailer = Mailer::new(store.clone(), sender.clone(), w.clock.clone(), w.app.ids().clone());
    assert_eq!(mailer.run_once().await.unwrap().retrying, 1);
    assert_eq!(mailer.run_once().await.unwrap().attempted, 0, "it waits a minute");
    w.clock.advance(Duration::minutes(1));
    assert_eq!(mailer.run_once().await.unwrap().retrying, 1);
    w.clock.advance(Duration::minutes(5));
    assert_eq!(mailer.run_once().await.unwrap().sent, 1, "the third attempt went through");
    let n = &w.app.notifications(&o.producer, false, Page::first()).await.unwrap()[0];
    assert_eq!((n.email.status, n.email.attempts), (EmailStatus::Sent, 3));
    assert!(n.email.last_error.is_none());

    // a server that keeps refusing: failed after six attempts, tracked
    let sub = w
        .app
        .submit(
            &o.producer,
            &common::typed(&{
                let mut v = acme();
                v["fein"] = json!("31-2222222");
                v["insuredName"] = json!("Other Co");
                v
            }),
        )
        .await
        .unwrap();
    w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    w.app.bind_submission(&o.underwriter, sub.id, &Default::default()).await.unwrap();
    Dispatcher::new(store.clone())
        .subscribe(Arc::new(Notifier::new(store.clone(), w.clock.clone())))
        .run_once()
        .await
        .unwrap();
    sender.script.lock().unwrap().extend((0..10).map(|_| busy()));
    let mut attempts = 0;
    for _ in 0..20 {
        let r = mailer.run_once().await.unwrap();
        attempts += r.attempted;
        if r.failed == 1 {
            break;
        }
        w.clock.advance(Duration::hours(6));
    }
    assert_eq!(attempts, 6);
    let n = &w.app.notifications(&o.producer, false, Page::first()).await.unwrap()[0];
    assert_eq!((n.email.status, n.email.attempts), (EmailStatus::Failed, 6));
    assert!(n.email.last_error.as_deref().unwrap().contains("451"));

    // a permanent refusal fails at once
    let notice = EventEnvelope::new(
        uuid::Uuid::from_u128(78),
        o.producer.org_id,
        w.clock.now(),
        DomainEvent::PolicyCancellationNoticed {
            policy_id: w.app.policies(&o.producer, Page::first()).await.unwrap()[0].id,
            installment_number: 2,
            amount_due: openinsure_core::money::Money::from_cents(100),
            cancel_on: chrono::NaiveDate::from_ymd_opt(2027, 1, 20).unwrap(),
        },
    );
    Notifier::new(store.clone(), w.clock.clone()).handle(&notice).await.unwrap();
    sender.script.lock().unwrap().clear();
    sender.script.lock().unwrap().push_back(Err(EmailError::Permanent("550 5.1.1 mailbox refused".into())));
    let r = mailer.run_once().await.unwrap();
    assert_eq!((r.attempted, r.failed), (1, 1));
}
