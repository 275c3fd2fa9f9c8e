//! Settlements: carriers and producers paid out of the payables, with statements, once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use common::{acme, org, world};
use openinsure::Error;
use openinsure::bind::BindRequest;
use openinsure::settlements::{Party, SettlementRequest};
use openinsure_core::billing::BillingPlan;
use openinsure_core::money::Money;
use openinsure_core::quote::Schedule;
use openinsure_core::tenancy::Role;
use openinsure_ledger::chart::AccountType;
use uuid::Uuid;

fn carrier() -> Party {
    Party::Carrier { carrier_id: "0192f0c0-0000-7000-8000-0000000000ca".parse().unwrap() }
}

#[tokio::test]
async fn carriers_and_producers_are_paid_what_their_policies_owe_once_per_period() {
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
    w.app.record_installment_payment(&finance, p.id, 2, Uuid::from_u128(0xd2)).await.unwrap();
    let balance = |ty| {
        let app = w.app.clone();
        async move {
            let a = app.account_balance(&finance, ty).await.unwrap();
            a.credits_posted as i128 - a.debits_posted as i128
        }
    };
    let owed = balance(AccountType::CarrierPayable).await;
    assert!(owed > 0);

    let s = w.app.settlement_statement(&finance, carrier()).await.unwrap();
    assert_eq!(s.lines.len(), 1);
    assert_eq!((s.lines[0].policy_id, s.lines[0].policy_number.clone()), (p.id, p.number.clone()));
    assert_eq!(i128::from(s.total.cents()), owed);
    assert!(!s.paid);

    let request = SettlementRequest { party: carrier(), period: "2027-03".into() };
    let paid = w.app.settle(&finance, &request).await.unwrap();
    assert!(paid.paid);
    assert_eq!((paid.total, paid.lines.clone()), (s.total, s.lines.clone()));
    assert_eq!(balance(AccountType::CarrierPayable).await, 0, "the carrier is paid everything it was owed");
    assert_eq!(balance(AccountType::Disbursements).await, owed, "paid out");
    // asked again: the same settlement, nothing more paid
    let again = w.app.settle(&finance, &request).await.unwrap();
    assert_eq!((again.id, again.total, again.lines.len()), (paid.id, paid.total, 1));
    assert_eq!(balance(AccountType::CarrierPayable).await, 0);
    // a later period with nothing outstanding
    let next = SettlementRequest { party: carrier(), period: "2027-04".into() };
    assert!(matches!(w.app.settle(&finance, &next).await, Err(Error::Rule { code: "nothing_to_settle", .. })));

    // the producer: their commission
    let producer = Party::Producer { user_id: o.producer.user_id };
    let commission = balance(AccountType::ProducerPayable).await;
    let s = w.app.settle(&finance, &SettlementRequest { party: producer, period: "2027-03".into() }).await.unwrap();
    assert_eq!(i128::from(s.total.cents()), commission);
    assert_eq!(balance(AccountType::ProducerPayable).await, 0);
    assert!(w.app.trial_balance(&finance).await.unwrap().is_balanced());

    // the next installment owes the carrier again, and only that
    let before = balance(AccountType::CarrierPayable).await;
    w.app.record_installment_payment(&finance, p.id, 3, Uuid::from_u128(0xd3)).await.unwrap();
    let s = w.app.settlement_statement(&finance, carrier()).await.unwrap();
    assert_eq!(i128::from(s.total.cents()), balance(AccountType::CarrierPayable).await - before);
}

#[tokio::test]
async fn bad_settlements_are_refused_and_pay_nothing() {
    let w = world();
    let o = org(&w, 1).await;
    let finance = common::caller(1, 7, Role::FinanceAnalyst);
    let sub = w.app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let req = BindRequest { down_payment_id: Some(Uuid::from_u128(0xd0)), ..BindRequest::default() };
    w.app.bind(&o.underwriter, q.id, &req).await.unwrap();
    for period in ["2027-13", "2027-3", "March", "2027-03-01"] {
        let r = w.app.settle(&finance, &SettlementRequest { party: carrier(), period: period.into() }).await;
        assert!(matches!(&r, Err(Error::Invalid(f)) if f.iter().any(|e| e.path == "period")), "{period}: {r:?}");
    }
    let request = SettlementRequest { party: carrier(), period: "2027-03".into() };
    assert!(matches!(w.app.settle(&o.producer, &request).await, Err(Error::Forbidden(_))));
    // another org has no policy with this carrier: not found, as any other org's record
    let stranger = common::caller(2, 7, Role::FinanceAnalyst);
    assert!(matches!(w.app.settle(&stranger, &request).await, Err(Error::NotFound { .. })));
    assert!(matches!(w.app.settlement_statement(&stranger, carrier()).await, Err(Error::NotFound { .. })));
    // beyond the balance: the carrier payable went to the loss fund
    let a = w.app.account_balance(&finance, AccountType::CarrierPayable).await.unwrap();
    let held = (a.credits_posted - a.debits_posted) as i64;
    w.app.fund_loss_fund(&finance, Money::from_cents(held), Uuid::from_u128(0xf0)).await.unwrap();
    let r = w.app.settle(&finance, &request).await;
    assert!(matches!(&r, Err(Error::Rule { code: "settlement_exceeds_balance", .. })), "{r:?}");
    let after = w.app.account_balance(&finance, AccountType::CarrierPayable).await.unwrap();
    assert_eq!(after.debits_posted, a.debits_posted + held as u128, "only the loss funding moved it");
}
