//! Money after bind, end to end on the in-memory backend: cancellations void and refund,
//! reinstatements restore, endorsements bill, the ledger and the DA usage follow every change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use chrono::NaiveDate;
use common::{acme, org, world};
use openinsure::Error;
use openinsure::bind::BindRequest;
use openinsure::policies::Endorsement;
use openinsure_core::billing::{BillingPlan, InstallmentStatus};
use openinsure_core::money::Money;
use openinsure_core::policy::{CancellationMethod, Policy};
use openinsure_core::quote::Schedule;
use openinsure_core::tenancy::Role;
use openinsure_ledger::chart::AccountType;
use uuid::Uuid;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

struct Bound {
    w: common::World,
    o: common::Org,
    finance: openinsure_core::tenancy::Caller,
    policy: Policy,
}

/// Acme bound quarterly with its down payment, and installment 2 paid.
async fn bound_quarterly() -> Bound {
    let w = world();
    let o = org(&w, 1).await;
    let finance = common::caller(1, 7, Role::FinanceAnalyst);
    let sub = w.app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let req = BindRequest {
        billing_plan: BillingPlan::Quarterly,
        down_payment_id: Some(Uuid::from_u128(0xd0)),
        ..BindRequest::default()
    };
    let p = w.app.bind(&o.underwriter, q.id, &req).await.unwrap();
    let policy = w.app.record_installment_payment(&finance, p.id, 2, Uuid::from_u128(0xd2)).await.unwrap();
    Bound { w, o, finance, policy }
}

async fn balance(b: &Bound, ty: AccountType) -> i128 {
    let a = b.w.app.account_balance(&b.finance, ty).await.unwrap();
    a.credits_posted as i128 - a.debits_posted as i128
}

async fn usage(b: &Bound, p: &Policy) -> Money {
    b.w.app.agreement_usage(&b.o.admin, p.da_agreement_id.unwrap(), 1).await.unwrap().written_premium
}

/// `billed not voided - refunded = written net of return`, for premium.
fn reconciles(p: &Policy) {
    let (refunded, _) = p.billing.refunded().unwrap();
    assert_eq!(
        p.billing.billed_premium().unwrap().checked_sub(refunded).unwrap(),
        p.net_written_premium().unwrap(),
        "{p:#?}"
    );
}

#[tokio::test]
async fn a_cancellation_voids_refunds_reverses_and_releases_and_reinstatement_puts_it_back() {
    let b = bound_quarterly().await;
    let p = &b.policy;
    let uw = &b.o.underwriter;
    let written = p.written_premium().unwrap();
    assert_eq!(usage(&b, p).await, written);
    let carrier_before = balance(&b, AccountType::CarrierPayable).await;
    let producer_before = balance(&b, AccountType::ProducerPayable).await;
    let taxes_before = balance(&b, AccountType::TaxAuthorityPayable).await;

    let c = b.w.app.cancel_policy(uw, p.id, date(2027, 5, 1), CancellationMethod::ProRata, "sold").await.unwrap();
    let statuses: Vec<_> = c.billing.installments.iter().map(|i| i.status).collect();
    use InstallmentStatus::{Due, Paid, Voided};
    assert_eq!(statuses, vec![Paid, Paid, Voided, Voided]);
    let cancellation = c.cancellation.clone().unwrap();
    let refund = c.billing.refunds.last().unwrap().clone();
    // half the premium was collected; what is earned stays, the rest is refunded
    assert_eq!(
        refund.premium,
        written
            .checked_sub(cancellation.return_premium)
            .map(|earned| {
                let collected = p.billing.installments[..2].iter().map(|i| i.premium.cents()).sum::<i64>();
                Money::from_cents(collected - earned.cents())
            })
            .unwrap()
    );
    assert_eq!(refund.taxes, cancellation.return_taxes, "the taxes were collected with the down payment");
    reconciles(&c);
    assert_eq!(usage(&b, &c).await, written.checked_sub(cancellation.return_premium).unwrap(), "usage released");

    // the ledger reversed the refunded part of every leg, and paid the insured exactly the refund
    let producer_back = producer_before - balance(&b, AccountType::ProducerPayable).await;
    let carrier_back = carrier_before - balance(&b, AccountType::CarrierPayable).await;
    let taxes_back = taxes_before - balance(&b, AccountType::TaxAuthorityPayable).await;
    assert_eq!(
        producer_back,
        i128::from(
            refund.premium.mul_factor(p.commission_rate, openinsure_core::money::Rounding::HalfEven).unwrap().cents()
        )
    );
    assert_eq!(taxes_back, i128::from(refund.taxes.cents()));
    assert_eq!(
        carrier_back + producer_back + taxes_back,
        i128::from(refund.total().unwrap().cents()),
        "no MGA commission here"
    );
    let transfers = b.w.app.policy_transfers(&b.finance, p.id).await.unwrap();
    let paid_out: u128 = transfers
        .iter()
        .filter(|t| t.code == openinsure_ledger::chart::TransferCode::PremiumRefund.code() && t.user_data_32 == 6)
        .map(|t| t.amount)
        .sum();
    assert_eq!(paid_out, refund.total().unwrap().cents() as u128);
    assert!(b.w.app.trial_balance(&b.finance).await.unwrap().is_balanced());
    // an installment voided cannot be paid
    let e = b.w.app.record_installment_payment(&b.finance, p.id, 3, Uuid::from_u128(0xd3)).await.unwrap_err();
    assert!(matches!(e, Error::Rule { code: "installment_voided", .. }), "{e:?}");

    let r = b.w.app.reinstate_policy(uw, p.id).await.unwrap();
    let statuses: Vec<_> = r.billing.installments.iter().map(|i| i.status).collect();
    assert_eq!(statuses, vec![Paid, Paid, Due, Due]);
    let billed_again: i64 = r.billing.installments[2..].iter().map(|i| i.premium.cents()).sum();
    let before: i64 = p.billing.installments[2..].iter().map(|i| i.premium.cents()).sum();
    assert_eq!(billed_again, before + refund.premium.cents(), "the refund is billed again");
    reconciles(&r);
    assert_eq!(usage(&b, &r).await, written, "usage restored");
}

