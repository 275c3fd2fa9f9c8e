//! Money ids: every payment-like id is an idempotency key for its money. The same id with the same
//! content replays; with other content (another installment, amount, claim, kind or bind) it is
//! refused with the id named, before anything is written; ids are unique per org across kinds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use std::sync::Arc;

use common::{World, acme, caller, org, world};
use openinsure::App;
use openinsure::Error;
use openinsure::bind::BindRequest;
use openinsure::claims::RequestMeta;
use openinsure::dispatch::{DispatchReport, Dispatcher};
use openinsure::ledger::LedgerSubscriber;
use openinsure_core::billing::{BillingPlan, InstallmentStatus};
use openinsure_core::claims::{ClaimMoneyKind, ClaimStatus};
use openinsure_core::ids::ClaimId;
use openinsure_core::money::Money;
use openinsure_core::money_id::MoneyUse;
use openinsure_core::policy::Policy;
use openinsure_core::quote::Schedule;
use openinsure_core::store::{Outbox, Page};
use openinsure_core::tenancy::{Caller, Role};
use openinsure_ledger::chart::{AccountType, TransferCode};
use openinsure_memory::MemoryLedger;
use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

fn meta() -> RequestMeta {
    RequestMeta::default()
}

struct Setup {
    insureds: std::sync::atomic::AtomicU32,
    w: World,
    app: App,
    ledger: MemoryLedger,
    finance: Caller,
    adjuster: Caller,
    dispatcher: Dispatcher,
}

fn setup() -> Setup {
    let w = world();
    let ledger = w.ledger.clone();
    let app = w.app.clone();
    let dispatcher =
        Dispatcher::new(app.backend().clone()).subscribe(Arc::new(LedgerSubscriber::new(Arc::new(ledger.clone()))));
    Setup {
        insureds: std::sync::atomic::AtomicU32::new(0),
        w,
        app,
        ledger,
        finance: caller(1, 24, Role::FinanceAnalyst),
        adjuster: caller(1, 21, Role::Adjuster),
        dispatcher,
    }
}

impl Setup {
    /// A submission of a new insured (the agreement allows one policy per insured).
    fn submission(&self) -> serde_json::Value {
        let n = self.insureds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut s = acme();
        s["insuredName"] = json!(format!("Acme Manufacturing {n}"));
        s["fein"] = json!(format!("31-{:07}", 1_234_567 + n));
        s
    }

    async fn bind(&self, o: &common::Org, down: Option<Uuid>) -> Result<Policy, Error> {
        let sub = self.app.submit(&o.producer, &common::typed(&self.submission())).await.unwrap();
        let q = self.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
        let req = BindRequest { billing_plan: BillingPlan::Quarterly, down_payment_id: down, ..BindRequest::default() };
        self.app.bind(&o.underwriter, q.id, &req).await
    }

    /// Delivers every pending event; no event may fail.
    async fn deliver(&self) {
        loop {
            let report = self.dispatcher.run_once().await.unwrap();
            assert_eq!(report.failed, 0, "an event failed to book: {report:?}");
            if report == DispatchReport::default() {
                break;
            }
        }
    }

    /// A claim on `policy`, assigned to the adjuster, reserved and payable.
    async fn claim(&self, o: &common::Org, policy: &Policy) -> ClaimId {
        let supervisor = caller(1, 20, Role::ClaimsSupervisor);
        let notice = json!({
            "policyId": policy.id,
            "dateOfLoss": "2027-02-14",
            "lossDescription": "slip and fall",
            "claimantName": "Jane Roe"
        });
        let c = self.app.file_claim(&o.producer, common::typed(&notice), &meta()).await.unwrap();
        self.app.assign_claim(&supervisor, c.id, self.adjuster.user_id, &meta()).await.unwrap();
        self.app.transition_claim(&self.adjuster, c.id, ClaimStatus::Open, &meta()).await.unwrap();
        self.app
            .set_claim_reserve(&self.adjuster, c.id, Money::from_cents(500_000), "estimate", &meta())
            .await
            .unwrap();
        self.app.transition_claim(&self.adjuster, c.id, ClaimStatus::Reserved, &meta()).await.unwrap();
        c.id
    }

