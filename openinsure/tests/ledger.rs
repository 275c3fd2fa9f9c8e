//! Premium payments booked on the ledger through the outbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use common::{acme, org, world};
use openinsure::Error;
use openinsure::bind::BindRequest;
use openinsure::dispatch::{DispatchReport, Dispatcher};
use openinsure::ledger::LedgerSubscriber;
use openinsure_core::billing::{BillingPlan, InstallmentStatus};
use openinsure_core::quote::Schedule;
use openinsure_core::tenancy::Role;
use openinsure_ledger::backend::{BackendError, LedgerBackend};
use openinsure_ledger::chart::AccountType;
use openinsure_ledger::model::{
    Account, AccountBalance, AccountFilter, CreateAccountError, CreateTransferError, Failure, QueryFilter, Transfer,
};
use openinsure_memory::MemoryLedger;
use uuid::Uuid;

/// A ledger that is down for the first `outages` transfer batches.
struct Flaky {
    inner: MemoryLedger,
    outages: AtomicUsize,
}

#[async_trait]
impl LedgerBackend for Flaky {
    async fn create_accounts(&self, a: &[Account]) -> Result<Vec<Failure<CreateAccountError>>, BackendError> {
        self.inner.create_accounts(a).await
    }
    async fn create_transfers(&self, t: &[Transfer]) -> Result<Vec<Failure<CreateTransferError>>, BackendError> {
        if self.outages.load(Ordering::SeqCst) > 0 {
            self.outages.fetch_sub(1, Ordering::SeqCst);
            return Err(BackendError("connection reset".into()));
        }
        self.inner.create_transfers(t).await
    }
    async fn lookup_accounts(&self, ids: &[u128]) -> Result<Vec<Account>, BackendError> {
        self.inner.lookup_accounts(ids).await
    }
    async fn lookup_transfers(&self, ids: &[u128]) -> Result<Vec<Transfer>, BackendError> {
        self.inner.lookup_transfers(ids).await
    }
    async fn get_account_transfers(&self, f: AccountFilter) -> Result<Vec<Transfer>, BackendError> {
        self.inner.get_account_transfers(f).await
    }
    async fn get_account_balances(&self, f: AccountFilter) -> Result<Vec<AccountBalance>, BackendError> {
        self.inner.get_account_balances(f).await
    }
    async fn query_transfers(&self, f: QueryFilter) -> Result<Vec<Transfer>, BackendError> {
        self.inner.query_transfers(f).await
    }
}

#[tokio::test]
async fn down_payment_and_installment_are_booked_once() {
    let w = world();
    let ledger = w.ledger.clone();
    let app = w.app.clone();
    let o = org(&w, 1).await;
    let finance = common::caller(1, 7, Role::FinanceAnalyst);
    let sub = app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let down = Uuid::from_u128(0xd0);
    let req =
        BindRequest { billing_plan: BillingPlan::Quarterly, down_payment_id: Some(down), ..BindRequest::default() };
    let p = app.bind(&o.underwriter, q.id, &req).await.unwrap();
    assert_eq!(p.billing.installments[0].status, InstallmentStatus::Paid);

    let d = Dispatcher::new(app.backend().clone()).subscribe(Arc::new(LedgerSubscriber::new(Arc::new(ledger.clone()))));
    let report = d.run_once().await.unwrap();
    assert_eq!(report.failed, 0);
    let tb = app.trial_balance(&finance).await.unwrap();
    assert!(tb.is_balanced());
    let first = &p.billing.installments[0];
    let fid = app.account_balance(&finance, AccountType::MgaFiduciary).await.unwrap();
    assert_eq!(fid.credits_posted, first.total.cents() as u128);
    assert_eq!(fid.debits_posted, fid.credits_posted, "the fiduciary account passes everything on");
    let producer = app.account_balance(&finance, AccountType::ProducerPayable).await.unwrap();
    assert_eq!(
        producer.credits_posted,
        first.premium.mul_factor(p.commission_rate, openinsure_core::Rounding::HalfEven).unwrap().cents() as u128
    );

    // the second installment, twice: posted once
    let second = Uuid::from_u128(0xd1);
    app.record_installment_payment(&finance, p.id, 2, second).await.unwrap();
    app.record_installment_payment(&finance, p.id, 2, second).await.unwrap();
    assert!(app.record_installment_payment(&finance, p.id, 2, Uuid::from_u128(0xd2)).await.is_err(), "paid already");
    assert!(
        app.record_installment_payment(&finance, p.id, 9, Uuid::from_u128(0xd3)).await.is_err(),
        "no installment 9"
    );
    assert!(
        matches!(
            app.record_installment_payment(&o.producer, p.id, 3, Uuid::from_u128(0xd4)).await,
            Err(Error::Forbidden(_))
        ),
        "producers do not record payments"
    );
    assert_eq!(d.run_once().await.unwrap(), DispatchReport { delivered: 1, failed: 0 });
    let fid = app.account_balance(&finance, AccountType::MgaFiduciary).await.unwrap();
    let paid: i64 = p.billing.installments[..2].iter().map(|i| i.total.cents()).sum();
    assert_eq!(fid.credits_posted, paid as u128);
    let journal = app.journal(&finance, 100).await.unwrap();
    assert!(journal.iter().all(|e| e.amount_cents > 0));
    assert_eq!(app.policy_transfers(&finance, p.id).await.unwrap().len(), journal.len());
    assert!(app.trial_balance(&finance).await.unwrap().is_balanced());
}

