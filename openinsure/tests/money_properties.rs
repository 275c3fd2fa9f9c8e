//! The invariant that proves money after bind: random sequences of the policy's life and the
//! money around it, on the in-memory backend, checked after every step.
//!
//! Operations: installment payments, rated endorsements up and down, cancellations of each kind,
//! reinstatements, ticks of the clock (activation, non-payment, expiry, renewal offers), renewals,
//! claims (reserve, pay, recover), loss funding and settlements. After each one:
//! - per policy: billed installments not voided less refunds equal the written premium net of
//!   returns (premium), and the written taxes net of returns plus the fees (fees and taxes);
//! - the trial balance balances, and every account's balance equals the sum of its business
//!   causes, recomputed from the event history and the test's own record of what it funded and
//!   settled;
//! - each DA agreement year's usage equals the net written premium of its policies;
//! - per claim: paid, recovered and reserved equal the ledger's figures;
//! - the bordereaux of every month so far add up to the ledger's premium movements.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use common::{acme, org, world};
use openinsure::bind::BindRequest;
use openinsure::claims::RequestMeta;
use openinsure::settlements::{Party, SettlementRequest};
use openinsure_core::billing::BillingPlan;
use openinsure_core::claims::{ClaimMoneyKind, ClaimStatus};
use openinsure_core::clock::Clock;
use openinsure_core::events::DomainEvent;
use openinsure_core::money::Money;
use openinsure_core::policy::tick::TickRules;
use openinsure_core::policy::{CancellationMethod, Policy};
use openinsure_core::quote::Schedule;
use openinsure_core::store::Page;
use openinsure_core::tenancy::Role;
use openinsure_ledger::chart::AccountType;
use openinsure_ledger::ops::{SplitTerms, premium_shares};
use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

#[derive(Clone, Debug)]
enum Op {
    Pay,
    Endorse { revenue_millions: i64, day: i64 },
    Cancel { method: CancellationMethod, day: i64 },
    Reinstate,
    Tick { days: i64 },
    Renew,
    Reserve { cents: i64 },
    PayClaim { cents: i64 },
    Recover { cents: i64 },
    Fund { cents: i64 },
    Settle { producer: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Pay),
        3 => (2i64..9, 0i64..360).prop_map(|(revenue_millions, day)| Op::Endorse { revenue_millions, day }),
        2 => (prop::sample::select(vec![CancellationMethod::ProRata, CancellationMethod::ShortRate, CancellationMethod::Flat]), 0i64..360)
            .prop_map(|(method, day)| Op::Cancel { method, day }),
        2 => Just(Op::Reinstate),
        3 => (1i64..120).prop_map(|days| Op::Tick { days }),
        1 => Just(Op::Renew),
        2 => (1i64..500_000).prop_map(|cents| Op::Reserve { cents }),
        2 => (1i64..300_000).prop_map(|cents| Op::PayClaim { cents }),
        1 => (1i64..50_000).prop_map(|cents| Op::Recover { cents }),
        2 => (1i64..400_000).prop_map(|cents| Op::Fund { cents }),
        2 => any::<bool>().prop_map(|producer| Op::Settle { producer }),
    ]
}

/// What the test itself moved, the causes the event history does not hold.
#[derive(Default)]
struct Causes {
    funded: i64,
    settled_carrier: i64,
    settled_producer: i64,
}

struct Run {
    w: common::World,
    o: common::Org,
    finance: openinsure_core::tenancy::Caller,
    adjuster: openinsure_core::tenancy::Caller,
    policy: Policy,
    claim: openinsure_core::ids::ClaimId,
    causes: Causes,
    step: u32,
}

fn meta() -> RequestMeta {
    RequestMeta { ip: None, user_agent: None }
}

