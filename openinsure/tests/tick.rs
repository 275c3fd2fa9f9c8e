//! The clock's transitions, on the in-memory backend: activation, non-payment, expiration and
//! renewal offers, each once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{acme, org, world};
use openinsure::bind::BindRequest;
use openinsure::policies::TickReport;
use openinsure_core::billing::{BillingPlan, InstallmentStatus};
use openinsure_core::events::DomainEvent;
use openinsure_core::policy::tick::TickRules;
use openinsure_core::policy::{Policy, PolicyStatus};
use openinsure_core::quote::Schedule;
use openinsure_core::store::{Outbox, Page};
use openinsure_core::tenancy::Role;
use uuid::Uuid;

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 6, 0, 0).unwrap()
}

async fn events_of(w: &common::World, org: openinsure_core::ids::OrgId) -> Vec<DomainEvent> {
    w.store.org_events(org, Page::first()).await.unwrap().into_iter().map(|e| e.event).collect()
}

#[tokio::test]
async fn the_clock_activates_notices_cancels_for_non_payment_and_offers_renewals_once() {
    let w = world();
    let o = org(&w, 1).await;
    let finance = common::caller(1, 7, Role::FinanceAnalyst);
    let rules = TickRules::default();
    let sub = w.app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let req = BindRequest {
        billing_plan: BillingPlan::Quarterly,
        down_payment_id: Some(Uuid::from_u128(0xd0)),
        ..BindRequest::default()
    };
    let p = w.app.bind(&o.underwriter, q.id, &req).await.unwrap();
    w.app.issue_policy(&o.underwriter, p.id).await.unwrap();
    let get = |id| {
        let app = w.app.clone();
        let uw = o.underwriter;
        async move { app.policy(&uw, id).await.unwrap() }
    };

    // before the effective date nothing happens; on it the policy becomes active, once
    assert_eq!(w.app.tick(at(2026, 12, 31), &rules).await.unwrap().changed, 0);
    let r = w.app.tick(at(2027, 1, 1), &rules).await.unwrap();
    assert_eq!((r.changed, r.events), (1, 1));
    assert_eq!(get(p.id).await.status, PolicyStatus::Active);
    assert_eq!(w.app.tick(at(2027, 1, 1), &rules).await.unwrap(), TickReport { policies: 1, ..TickReport::default() });

    // installment 2 falls due 2027-04-01: within the grace period nothing happens
    assert_eq!(w.app.tick(at(2027, 4, 16), &rules).await.unwrap().changed, 0);
    // past it, a notice: cancellation on 2027-04-27 unless paid
    w.app.tick(at(2027, 4, 17), &rules).await.unwrap();
    let noticed = get(p.id).await;
    let notice = noticed.non_payment_notice.clone().unwrap();
    assert_eq!(
        (notice.installment_number, notice.cancel_on),
        (2, chrono::NaiveDate::from_ymd_opt(2027, 4, 27).unwrap())
    );
    assert!(
        events_of(&w, o.admin.org_id).await.iter().any(|e| matches!(e, DomainEvent::PolicyCancellationNoticed { .. }))
    );
    assert_eq!(w.app.tick(at(2027, 4, 17), &rules).await.unwrap().changed, 0, "one notice");
    assert_eq!(w.app.tick(at(2027, 4, 26), &rules).await.unwrap().changed, 0);
    // still unpaid on the notice's date: cancelled for non-payment, effective that date
    let usage_before = w.app.agreement_usage(&o.admin, p.da_agreement_id.unwrap(), 1).await.unwrap().written_premium;
    w.app.tick(at(2027, 4, 27), &rules).await.unwrap();
    let cancelled = get(p.id).await;
    assert_eq!(cancelled.status, PolicyStatus::Cancelled);
    let c = cancelled.cancellation.clone().unwrap();
    assert_eq!(c.effective_date, notice.cancel_on);
    assert!(c.reason.contains("non-payment"), "{}", c.reason);
    assert!(cancelled.non_payment_notice.is_none());
    let statuses: Vec<_> = cancelled.billing.installments.iter().map(|i| i.status).collect();
    assert_eq!(statuses[0], InstallmentStatus::Paid);
    assert!(statuses[2..].iter().all(|s| *s == InstallmentStatus::Voided), "{statuses:?}");
    let usage_after = w.app.agreement_usage(&o.admin, p.da_agreement_id.unwrap(), 1).await.unwrap().written_premium;
    assert_eq!(usage_before.checked_sub(usage_after).unwrap(), c.return_premium, "the usage released the return");
    assert_eq!(w.app.tick(at(2027, 4, 27), &rules).await.unwrap().changed, 0, "idempotent");
    assert!(w.app.trial_balance(&finance).await.unwrap().is_balanced());
}

