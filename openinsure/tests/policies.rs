//! Policy lifecycle use cases over the in-memory backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use chrono::{TimeZone, Utc};
use common::{acme, org, world};
use openinsure::Error;
use openinsure::bind::BindRequest;
use openinsure_core::billing::BillingPlan;
use openinsure_core::policy::{CancellationMethod, PolicyStatus};
use openinsure_core::quote::Schedule;
use openinsure_core::store::{Outbox, Page};

#[tokio::test]
async fn a_policy_through_its_life() {
    let w = world();
    let o = org(&w, 1).await;
    let sub = w.app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let p = w.app.bind(&o.underwriter, q.id, &BindRequest::default()).await.unwrap();
    let uw = &o.underwriter;

    // invalid transitions are typed rule errors and change nothing
    for result in [
        w.app.activate_policy(uw, p.id).await,
        w.app.reinstate_policy(uw, p.id).await,
        w.app.expire_policy(uw, p.id).await,
        w.app.non_renew_policy(uw, p.id, "x").await,
    ] {
        assert!(matches!(result, Err(Error::Rule { code: "invalid_transition", .. })), "{result:?}");
    }
    assert_eq!(w.app.policy(uw, p.id).await.unwrap(), p);

    let issued = w.app.issue_policy(uw, p.id).await.unwrap();
    assert_eq!(issued.status, PolicyStatus::Issued);
    // activating before the effective date is refused
    assert!(w.app.activate_policy(uw, p.id).await.is_err());
    w.clock.set(Utc.with_ymd_and_hms(2027, 1, 1, 9, 0, 0).unwrap());
    let active = w.app.activate_policy(uw, p.id).await.unwrap();
    assert_eq!(active.status, PolicyStatus::Active);

    // more employees from 2027-10-24 (69 of 365 days left): rated, pro-rated, billed
    let change: openinsure::policies::Endorsement = common::typed(&serde_json::json!({
        "effectiveDate": "2027-10-24", "description": "more staff", "changes": { "employeeCount": 60 }
    }));
    let endorsed = w.app.endorse_policy(uw, p.id, &change).await.unwrap();
    assert_eq!(endorsed.segments.len(), 2);
    let ws = endorsed.segments[1].worksheet.clone().unwrap();
    assert_eq!((ws.days_remaining, ws.days_in_term), (69, 365));
    assert_eq!(endorsed.segments[1].premium, ws.premium_change);

    let cancelled = w
        .app
        .cancel_policy(
            uw,
            p.id,
            chrono::NaiveDate::from_ymd_opt(2027, 7, 2).unwrap(),
            CancellationMethod::ProRata,
            "sold the business",
        )
        .await
        .unwrap();
    assert_eq!(cancelled.status, PolicyStatus::Cancelled);
    assert!(cancelled.cancellation.as_ref().unwrap().return_premium.cents() > 0);
    let reinstated = w.app.reinstate_policy(uw, p.id).await.unwrap();
    assert_eq!(reinstated.status, PolicyStatus::Active);
    assert!(reinstated.cancellation.is_none());

    w.clock.set(Utc.with_ymd_and_hms(2028, 1, 1, 0, 0, 0).unwrap());
    let expired = w.app.expire_policy(uw, p.id).await.unwrap();
    assert_eq!(expired.status, PolicyStatus::Expired);
    // the agreement expired on 2027-07-01: a renewal for 2028 is refused as new business would be
    let offer = w.app.renewal_offer(uw, p.id).await.unwrap();
    assert!(offer.flags.iter().any(|f| f.code == "da_outside_period"), "{:?}", offer.flags);
    let refused = w.app.renew_policy(uw, p.id, BillingPlan::Quarterly).await;
    assert!(
        matches!(&refused, Err(Error::Checks { flags }) if flags.iter().any(|f| f.code == "da_outside_period")),
        "{refused:?}"
    );
    // under next year's agreement it renews, re-rated, and counts against that agreement
    let mut next_year = common::agreement_json();
    next_year["name"] = "Main Street GL 2027-28".into();
    next_year["effectiveDate"] = "2027-07-01".into();
    next_year["expirationDate"] = "2028-07-01".into();
    let agreement = w.app.create_agreement(&o.admin, common::typed(&next_year)).await.unwrap();
    let offer = w.app.renewal_offer(uw, p.id).await.unwrap();
    assert!(offer.flags.is_empty(), "{:?}", offer.flags);
    assert_eq!(offer.expiring_premium, expired.current_annual_premium().unwrap());
    assert_eq!(offer.change, offer.renewal_premium.checked_sub(offer.expiring_premium).unwrap());
    let renewal = w.app.renew_policy(uw, p.id, BillingPlan::Quarterly).await.unwrap();
    assert_eq!(renewal.annual_premium, offer.renewal_premium, "the offer is what is bound");
    assert_eq!(renewal.da_agreement_id, Some(agreement.id));
    assert_eq!(renewal.risk_changes.employee_count, Some(60), "the endorsed risk renews");
    let used = w.app.agreement_usage(&o.admin, agreement.id, 1).await.unwrap();
    assert_eq!((used.written_premium, used.policy_count), (renewal.annual_premium, 1));
    assert_eq!(renewal.renewal_of, Some(p.id));
    assert_eq!(renewal.number, "GL-2028-000001");
    assert_eq!(renewal.effective_date, chrono::NaiveDate::from_ymd_opt(2028, 1, 1).unwrap());
    assert!(w.app.renew_policy(uw, p.id, BillingPlan::Quarterly).await.is_err(), "renewed once only");

    let names: Vec<&'static str> =
        w.store.org_events(o.admin.org_id, Page::first()).await.unwrap().iter().map(|e| e.event.name()).collect();
    for name in [
        "policy.bound",
        "policy.issued",
        "policy.activated",
        "policy.endorsed",
        "policy.cancelled",
        "policy.reinstated",
        "policy.expired",
        "policy.renewed",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

#[tokio::test]
async fn flat_cancellation_at_inception_returns_everything() {
    let w = world();
    let o = org(&w, 1).await;
    let sub = w.app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let p = w.app.bind(&o.underwriter, q.id, &BindRequest::default()).await.unwrap();
    let c = w
        .app
        .cancel_policy(&o.underwriter, p.id, p.effective_date, CancellationMethod::ShortRate, "flat")
        .await
        .unwrap();
    let cancellation = c.cancellation.unwrap();
    assert_eq!(cancellation.method, CancellationMethod::Flat);
    assert_eq!(cancellation.return_premium, p.annual_premium);
}

#[tokio::test]
async fn roles_and_orgs_for_policies() {
    let w = world();
    let o = org(&w, 1).await;
    let other = org(&w, 2).await;
    let sub = w.app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let p = w.app.bind(&o.underwriter, q.id, &BindRequest::default()).await.unwrap();
    assert!(matches!(w.app.issue_policy(&o.producer, p.id).await, Err(Error::Forbidden(_))));
    assert!(matches!(w.app.policy(&other.underwriter, p.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(w.app.issue_policy(&other.underwriter, p.id).await, Err(Error::NotFound { .. })));
    assert!(w.app.policies(&other.underwriter, Page::first()).await.unwrap().is_empty());
    assert_eq!(w.app.policies(&o.producer, Page::first()).await.unwrap().len(), 1);
}