#[tokio::test]
async fn a_failed_ledger_write_is_retried_from_the_outbox() {
    let w = world();
    let inner = MemoryLedger::new();
    // three outages: the bind's own booking of its down payment, then two runs of the outbox
    let flaky = Arc::new(Flaky { inner: inner.clone(), outages: AtomicUsize::new(3) });
    let app = w.with(|p| p.ledger = flaky.clone());
    let o = org(&w, 1).await;
    let finance = common::caller(1, 7, Role::FinanceAnalyst);
    let sub = app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let req = BindRequest { down_payment_id: Some(Uuid::from_u128(0xd0)), ..BindRequest::default() };
    app.bind(&o.underwriter, q.id, &req).await.unwrap();
    assert_eq!(app.journal(&finance, 100).await.unwrap().len(), 0, "the bind could not book: nothing posted");
    let d = Dispatcher::new(app.backend().clone()).subscribe(Arc::new(LedgerSubscriber::new(flaky)));
    assert_eq!(
        d.run_once().await.unwrap(),
        DispatchReport { delivered: 1, failed: 1 },
        "policy.bound books, the payment fails"
    );
    assert_eq!(d.run_once().await.unwrap(), DispatchReport { delivered: 0, failed: 1 }, "still down");
    assert_eq!(app.journal(&finance, 100).await.unwrap().len(), 0, "nothing half-posted");
    assert_eq!(d.run_once().await.unwrap(), DispatchReport { delivered: 1, failed: 0 });
    assert_eq!(d.run_once().await.unwrap(), DispatchReport::default());
    let posted = app.journal(&finance, 100).await.unwrap().len();
    assert!(posted >= 4, "{posted}");
    // a redelivery of the same event (at-least-once) posts nothing more
    let ev = app.backend().org_events(o.admin.org_id, openinsure_core::store::Page::first()).await.unwrap();
    let paid = ev.iter().find(|e| e.event.name() == "payment.received").unwrap();
    LedgerSubscriber::new(Arc::new(inner)).book(paid).await.unwrap();
    assert_eq!(app.journal(&finance, 100).await.unwrap().len(), posted);
}

#[tokio::test]
async fn ledger_reads_are_scoped_and_guarded() {
    let w = world();
    let ledger = w.ledger.clone();
    let app = w.app.clone();
    let a = org(&w, 1).await;
    org(&w, 2).await;
    let sub = app.submit(&a.producer, &common::typed(&acme())).await.unwrap();
    let q = app.quote(&a.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let p = app
        .bind(
            &a.underwriter,
            q.id,
            &BindRequest { down_payment_id: Some(Uuid::from_u128(9)), ..BindRequest::default() },
        )
        .await
        .unwrap();
    Dispatcher::new(app.backend().clone())
        .subscribe(Arc::new(LedgerSubscriber::new(Arc::new(ledger))))
        .run_once()
        .await
        .unwrap();
    let finance_b = common::caller(2, 7, Role::FinanceAnalyst);
    assert!(matches!(app.policy_transfers(&finance_b, p.id).await, Err(Error::NotFound { .. })));
    assert_eq!(app.trial_balance(&finance_b).await.unwrap().total_debits_cents, 0);
    assert!(app.journal(&finance_b, 100).await.unwrap().is_empty());
    assert!(matches!(app.trial_balance(&a.producer).await, Err(Error::Forbidden(_))));
}