#[tokio::test]
async fn a_refund_the_payables_no_longer_hold_is_refused_and_changes_nothing() {
    let b = bound_quarterly().await;
    let p = &b.policy;
    // the carrier's whole payable went to the loss fund
    let carrier = balance(&b, AccountType::CarrierPayable).await;
    b.w.app.fund_loss_fund(&b.finance, Money::from_cents(carrier as i64), Uuid::from_u128(0xf0)).await.unwrap();
    let u = usage(&b, p).await;
    let e =
        b.w.app
            .cancel_policy(&b.o.underwriter, p.id, date(2027, 1, 1), CancellationMethod::Flat, "not taken up")
            .await
            .unwrap_err();
    match &e {
        Error::Rule { code: "refund_not_covered", message } => {
            assert!(message.contains("CARRIER_PAYABLE"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(b.w.app.policy(&b.o.underwriter, p.id).await.unwrap(), *p, "nothing changed");
    assert_eq!(usage(&b, p).await, u);
}

fn endorsement(date: NaiveDate, changes: serde_json::Value) -> Endorsement {
    common::typed(
        &serde_json::json!({ "effectiveDate": date.to_string(), "description": "mid-term change", "changes": changes }),
    )
}

fn flags(r: &Result<Policy, Error>) -> Vec<String> {
    match r {
        Err(Error::Checks { flags }) => flags.iter().map(|f| f.code.to_string()).collect(),
        other => panic!("expected failed checks, got {other:?}"),
    }
}

#[tokio::test]
async fn a_rated_endorsement_bills_the_remaining_installments_and_moves_the_usage() {
    let b = bound_quarterly().await;
    let p = &b.policy;
    let uw = &b.o.underwriter;
    let written = p.written_premium().unwrap();
    // revenue from $4.5M to $6M: the changed risk is rated on the policy's own table
    let e =
        b.w.app
            .endorse_policy(
                uw,
                p.id,
                &endorsement(date(2027, 7, 2), serde_json::json!({ "annualRevenueCents": 600_000_000 })),
            )
            .await
            .unwrap();
    let seg = &e.segments[1];
    let ws = seg.worksheet.as_ref().unwrap();
    assert_eq!(ws.rate_table, b.w.app.get_quote(uw, p.quote_id).await.unwrap().rating.rate_table);
    assert_eq!(ws.annual_premium_before, p.annual_premium);
    assert!(ws.annual_premium_after > ws.annual_premium_before, "{ws:?}");
    assert_eq!((ws.days_remaining, ws.days_in_term), (183, 365));
    // the change pro-rated by actual days, half-even, exactly
    let change = i128::from((ws.annual_premium_after.cents() - ws.annual_premium_before.cents()) as i64) * 183;
    let expected = openinsure_core::money::Rounding::HalfEven.div_round(change, 365) as i64;
    assert_eq!(seg.premium.cents(), expected);
    assert_eq!(e.risk_changes.annual_revenue, Some(Money::from_cents(600_000_000)));
    // billed over installments 3 and 4, the remainder cent first
    let added: Vec<i64> =
        (2..4).map(|k| e.billing.installments[k].premium.cents() - p.billing.installments[k].premium.cents()).collect();
    assert_eq!(added.iter().sum::<i64>(), expected);
    assert!(added[0] >= added[1] && added[0] - added[1] <= 1, "{added:?}");
    reconciles(&e);
    assert_eq!(usage(&b, &e).await, written.checked_add(seg.premium).unwrap(), "usage moved by the change");

    // a second endorsement builds on the first: revenue back down returns premium
    let back =
        b.w.app
            .endorse_policy(
                uw,
                p.id,
                &endorsement(date(2027, 10, 1), serde_json::json!({ "annualRevenueCents": 450_000_000 })),
            )
            .await
            .unwrap();
    let ws2 = back.segments[2].worksheet.as_ref().unwrap();
    assert_eq!(ws2.annual_premium_before, ws.annual_premium_after);
    assert_eq!(ws2.annual_premium_after, ws.annual_premium_before, "the same risk rates the same");
    assert!(back.segments[2].premium.is_negative());
    reconciles(&back);
}

#[tokio::test]
async fn an_endorsed_risk_passes_the_checks_of_new_business() {
    let b = bound_quarterly().await;
    let p = &b.policy;
    let uw = &b.o.underwriter;
    let d = date(2027, 3, 1);
    // beyond the DA agreement's occurrence cap ($2M): refused with the agreement's flag
    let r =
        b.w.app
            .endorse_policy(
                uw,
                p.id,
                &endorsement(
                    d,
                    serde_json::json!({ "occurrenceLimitCents": 300_000_000, "aggregateLimitCents": 400_000_000 }),
                ),
            )
            .await;
    assert!(flags(&r).contains(&"da_occurrence_limit_exceeded".to_owned()), "{r:?}");
    // within the agreement but beyond a level 1 underwriter's $1M: referred, a referral raised
    let two_million =
        endorsement(d, serde_json::json!({ "occurrenceLimitCents": 200_000_000, "aggregateLimitCents": 400_000_000 }));
    let r = b.w.app.endorse_policy(uw, p.id, &two_million).await;
    assert!(flags(&r).contains(&"referral_required".to_owned()), "{r:?}");
    assert_eq!(b.w.app.policy(uw, p.id).await.unwrap(), *p, "refusals change nothing");
    assert_eq!(usage(&b, p).await, p.written_premium().unwrap());
    // the senior underwriter has the authority
    let e = b.w.app.endorse_policy(&b.o.senior, p.id, &two_million).await.unwrap();
    assert_eq!(e.occurrence_limit.cents(), 200_000_000);
    assert!(e.segments[1].premium.cents() > 0, "a higher limit costs more");
    reconciles(&e);
}

#[tokio::test]
async fn bad_endorsements_are_refused_and_change_nothing() {
    let b = bound_quarterly().await;
    let p = &b.policy;
    let uw = &b.o.underwriter;
    let d = date(2027, 7, 2);
    let invalid = |r: Result<Policy, Error>, field: &str| match r {
        Err(Error::Invalid(f)) => assert!(f.iter().any(|e| e.path == field), "{f:?}"),
        other => panic!("expected `{field}` refused, got {other:?}"),
    };
    invalid(b.w.app.endorse_policy(uw, p.id, &endorsement(d, serde_json::json!({}))).await, "changes");
    invalid(
        b.w.app.endorse_policy(uw, p.id, &endorsement(d, serde_json::json!({ "deductibleCents": -1 }))).await,
        "changes.deductibleCents",
    );
    invalid(
        b.w.app.endorse_policy(uw, p.id, &endorsement(d, serde_json::json!({ "deductibleCents": 100_000_000 }))).await,
        "changes.deductibleCents",
    );
    let more = serde_json::json!({ "employeeCount": 40 });
    let r = b.w.app.endorse_policy(uw, p.id, &endorsement(date(2028, 1, 1), more.clone())).await;
    assert!(matches!(r, Err(Error::Rule { code: "date_outside_period", .. })), "{r:?}");
    assert_eq!(b.w.app.policy(uw, p.id).await.unwrap(), *p);
    b.w.app.endorse_policy(uw, p.id, &endorsement(d, more.clone())).await.unwrap();
    let r = b.w.app.endorse_policy(uw, p.id, &endorsement(date(2027, 7, 1), more.clone())).await;
    assert!(matches!(r, Err(Error::Rule { code: "endorsement_before_last", .. })), "{r:?}");
    b.w.app.cancel_policy(uw, p.id, date(2027, 8, 1), CancellationMethod::ProRata, "x").await.unwrap();
    let r = b.w.app.endorse_policy(uw, p.id, &endorsement(date(2027, 9, 1), more)).await;
    assert!(matches!(r, Err(Error::Rule { code: "invalid_transition", .. })), "{r:?}");
    // another org's policy is not found
    let stranger = common::org(&b.w, 2).await;
    let r =
        b.w.app
            .endorse_policy(&stranger.underwriter, p.id, &endorsement(d, serde_json::json!({ "employeeCount": 41 })))
            .await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
}
