//! Bordereaux: every transaction a row, the cash totals equal to the ledger's movements.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use chrono::NaiveDate;
use common::{acme, org, world};
use openinsure::Error;
use openinsure::bind::BindRequest;
use openinsure::claims::RequestMeta;
use openinsure_core::billing::BillingPlan;
use openinsure_core::claims::ClaimStatus;
use openinsure_core::money::Money;
use openinsure_core::policy::CancellationMethod;
use openinsure_core::quote::Schedule;
use openinsure_core::tenancy::Role;
use openinsure_ledger::chart::{AccountType, account_id};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_month_of_business_reconciles_with_the_ledger() {
    let w = world();
    let o = org(&w, 1).await;
    let finance = common::caller(1, 7, Role::FinanceAnalyst);
    let uw = &o.underwriter;
    let meta = RequestMeta { ip: None, user_agent: None };
    let sub = w.app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = w.app.quote(uw, sub.id, &Schedule::none()).await.unwrap();
    let req = BindRequest {
        billing_plan: BillingPlan::Quarterly,
        down_payment_id: Some(Uuid::from_u128(0xd0)),
        ..BindRequest::default()
    };
    let p = w.app.bind(uw, q.id, &req).await.unwrap();
    w.app.record_installment_payment(&finance, p.id, 2, Uuid::from_u128(0xd2)).await.unwrap();
    let change: openinsure::policies::Endorsement = common::typed(&json!({
        "effectiveDate": "2027-03-01", "description": "more revenue", "changes": { "annualRevenueCents": 550_000_000 }
    }));
    w.app.endorse_policy(uw, p.id, &change).await.unwrap();
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    w.app.cancel_policy(uw, p.id, d(2027, 5, 1), CancellationMethod::ProRata, "sold").await.unwrap();
    w.app.reinstate_policy(uw, p.id).await.unwrap();
    // a claim, reserved and paid
    let notice = json!({ "policyId": p.id, "dateOfLoss": "2026-11-01", "lossDescription": "a fall", "claimantName": "Jane Roe" });
    let adjuster = common::caller(1, 21, Role::Adjuster);
    let supervisor = common::caller(1, 20, Role::ClaimsSupervisor);
    let claim = w.app.file_claim(&o.producer, common::typed(&notice), &meta).await;
    // the loss date precedes the policy: the claim is refused, nothing about it is reported
    assert!(claim.is_err());
    let notice = json!({ "policyId": p.id, "dateOfLoss": "2027-01-15", "lossDescription": "a fall", "claimantName": "Jane Roe" });
    w.clock.set(chrono::DateTime::parse_from_rfc3339("2027-01-20T10:00:00Z").unwrap().to_utc());
    let claim = w.app.file_claim(&o.producer, common::typed(&notice), &meta).await.unwrap();
    w.app.assign_claim(&supervisor, claim.id, adjuster.user_id, &meta).await.unwrap();
    w.app.transition_claim(&adjuster, claim.id, ClaimStatus::Open, &meta).await.unwrap();
    w.app.set_claim_reserve(&adjuster, claim.id, Money::from_cents(300_000), "estimate", &meta).await.unwrap();
    w.app.transition_claim(&adjuster, claim.id, ClaimStatus::Reserved, &meta).await.unwrap();
    w.app.fund_loss_fund(&finance, Money::from_cents(200_000), Uuid::from_u128(0xf0)).await.unwrap();
    w.app.pay_claim(&adjuster, claim.id, Money::from_cents(120_000), Uuid::from_u128(0xa1), &meta).await.unwrap();

    let agreement = p.da_agreement_id.unwrap();
    let nov = w.app.bordereau(&finance, agreement, "2026-11").await.unwrap();
    let kinds: Vec<&str> = nov.risk.iter().map(|r| r.transaction.as_str()).collect();
    for kind in ["new_business", "premium_received", "endorsement", "cancellation", "premium_refunded", "reinstatement"]
    {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "premium_received").count(), 2);
    let now = w.app.policy(uw, p.id).await.unwrap();
    assert_eq!(
        nov.totals.written_premium,
        now.net_written_premium().unwrap(),
        "written rows sum to the written premium"
    );
    // the cash rows equal the ledger's movements of the same money, leg by leg
    let transfers = w.app.policy_transfers(&finance, p.id).await.unwrap();
    let org = o.admin.org_id;
    let moved = |ty: AccountType| -> i64 {
        let id = account_id(org, ty);
        transfers
            .iter()
            .map(|t| {
                let a = t.amount as i64;
                if t.credit_account_id == id {
                    a
                } else if t.debit_account_id == id {
                    -a
                } else {
                    0
                }
            })
            .sum()
    };
    assert_eq!(nov.totals.net_to_carrier.cents(), moved(AccountType::CarrierPayable));
    assert_eq!(nov.totals.producer_commission.cents(), moved(AccountType::ProducerPayable));
    assert_eq!(nov.totals.taxes_collected.cents(), moved(AccountType::TaxAuthorityPayable));
    assert!(nov.claims.is_empty(), "the claim came in January");
    let jan = w.app.bordereau(&finance, agreement, "2027-01").await.unwrap();
    assert!(jan.risk.is_empty());
    assert_eq!(jan.claims.len(), 2, "the reserve and the payment");
    assert_eq!(jan.totals.claims_paid, Money::from_cents(120_000));
    let paid = w.app.account_balance(&finance, AccountType::ClaimsPaid).await.unwrap();
    assert_eq!(jan.totals.claims_paid.cents() as u128, paid.credits_posted);
    assert_eq!(jan.totals.reserve_change, Money::from_cents(300_000 - 120_000));

    // CSV: a header and a line per row, amounts in dollars
    let csv = nov.risk_csv();
    assert_eq!(csv.lines().count(), nov.risk.len() + 1);
    assert!(csv.starts_with("Transaction Type,Certificate Reference,"));
    assert!(csv.contains(&p.number));
    assert!(!jan.claims_csv().contains("Jane Roe"), "no PHI in a bordereau");
    assert!(!serde_json::to_string(&jan).unwrap().contains("Jane Roe"));

    // bad input, and another org
    let r = w.app.bordereau(&finance, agreement, "2026-13").await;
    assert!(matches!(&r, Err(Error::Invalid(f)) if f.iter().any(|e| e.path == "month")), "{r:?}");
    let stranger = common::caller(2, 7, Role::FinanceAnalyst);
    assert!(matches!(w.app.bordereau(&stranger, agreement, "2026-11").await, Err(Error::NotFound { .. })));
    assert!(matches!(w.app.bordereau(&o.producer, agreement, "2026-11").await, Err(Error::Forbidden(_))));
}