async fn setup(plan: BillingPlan, sqlite: Option<&std::path::Path>) -> Run {
    let w = match sqlite {
        None => world(),
        Some(dir) => {
            let url = format!("sqlite://{}", dir.join("openinsure.db").display());
            let store = openinsure_sql::SqlStore::connect(&url).await.unwrap();
            store.migrate().await.unwrap();
            common::world_on(std::sync::Arc::new(store))
        }
    };
    let o = org(&w, 1).await;
    // next year's agreement, so renewals can be written
    let mut next = common::agreement_json();
    next["name"] = "Main Street GL 2027-28".into();
    next["effectiveDate"] = "2027-07-01".into();
    next["expirationDate"] = "2028-07-01".into();
    w.app.create_agreement(&o.admin, common::typed(&next)).await.unwrap();
    let finance = common::caller(1, 7, Role::FinanceAnalyst);
    let sub = w.app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = w.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let req =
        BindRequest { billing_plan: plan, down_payment_id: Some(Uuid::from_u128(0xd0)), ..BindRequest::default() };
    let policy = w.app.bind(&o.underwriter, q.id, &req).await.unwrap();
    // a claim on it, open, with an adjuster
    w.clock.set(chrono::DateTime::parse_from_rfc3339("2027-01-10T10:00:00Z").unwrap().to_utc());
    let adjuster = common::caller(1, 21, Role::Adjuster);
    let supervisor = common::caller(1, 20, Role::ClaimsSupervisor);
    let notice = json!({ "policyId": policy.id, "dateOfLoss": "2027-01-05", "lossDescription": "a fall", "claimantName": "Jane Roe" });
    let claim = w.app.file_claim(&o.producer, common::typed(&notice), &meta()).await.unwrap();
    w.app.assign_claim(&supervisor, claim.id, adjuster.user_id, &meta()).await.unwrap();
    w.app.transition_claim(&adjuster, claim.id, ClaimStatus::Open, &meta()).await.unwrap();
    Run { w, o, finance, adjuster, policy, claim: claim.id, causes: Causes::default(), step: 0 }
}

impl Run {
    fn today(&self) -> NaiveDate {
        self.w.clock.now().date_naive()
    }

    /// Runs one operation; a refusal is fine (and must change nothing, which the invariants see).
    async fn apply(&mut self, op: &Op) {
        self.step += 1;
        let app = &self.w.app;
        let uw = &self.o.senior;
        let id = self.policy.id;
        let p = app.policy(uw, id).await.unwrap();
        let on = |day: i64| p.effective_date + Duration::days(day);
        match op {
            Op::Pay => {
                if let Some(i) = p.billing.next_due() {
                    let key = Uuid::from_u128(0x1000 + u128::from(self.step));
                    let _ = app.record_installment_payment(&self.finance, id, i.number, key).await;
                }
            }
            Op::Endorse { revenue_millions, day } => {
                let e: openinsure::policies::Endorsement = common::typed(&json!({
                    "effectiveDate": on(*day).to_string(), "description": "revenue",
                    "changes": { "annualRevenueCents": revenue_millions * 100_000_000 }
                }));
                let _ = app.endorse_policy(uw, id, &e).await;
            }
            Op::Cancel { method, day } => {
                let _ = app.cancel_policy(uw, id, on(*day), *method, "test").await;
            }
            Op::Reinstate => {
                let _ = app.reinstate_policy(uw, id).await;
            }
            Op::Tick { days } => {
                self.w.clock.advance(Duration::days(*days));
                app.tick_now(&TickRules::default()).await.unwrap();
            }
            Op::Renew => {
                let _ = app.renew_policy(uw, id, BillingPlan::Quarterly).await;
            }
            Op::Reserve { cents } => {
                let _ = app
                    .set_claim_reserve(&self.adjuster, self.claim, Money::from_cents(*cents), "estimate", &meta())
                    .await;
                let _ = app.transition_claim(&self.adjuster, self.claim, ClaimStatus::Reserved, &meta()).await;
            }
            Op::PayClaim { cents } => {
                let key = Uuid::from_u128(0x2000 + u128::from(self.step));
                let _ = app.pay_claim(&self.adjuster, self.claim, Money::from_cents(*cents), key, &meta()).await;
            }
            Op::Recover { cents } => {
                let key = Uuid::from_u128(0x3000 + u128::from(self.step));
                let kind = ClaimMoneyKind::Subrogation;
                let _ = app
                    .recover_on_claim(&self.adjuster, self.claim, kind, Money::from_cents(*cents), key, &meta())
                    .await;
            }
            Op::Fund { cents } => {
                let key = Uuid::from_u128(0x4000 + u128::from(self.step));
                if app.fund_loss_fund(&self.finance, Money::from_cents(*cents), key).await.is_ok() {
                    self.causes.funded += cents;
                }
            }
            Op::Settle { producer } => {
                let party = if *producer {
                    Party::Producer { user_id: self.o.producer.user_id }
                } else {
                    Party::Carrier { carrier_id: "0192f0c0-0000-7000-8000-0000000000ca".parse().unwrap() }
                };
                let period = format!("{}-{:02}", 2000 + self.step / 12, self.step % 12 + 1);
                if let Ok(s) = app.settle(&self.finance, &SettlementRequest { party, period }).await
                    && s.paid
                {
                    if *producer {
                        self.causes.settled_producer += s.total.cents();
                    } else {
                        self.causes.settled_carrier += s.total.cents();
                    }
                }
            }
        }
    }