async fn active_quarterly(w: &common::World, o: &common::Org) -> Policy {
    let sub = w.app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let req = BindRequest {
        billing_plan: BillingPlan::Quarterly,
        down_payment_id: Some(Uuid::from_u128(0xd0)),
        ..BindRequest::default()
    };
    let p = w.app.bind(&o.underwriter, q.id, &req).await.unwrap();
    w.app.issue_policy(&o.underwriter, p.id).await.unwrap();
    w.app.tick(at(2027, 1, 1), &TickRules::default()).await.unwrap();
    p
}

#[tokio::test]
async fn a_payment_after_the_notice_withdraws_it_and_the_term_runs_to_its_renewal_offer_and_expiry() {
    let w = world();
    let o = org(&w, 1).await;
    let finance = common::caller(1, 7, Role::FinanceAnalyst);
    let rules = TickRules::default();
    let p = active_quarterly(&w, &o).await;
    w.app.tick(at(2027, 4, 20), &rules).await.unwrap();
    assert!(w.app.policy(&o.underwriter, p.id).await.unwrap().non_payment_notice.is_some());
    w.app.record_installment_payment(&finance, p.id, 2, Uuid::from_u128(0xd2)).await.unwrap();
    w.app.tick(at(2027, 4, 22), &rules).await.unwrap();
    let kept = w.app.policy(&o.underwriter, p.id).await.unwrap();
    assert!(kept.non_payment_notice.is_none());
    assert_eq!(kept.status, PolicyStatus::Active);
    assert!(
        events_of(&w, o.admin.org_id)
            .await
            .iter()
            .any(|e| matches!(e, DomainEvent::PolicyCancellationNoticeWithdrawn { installment_number: 2, .. }))
    );
    for (n, id) in [(3, 0xd3), (4, 0xd4)] {
        w.app.record_installment_payment(&finance, p.id, n, Uuid::from_u128(id)).await.unwrap();
    }

    // 60 days before expiration a renewal offer, once; the agreement ends 2027-07-01, so the
    // offer says what would refuse a renewal now
    assert_eq!(w.app.tick(at(2027, 11, 1), &rules).await.unwrap().renewal_offers, 0);
    let r = w.app.tick(at(2027, 11, 2), &rules).await.unwrap();
    assert_eq!(r.renewal_offers, 1);
    let offered = events_of(&w, o.admin.org_id)
        .await
        .into_iter()
        .find_map(|e| match e {
            DomainEvent::PolicyRenewalOffered { blocking_checks, renewal_premium, .. } => {
                Some((blocking_checks, renewal_premium))
            }
            _ => None,
        })
        .unwrap();
    assert!(offered.0.contains(&"da_outside_period".to_owned()), "{offered:?}");
    assert!(offered.1.cents() > 0);
    assert_eq!(w.app.tick(at(2027, 11, 3), &rules).await.unwrap().renewal_offers, 0, "offered once");

    // the term ends on its expiration date
    w.app.tick(at(2028, 1, 1), &rules).await.unwrap();
    assert_eq!(w.app.policy(&o.underwriter, p.id).await.unwrap().status, PolicyStatus::Expired);
    assert_eq!(w.app.tick(at(2028, 1, 1), &rules).await.unwrap().changed, 0);
}
