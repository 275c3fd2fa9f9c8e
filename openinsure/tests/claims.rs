//! Claims over the in-memory backend: filing, handling, money on the ledger, PHI redaction by
//! role and the PHI audit log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use std::sync::Arc;

use common::{acme, caller, org, world};
use openinsure::Error;
use openinsure::bind::BindRequest;
use openinsure::claims::RequestMeta;
use openinsure::dispatch::Dispatcher;
use openinsure::ledger::LedgerSubscriber;
use openinsure_core::claims::{ClaimMoneyKind, ClaimStatus};
use openinsure_core::money::Money;
use openinsure_core::quote::Schedule;
use openinsure_core::store::Page;
use openinsure_core::tenancy::Role;
use openinsure_hipaa::{AuditAction, MonthRange, PhiAuditLog, PhiAuditLogExt, REDACTED};
use openinsure_ledger::chart::AccountType;
use serde_json::json;
use uuid::Uuid;

fn meta() -> RequestMeta {
    RequestMeta { ip: Some("203.0.113.7".parse().unwrap()), user_agent: Some("claims-portal/1.0".into()) }
}

/// Org 1's example policy, bound paid in full (the carrier is then owed its net premium, which
/// funds the loss fund) and booked on the world's ledger; the clock moved into its period. The
/// dispatcher books on that ledger.
async fn bound_and_booked(w: &common::World) -> (common::Org, openinsure_core::policy::Policy, Dispatcher) {
    let o = org(w, 1).await;
    let sub = w.app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let down = BindRequest { down_payment_id: Some(Uuid::from_u128(0xd0)), ..BindRequest::default() };
    let policy = w.app.bind(&o.underwriter, q.id, &down).await.unwrap();
    let dispatcher =
        Dispatcher::new(w.app.backend().clone()).subscribe(Arc::new(LedgerSubscriber::new(Arc::new(w.ledger.clone()))));
    dispatcher.run_once().await.unwrap();
    w.clock.set(chrono::DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z").unwrap().to_utc());
    (o, policy, dispatcher)
}

#[tokio::test]
async fn a_claim_from_notice_to_payment_seen_by_each_role() {
    let w = world();
    let audit = w.audit.clone();
    let app = w.app.clone();
    let (o, policy, dispatcher) = bound_and_booked(&w).await;

    let supervisor = caller(1, 20, Role::ClaimsSupervisor);
    let adjuster = caller(1, 21, Role::Adjuster);
    let other_adjuster = caller(1, 22, Role::Adjuster);
    let admin = caller(1, 23, Role::Admin);
    let finance = caller(1, 24, Role::FinanceAnalyst);
    let notice = json!({
        "policyId": policy.id,
        "dateOfLoss": "2027-02-14",
        "lossDescription": "employee fell from a loading dock",
        "claimantName": "Jane Roe",
        "claimantDob": "1984-06-02",
        "claimantSsn": "123-45-6789",
        "diagnosisCodes": ["S52.501A"],
        "treatmentNotes": "closed reduction, cast"
    });
    let filed = app.file_claim(&o.producer, common::typed(&notice), &meta()).await.unwrap();
    assert_eq!(filed.claimant_name, REDACTED, "the producer who filed it still sees no PHI");
    let id = filed.id;

    app.assign_claim(&supervisor, id, adjuster.user_id, &meta()).await.unwrap();
    app.transition_claim(&adjuster, id, ClaimStatus::Open, &meta()).await.unwrap();
    assert!(matches!(
        app.transition_claim(&adjuster, id, ClaimStatus::Settled, &meta()).await,
        Err(Error::Rule { code: "invalid_transition", .. })
    ));
    assert!(matches!(
        app.set_claim_reserve(&other_adjuster, id, Money::from_cents(1), "x", &meta()).await,
        Err(Error::Forbidden(_))
    ));
    app.set_claim_reserve(&adjuster, id, Money::from_cents(1_500_000), "initial estimate", &meta()).await.unwrap();
    app.transition_claim(&adjuster, id, ClaimStatus::Reserved, &meta()).await.unwrap();
    app.fund_loss_fund(&finance, Money::from_cents(500_000), Uuid::from_u128(0xf0)).await.unwrap();
    assert!(
        matches!(
            app.fund_loss_fund(&finance, Money::from_cents(1_000_000), Uuid::from_u128(0xf1)).await,
            Err(Error::Rule { code: "ledger_rejected", .. })
        ),
        "the carrier payable cannot go negative"
    );
    let pay = Uuid::from_u128(0xa1);
    app.pay_claim(&adjuster, id, Money::from_cents(400_000), pay, &meta()).await.unwrap();
    let paid = app.pay_claim(&adjuster, id, Money::from_cents(400_000), pay, &meta()).await.unwrap();
    assert_eq!(paid.paid, Money::from_cents(400_000), "a retried payment pays once");
    assert_eq!(paid.reserve, Money::from_cents(1_100_000));
    assert_eq!(paid.reserve_history.len(), 2);
    app.recover_on_claim(
        &adjuster,
        id,
        ClaimMoneyKind::Subrogation,
        Money::from_cents(50_000),
        Uuid::from_u128(0xa2),
        &meta(),
    )
    .await
    .unwrap();

    // the ledger books every movement through the outbox
    dispatcher.run_once().await.unwrap();
    assert_eq!(app.account_balance(&finance, AccountType::ClaimsPaid).await.unwrap().credits_posted, 400_000);
    let reserves = app.account_balance(&finance, AccountType::Reserves).await.unwrap();
    assert_eq!(reserves.credits_posted - reserves.debits_posted, 1_100_000);
    assert!(app.trial_balance(&finance).await.unwrap().is_balanced());

    // the same claim through each role's eyes
    let seen = |c: &openinsure_core::claims::Claim| c.claimant_name != REDACTED && c.claimant_ssn.is_some();
    assert!(seen(&app.claim(&adjuster, id, &meta()).await.unwrap()), "assigned adjuster");
    assert!(!seen(&app.claim(&other_adjuster, id, &meta()).await.unwrap()), "unassigned adjuster");
    assert!(seen(&app.claim(&supervisor, id, &meta()).await.unwrap()), "claims supervisor");
    assert!(!seen(&app.claim(&o.producer, id, &meta()).await.unwrap()), "producer");
    assert!(!seen(&app.claim(&o.underwriter, id, &meta()).await.unwrap()), "underwriter");
    assert!(!seen(&app.claim(&admin, id, &meta()).await.unwrap()), "admin without MFA");
    assert!(seen(&app.claim(&admin.with_mfa(true), id, &meta()).await.unwrap()), "admin with MFA");
    let producer_view = app.claim(&o.producer, id, &meta()).await.unwrap();
    assert_eq!(producer_view.paid, Money::from_cents(400_000), "non-PHI fields stay");
    assert!(producer_view.diagnosis_codes.is_empty() && producer_view.treatment_notes == REDACTED);

    // every PHI read, write and redaction is in the audit log, with where it came from
    let (_, entries) = audit.chain(o.admin.org_id).await.unwrap();
    assert!(entries.iter().any(|e| e.action == AuditAction::Write));
    assert!(entries.iter().any(|e| e.action == AuditAction::Read && e.user_id == adjuster.user_id));
    assert!(entries.iter().any(|e| e.action == AuditAction::Redact && e.user_id == o.producer.user_id));
    assert!(entries.iter().all(|e| e.ip_address == Some("203.0.113.7".parse().unwrap())));
    audit.verify_chain(o.admin.org_id).await.unwrap();
    assert_eq!(
        audit.entries(o.admin.org_id, MonthRange::all(), Page::first()).await.unwrap().len(),
        entries.len().min(200)
    );
}

#[tokio::test]
async fn claims_are_guarded() {
    let w = world();
    let app = w.app.clone();
    let o = org(&w, 1).await;
    let sub = app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let policy = app.bind(&o.underwriter, q.id, &BindRequest::default()).await.unwrap();
    w.clock.set(chrono::DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z").unwrap().to_utc());
    let supervisor = caller(1, 20, Role::ClaimsSupervisor);

    // bad notices name every field; a loss outside the period is not covered
    let Err(Error::Invalid(e)) =
        app.file_claim(&supervisor, common::typed(&json!({"policyId": policy.id, "claimantSsn": "12"})), &meta()).await
    else {
        panic!()
    };
    assert!(e.iter().any(|f| f.path == "claimantSsn") && e.iter().any(|f| f.path == "dateOfLoss"), "{e}");
    let late = json!({"policyId": policy.id, "dateOfLoss": "2026-12-01", "lossDescription": "x", "claimantName": "A"});
    assert!(matches!(
        app.file_claim(&supervisor, common::typed(&late), &meta()).await,
        Err(Error::Rule { code: "not_covered", .. })
    ));
    assert!(matches!(app.file_claim(&o.underwriter, common::typed(&late), &meta()).await, Err(Error::Forbidden(_))));

    let ok = json!({"policyId": policy.id, "dateOfLoss": "2027-02-01", "lossDescription": "x", "claimantName": "A"});
    let claim = app.file_claim(&supervisor, common::typed(&ok), &meta()).await.unwrap();
    let sup_b = caller(2, 20, Role::ClaimsSupervisor);
    assert!(matches!(app.claim(&sup_b, claim.id, &meta()).await, Err(Error::NotFound { .. })));
    assert!(
        matches!(app.file_claim(&sup_b, common::typed(&ok), &meta()).await, Err(Error::NotFound { .. })),
        "another org's policy"
    );
    assert!(app.claims(&sup_b, Page::first(), &meta()).await.unwrap().is_empty());
    // the audit log is a required port: every read of PHI lands in it
    let before = w.audit.chain(supervisor.org_id).await.unwrap().1.len();
    w.app.claim(&supervisor, claim.id, &meta()).await.unwrap();
    assert_eq!(w.audit.chain(supervisor.org_id).await.unwrap().1.len(), before + 1);
}

/// A payment the loss fund cannot cover is refused up front (422), with nothing recorded on the
/// claim, the ledger or the outbox; after the fund is funded the same payment id pays. Reserving,
/// paying and recovering keep the claim and the ledger equal at every moment, with no event
/// delivered from the outbox in between.
#[tokio::test]
async fn claim_money_is_on_the_ledger_as_it_is_recorded_and_never_beyond_the_loss_fund() {
    let w = world();
    let app = w.app.clone();
    let (_, policy, dispatcher) = bound_and_booked(&w).await;
    let supervisor = caller(1, 20, Role::ClaimsSupervisor);
    let finance = caller(1, 24, Role::FinanceAnalyst);
    let notice = json!({ "policyId": policy.id, "dateOfLoss": "2027-02-14", "lossDescription": "a fall", "claimantName": "Jane Roe" });
    let id = app.file_claim(&supervisor, common::typed(&notice), &meta()).await.unwrap().id;
    app.transition_claim(&supervisor, id, ClaimStatus::Open, &meta()).await.unwrap();

    // the claim and the ledger agree, without the outbox
    let agree = |claim: &openinsure_core::claims::Claim| {
        let (app, finance) = (app.clone(), finance);
        let (paid, reserve) = (claim.paid.cents(), claim.reserve.cents());
        async move {
            let balance = |a: openinsure_ledger::model::Account| {
                i64::try_from(a.credits_posted).unwrap() - i64::try_from(a.debits_posted).unwrap()
            };
            let claims_paid = app.account_balance(&finance, AccountType::ClaimsPaid).await.unwrap();
            let reserves = app.account_balance(&finance, AccountType::Reserves).await.unwrap();
            assert_eq!(balance(claims_paid), paid, "claims paid");
            assert_eq!(balance(reserves), reserve, "reserves");
        }
    };
    let reserved =
        app.set_claim_reserve(&supervisor, id, Money::from_cents(900_000), "estimate", &meta()).await.unwrap();
    agree(&reserved).await;
    app.transition_claim(&supervisor, id, ClaimStatus::Reserved, &meta()).await.unwrap();

    // nothing in the loss fund: refused up front, nothing written anywhere
    let events_before = app.backend().org_events(supervisor.org_id, Page::first()).await.unwrap().len();
    let pay = Uuid::from_u128(0xa1);
    let refused = app.pay_claim(&supervisor, id, Money::from_cents(350_000), pay, &meta()).await;
    assert!(
        matches!(&refused, Err(Error::Rule { code: "loss_fund_insufficient", message }) if message.contains("$3,500.00")),
        "{refused:?}"
    );
    let claim = app.claim(&supervisor, id, &meta()).await.unwrap();
    assert_eq!((claim.paid, claim.reserve), (Money::ZERO, Money::from_cents(900_000)), "the claim records nothing");
    agree(&claim).await;
    assert_eq!(app.backend().org_events(supervisor.org_id, Page::first()).await.unwrap().len(), events_before);

    // funded: the same payment id now pays, once, and the books follow at once
    app.fund_loss_fund(&finance, Money::from_cents(350_000), Uuid::from_u128(0xf0)).await.unwrap();
    let paid = app.pay_claim(&supervisor, id, Money::from_cents(350_000), pay, &meta()).await.unwrap();
    assert_eq!(paid.paid, Money::from_cents(350_000));
    agree(&paid).await;
    let again = app.pay_claim(&supervisor, id, Money::from_cents(350_000), pay, &meta()).await.unwrap();
    assert_eq!(again.paid, paid.paid, "a retry pays once");
    // the fund is empty again: the next payment is refused
    assert!(matches!(
        app.pay_claim(&supervisor, id, Money::from_cents(1), Uuid::from_u128(0xa2), &meta()).await,
        Err(Error::Rule { code: "loss_fund_insufficient", .. })
    ));
    let recovered = app
        .recover_on_claim(
            &supervisor,
            id,
            ClaimMoneyKind::Subrogation,
            Money::from_cents(50_000),
            Uuid::from_u128(0xa3),
            &meta(),
        )
        .await
        .unwrap();
    agree(&recovered).await;
    // the outbox's later booking of the same transfers changes nothing
    dispatcher.run_once().await.unwrap();
    agree(&app.claim(&supervisor, id, &meta()).await.unwrap()).await;
    assert!(
        app.backend().pending_events(chrono::DateTime::<chrono::Utc>::MAX_UTC, 100).await.unwrap().is_empty(),
        "every event was accepted by the ledger"
    );
}