    async fn balance(&self, ty: AccountType) -> (u128, u128) {
        match self.app.account_balance(&self.finance, ty).await {
            Ok(a) => (a.debits_posted, a.credits_posted),
            Err(_) => (0, 0),
        }
    }

    async fn outbox_len(&self, o: &common::Org) -> usize {
        self.w.store.org_events(o.admin.org_id, Page::first()).await.unwrap().len()
    }
}

fn reused(result: Result<impl std::fmt::Debug, Error>, id: Uuid) -> MoneyUse {
    match result {
        Err(Error::MoneyIdReused { id: named, first_use }) => {
            assert_eq!(named, id, "the refusal names the id");
            first_use
        }
        other => panic!("expected the reuse of `{id}` to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn an_installment_payment_id_reused_on_another_installment_is_refused() {
    let s = setup();
    let o = org(&s.w, 1).await;
    let p = s.bind(&o, None).await.unwrap();
    let pay = Uuid::from_u128(0x51);
    s.app.record_installment_payment(&s.finance, p.id, 2, pay).await.unwrap();
    let events = s.outbox_len(&o).await;

    let first = reused(s.app.record_installment_payment(&s.finance, p.id, 3, pay).await, pay);
    assert_eq!(first, MoneyUse::InstallmentPayment { policy_id: p.id, installment_number: 2 });
    let stored = s.app.policy(&o.admin, p.id).await.unwrap();
    assert_eq!(stored.billing.installments[2].status, InstallmentStatus::Due, "installment 3 is untouched");
    assert_eq!(s.outbox_len(&o).await, events, "no event was written");

    // the same id for the same installment is a replay
    let again = s.app.record_installment_payment(&s.finance, p.id, 2, pay).await.unwrap();
    assert_eq!(again.revision, stored.revision, "a replay writes nothing");

    // another policy's installment: refused too
    let q = s.bind(&o, None).await.unwrap();
    reused(s.app.record_installment_payment(&s.finance, q.id, 2, pay).await, pay);

    s.deliver().await;
    let receipts = s.app.policy_transfers(&s.finance, p.id).await.unwrap();
    let received: u128 = receipts
        .iter()
        .filter(|t| t.code == TransferCode::PremiumPayment.code() && t.user_data_32 == 0)
        .map(|t| t.amount)
        .sum();
    assert_eq!(received, p.billing.installments[1].total.cents() as u128, "one receipt, of installment 2");
}

#[tokio::test]
async fn one_down_payment_id_on_two_binds_is_refused() {
    let s = setup();
    let o = org(&s.w, 1).await;
    let down = Uuid::from_u128(0xd0);
    let p = s.bind(&o, Some(down)).await.unwrap();
    let events = s.outbox_len(&o).await;

    let sub = s.app.submit(&o.producer, &common::typed(&s.submission())).await.unwrap();
    let q = s.app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let req =
        BindRequest { billing_plan: BillingPlan::Quarterly, down_payment_id: Some(down), ..BindRequest::default() };
    let first = reused(s.app.bind(&o.underwriter, q.id, &req).await, down);
    assert_eq!(first, MoneyUse::DownPayment { quote_id: p.quote_id });
    assert_eq!(
        s.app.submission(&o.producer, sub.id).await.unwrap().status,
        openinsure_core::submission::SubmissionStatus::Quoted,
        "the second submission is not bound"
    );
    assert_eq!(s.outbox_len(&o).await, events, "no event was written");

    // binding the first quote again with its own down payment is a replay; with another, a conflict
    let again =
        BindRequest { billing_plan: BillingPlan::Quarterly, down_payment_id: Some(down), ..BindRequest::default() };
    assert_eq!(s.app.bind(&o.underwriter, p.quote_id, &again).await.unwrap().id, p.id);
    let another = BindRequest { down_payment_id: Some(Uuid::from_u128(0xd1)), ..again };
    let other = s.app.bind(&o.underwriter, p.quote_id, &another);
    assert!(matches!(other.await, Err(Error::Conflict(_))));

    // the down payment's id cannot pay another installment either
    reused(s.app.record_installment_payment(&s.finance, p.id, 2, down).await, down);
    s.deliver().await;
}

#[tokio::test]
async fn claim_payment_and_recovery_ids_are_money_ids() {
    let s = setup();
    s.w.clock.set(chrono::DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z").unwrap().to_utc());
    let o = org(&s.w, 1).await;
    let p = s.bind(&o, Some(Uuid::from_u128(0xd0))).await.unwrap();
    s.deliver().await;
    let c = s.claim(&o, &p).await;
    let (debits, credits) = s.balance(AccountType::CarrierPayable).await;
    let fund = Money::from_cents(i64::try_from(credits - debits).unwrap());
    s.app.fund_loss_fund(&s.finance, fund, Uuid::from_u128(0xf0)).await.unwrap();

    let pay = Uuid::from_u128(0xa1);
    s.app.pay_claim(&s.adjuster, c, Money::from_cents(10_000), pay, &meta()).await.unwrap();
    let paid = s.app.pay_claim(&s.adjuster, c, Money::from_cents(10_000), pay, &meta()).await.unwrap();
    assert_eq!(paid.paid, Money::from_cents(10_000), "the replay pays nothing");
    let first = reused(s.app.pay_claim(&s.adjuster, c, Money::from_cents(20_000), pay, &meta()).await, pay);
    assert_eq!(first, MoneyUse::ClaimPayment { claim_id: c, amount: Money::from_cents(10_000) });

    let rec = Uuid::from_u128(0xa2);
    let kind = ClaimMoneyKind::Subrogation;
    s.app.recover_on_claim(&s.adjuster, c, kind, Money::from_cents(3_000), rec, &meta()).await.unwrap();
    s.app.recover_on_claim(&s.adjuster, c, kind, Money::from_cents(3_000), rec, &meta()).await.unwrap();
    reused(
        s.app.recover_on_claim(&s.adjuster, c, ClaimMoneyKind::Salvage, Money::from_cents(4_000), rec, &meta()).await,
        rec,
    );
    reused(s.app.recover_on_claim(&s.adjuster, c, kind, Money::from_cents(3_000), pay, &meta()).await, pay);
    reused(s.app.pay_claim(&s.adjuster, c, Money::from_cents(3_000), rec, &meta()).await, rec);
    // across kinds: a loss-fund key or a premium payment may not reuse a claim's id, nor the reverse
    reused(s.app.fund_loss_fund(&s.finance, Money::from_cents(1), pay).await, pay);
    reused(s.app.record_installment_payment(&s.finance, p.id, 2, rec).await, rec);
    reused(
        s.app.pay_claim(&s.adjuster, c, Money::from_cents(1), Uuid::from_u128(0xf0), &meta()).await,
        Uuid::from_u128(0xf0),
    );
    // a loss-fund key with another amount
    reused(s.app.fund_loss_fund(&s.finance, Money::from_cents(1), Uuid::from_u128(0xf0)).await, Uuid::from_u128(0xf0));

    let claim = s.app.claim(&s.adjuster, c, &meta()).await.unwrap();
    assert_eq!((claim.paid, claim.recovered), (Money::from_cents(10_000), Money::from_cents(3_000)));
    s.deliver().await;
    assert_eq!(s.balance(AccountType::ClaimsPaid).await.1, 10_000);
    let fund_balance = s.balance(AccountType::LossFund).await;
    assert_eq!(fund_balance.1 - fund_balance.0, fund.cents() as u128 - 10_000 + 3_000);

    // another org may use the same ids for its own money
    let o2 = org(&s.w, 2).await;
    let p2 = s.bind(&o2, Some(pay)).await.unwrap();
    assert_eq!(p2.billing.installments[0].payment_id, Some(pay));
    let _ = s.ledger;
}

/// What a step of the property test does; ids come from a pool of four, so reuse is frequent.
#[derive(Clone, Debug)]
enum Step {
    Installment { policy: usize, number: u32, id: u8 },
    ClaimPayment { amount: i64, id: u8 },
    Recovery { salvage: bool, amount: i64, id: u8 },
    Fund { amount: i64, id: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..2, 1u32..5, 0u8..4).prop_map(|(policy, number, id)| Step::Installment { policy, number, id }),
        (1i64..5_000, 0u8..4).prop_map(|(amount, id)| Step::ClaimPayment { amount, id }),
        (any::<bool>(), 1i64..5_000, 0u8..4).prop_map(|(salvage, amount, id)| Step::Recovery { salvage, amount, id }),
        (1i64..50_000, 0u8..4).prop_map(|(amount, id)| Step::Fund { amount, id }),
    ]
}

fn pool(id: u8) -> Uuid {
    Uuid::from_u128(0x1000 + u128::from(id))
}

async fn run_steps(steps: Vec<Step>) {
    let s = setup();
    s.w.clock.set(chrono::DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z").unwrap().to_utc());
    let o = org(&s.w, 1).await;
    // two policies, the second's down payment id drawn from the pool too
    let policies = [s.bind(&o, Some(Uuid::from_u128(0xd0))).await.unwrap(), s.bind(&o, Some(pool(0))).await.unwrap()];
    s.deliver().await;
    let c = s.claim(&o, &policies[0]).await;
    // the loss fund holds what the carrier is owed, so claim payments are covered
    let (debits, credits) = s.balance(AccountType::CarrierPayable).await;
    let fund = Money::from_cents(i64::try_from(credits - debits).unwrap());
    s.app.fund_loss_fund(&s.finance, fund, Uuid::from_u128(0xf0)).await.unwrap();
    for step in steps {
        let outcome = match step {
            Step::Installment { policy, number, id } => {
                s.app.record_installment_payment(&s.finance, policies[policy].id, number, pool(id)).await.map(|_| ())
            }
            Step::ClaimPayment { amount, id } => {
                s.app.pay_claim(&s.adjuster, c, Money::from_cents(amount), pool(id), &meta()).await.map(|_| ())
            }
            Step::Recovery { salvage, amount, id } => {
                let kind = if salvage { ClaimMoneyKind::Salvage } else { ClaimMoneyKind::Subrogation };
                s.app
                    .recover_on_claim(&s.adjuster, c, kind, Money::from_cents(amount), pool(id), &meta())
                    .await
                    .map(|_| ())
            }
            Step::Fund { amount, id } => s.app.fund_loss_fund(&s.finance, Money::from_cents(amount), pool(id)).await,
        };
        // a refusal is fine (reuse, already paid, not enough money); what matters is agreement
        let _ = outcome;
        s.deliver().await;
    }
    // every installment paid in the records has exactly its receipt in the ledger, and no more
    for p in &policies {
        let stored = s.app.policy(&o.admin, p.id).await.unwrap();
        let paid: i64 = stored
            .billing
            .installments
            .iter()
            .filter(|i| i.status == InstallmentStatus::Paid)
            .map(|i| i.total.cents())
            .sum();
        let transfers = s.app.policy_transfers(&s.finance, p.id).await.unwrap();
        let received: u128 = transfers
            .iter()
            .filter(|t| t.code == TransferCode::PremiumPayment.code() && t.user_data_32 == 0)
            .map(|t| t.amount)
            .sum();
        assert_eq!(received, paid as u128, "policy {}: records and ledger agree", p.number);
    }
    let claim = s.app.claim(&s.adjuster, c, &meta()).await.unwrap();
    assert_eq!(s.balance(AccountType::ClaimsPaid).await.1, claim.paid.cents() as u128, "claim payments agree");
    let recovered = s.balance(AccountType::RecoveriesReceivable).await.0;
    assert_eq!(recovered, claim.recovered.cents() as u128, "recoveries agree");
    assert!(s.app.trial_balance(&s.finance).await.unwrap().is_balanced());
    assert!(
        s.w.store.pending_events(chrono::DateTime::<chrono::Utc>::MAX_UTC, 100).await.unwrap().is_empty(),
        "nothing is stuck in the outbox"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn no_sequence_of_reused_ids_makes_records_and_ledger_disagree(steps in prop::collection::vec(step(), 1..24)) {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run_steps(steps));
    }
}