    async fn balance(&self, ty: AccountType) -> i64 {
        match self.w.app.account_balance(&self.finance, ty).await {
            Ok(a) => a.credits_posted as i64 - a.debits_posted as i64,
            Err(_) => 0,
        }
    }

    async fn check(&self) {
        let app = &self.w.app;
        let org = self.o.admin.org_id;
        let policies = self.w.app.backend().list_policies(org, Page::first()).await.unwrap();
        // per policy: what is billed and refunded follows what is written
        for p in &policies {
            let (refunded, refunded_taxes) = p.billing.refunded().unwrap();
            let returned =
                p.cancellation.as_ref().map_or((0, 0), |c| (c.return_premium.cents(), c.return_taxes.cents()));
            assert_eq!(
                p.billing.billed_premium().unwrap().cents() - refunded.cents(),
                p.written_premium().unwrap().cents() - returned.0,
                "premium of {}",
                p.number
            );
            assert_eq!(
                p.billing.billed_fees_and_taxes().unwrap().cents() - refunded_taxes.cents(),
                p.written_taxes().unwrap().cents() - returned.1 + p.fees.cents(),
                "fees and taxes of {}",
                p.number
            );
            for i in &p.billing.installments {
                assert_eq!(
                    i.total,
                    i.premium.checked_add(i.fees_and_taxes).unwrap().checked_add(i.installment_fee).unwrap()
                );
            }
        }
        // the books balance, and every balance is explained by its causes
        assert!(app.trial_balance(&self.finance).await.unwrap().is_balanced());
        let store = self.w.app.backend();
        let events = store.org_events(org, Page::new(200, 0)).await.unwrap();
        let mut all = events.clone();
        let mut offset = 200;
        while all.len() as u32 == offset {
            all.extend(store.org_events(org, Page::new(200, offset)).await.unwrap());
            offset += 200;
        }
        let (mut carrier, mut producer, mut mga, mut taxes, mut paid, mut recovered, mut reserves) =
            (0i64, 0i64, 0i64, 0i64, 0i64, 0i64, 0i64);
        for e in &all {
            match &e.event {
                DomainEvent::PaymentReceived {
                    premium,
                    policy_fees,
                    taxes: t,
                    installment_fee,
                    producer_commission_rate,
                    mga_commission_rate,
                    ..
                } => {
                    let terms = SplitTerms {
                        producer_commission_rate: *producer_commission_rate,
                        mga_commission_rate: *mga_commission_rate,
                    };
                    let (pc, mc, cc) = premium_shares(*premium, terms).unwrap();
                    carrier += cc.cents();
                    producer += pc.cents();
                    mga += mc.cents() + policy_fees.cents() + installment_fee.cents();
                    taxes += t.cents();
                }
                DomainEvent::PremiumRefunded {
                    premium,
                    taxes: t,
                    producer_commission_rate,
                    mga_commission_rate,
                    ..
                } => {
                    let terms = SplitTerms {
                        producer_commission_rate: *producer_commission_rate,
                        mga_commission_rate: *mga_commission_rate,
                    };
                    let (pc, mc, cc) = premium_shares(*premium, terms).unwrap();
                    carrier -= cc.cents();
                    producer -= pc.cents();
                    mga -= mc.cents();
                    taxes -= t.cents();
                }
                DomainEvent::ClaimTransaction { money, .. } => match money.kind {
                    ClaimMoneyKind::Payment => {
                        paid += money.amount.cents();
                        reserves -= money.reserve_takedown.cents();
                    }
                    ClaimMoneyKind::ReserveAdjustment => reserves += money.amount.cents(),
                    _ => recovered += money.amount.cents(),
                },
                _ => {}
            }
        }
        let c = &self.causes;
        assert_eq!(
            self.balance(AccountType::CarrierPayable).await,
            carrier - c.settled_carrier - c.funded,
            "carrier payable"
        );
        assert_eq!(self.balance(AccountType::ProducerPayable).await, producer - c.settled_producer, "producer payable");
        assert_eq!(self.balance(AccountType::MgaRevenue).await, mga, "MGA revenue");
        assert_eq!(self.balance(AccountType::TaxAuthorityPayable).await, taxes, "tax payable");
        assert_eq!(self.balance(AccountType::LossFund).await, c.funded - paid + recovered, "loss fund");
        assert_eq!(self.balance(AccountType::ClaimsPaid).await, paid, "claims paid");
        assert_eq!(self.balance(AccountType::Reserves).await, reserves, "reserves");
        assert_eq!(self.balance(AccountType::MgaFiduciary).await, 0, "the fiduciary account passes everything on");
        // per claim: the claim and the ledger agree
        let claim = app.claim(&self.adjuster, self.claim, &meta()).await.unwrap();
        assert_eq!((claim.paid.cents(), claim.recovered.cents(), claim.reserve.cents()), (paid, recovered, reserves));
        // DA usage per agreement year is the net written premium of its policies
        let mut by_agreement: BTreeMap<_, i64> = BTreeMap::new();
        for p in &policies {
            *by_agreement.entry(p.da_agreement_id.unwrap()).or_default() += p.net_written_premium().unwrap().cents();
        }
        for (agreement, net) in by_agreement {
            let usage = app.agreement_usage(&self.o.admin, agreement, 1).await.unwrap();
            assert_eq!(usage.written_premium.cents(), net, "usage of {agreement}");
        }
        // the bordereaux of every month so far add up to the ledger's premium movements
        let (mut net_to_carrier, mut first) = (0i64, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        let (mut agreements, mut months) = (Vec::new(), Vec::new());
        for p in &policies {
            if !agreements.contains(&p.da_agreement_id.unwrap()) {
                agreements.push(p.da_agreement_id.unwrap());
            }
        }
        while first <= self.today() {
            months.push(format!("{:04}-{:02}", first.year(), first.month()));
            first = first.checked_add_months(chrono::Months::new(1)).unwrap();
        }
        for a in &agreements {
            for m in &months {
                net_to_carrier += app.bordereau(&self.finance, *a, m).await.unwrap().totals.net_to_carrier.cents();
            }
        }
        assert_eq!(net_to_carrier, carrier, "the bordereaux' net to the carrier is the ledger's");
    }
}

async fn play(plan: BillingPlan, ops: &[Op], sqlite: Option<&std::path::Path>) {
    let mut run = setup(plan, sqlite).await;
    run.check().await;
    for op in ops {
        run.apply(op).await;
        run.check().await;
    }
}

fn plans() -> impl Strategy<Value = BillingPlan> {
    prop::sample::select(vec![BillingPlan::PaidInFull, BillingPlan::Quarterly, BillingPlan::TenPay])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn money_after_bind_always_reconciles(plan in plans(), ops in prop::collection::vec(op(), 1..30)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(play(plan, &ops, None));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    /// The same on the embedded default, SQLite: the store's atomic steps hold the same money.
    #[test]
    fn money_after_bind_always_reconciles_on_sqlite(plan in plans(), ops in prop::collection::vec(op(), 1..20)) {
        let dir = std::env::temp_dir().join(format!("openinsure-money-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(play(plan, &ops, Some(&dir)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
