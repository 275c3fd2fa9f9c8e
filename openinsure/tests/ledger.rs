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
    assert_eq!(d.run_once().await.unwrap(), DispatchReport { delivered: 1, failed: 0, dead: 0 });
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
    let d = Dispatcher::new(app.backend().clone())
        .subscribe(Arc::new(LedgerSubscriber::new(flaky)))
        .with_clock(w.clock.clone());
    assert_eq!(
        d.run_once().await.unwrap(),
        DispatchReport { delivered: 1, failed: 1, dead: 0 },
        "policy.bound books, the payment fails"
    );
    assert_eq!(d.run_once().await.unwrap(), DispatchReport::default(), "the failed one waits out its backoff");
    w.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(d.run_once().await.unwrap(), DispatchReport { delivered: 0, failed: 1, dead: 0 }, "still down");
    assert_eq!(app.journal(&finance, 100).await.unwrap().len(), 0, "nothing half-posted");
    w.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(d.run_once().await.unwrap(), DispatchReport::default(), "the second backoff is longer");
    w.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(d.run_once().await.unwrap(), DispatchReport { delivered: 1, failed: 0, dead: 0 });
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

/// A ledger that refuses every chain while `refusing` (as TigerBeetle refuses an overdraft) and,
/// like TigerBeetle 0.16, remembers every id it refused: resubmitting one fails with
/// `id_already_failed` even once the cause is gone.
struct Refusing {
    inner: MemoryLedger,
    refusing: std::sync::atomic::AtomicBool,
    failed: std::sync::Mutex<std::collections::HashSet<u128>>,
}

#[async_trait]
impl LedgerBackend for Refusing {
    async fn create_accounts(&self, a: &[Account]) -> Result<Vec<Failure<CreateAccountError>>, BackendError> {
        self.inner.create_accounts(a).await
    }
    async fn create_transfers(&self, t: &[Transfer]) -> Result<Vec<Failure<CreateTransferError>>, BackendError> {
        let refused = {
            let mut failed = self.failed.lock().unwrap();
            if self.refusing.load(Ordering::SeqCst) {
                failed.extend(t.iter().map(|x| x.id));
                let error = |i: usize| {
                    if i == 0 { CreateTransferError::ExceedsCredits } else { CreateTransferError::LinkedEventFailed }
                };
                Some((0..t.len()).map(|i| Failure { index: i, error: error(i) }).collect())
            } else {
                t.iter()
                    .position(|x| failed.contains(&x.id))
                    .map(|i| vec![Failure { index: i, error: CreateTransferError::IdAlreadyFailed }])
            }
        };
        match refused {
            Some(failures) => Ok(failures),
            None => self.inner.create_transfers(t).await,
        }
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
async fn a_refused_event_is_dead_after_bounded_tries_and_a_replay_books_it_exactly_once() {
    let w = world();
    let refusing = Arc::new(Refusing {
        inner: MemoryLedger::new(),
        refusing: std::sync::atomic::AtomicBool::new(true),
        failed: std::sync::Mutex::default(),
    });
    let app = w.with(|p| p.ledger = refusing.clone());
    let o = org(&w, 1).await;
    let finance = common::caller(1, 7, Role::FinanceAnalyst);
    let sub = app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
    let q = app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
    let req = BindRequest { down_payment_id: Some(Uuid::from_u128(0xd0)), ..BindRequest::default() };
    let p = app.bind(&o.underwriter, q.id, &req).await.unwrap();
    let d = Dispatcher::new(app.backend().clone())
        .subscribe(Arc::new(LedgerSubscriber::new(refusing.clone())))
        .with_clock(w.clock.clone());
    let mut tries = 0;
    let mut dead = 0;
    for _ in 0..20 {
        let r = d.run_once().await.unwrap();
        tries += r.failed;
        dead += r.dead;
        w.clock.advance(chrono::Duration::hours(1));
    }
    assert_eq!((tries, dead), (5, 1), "a refusal is tried five times, then dead, never looping");
    let letters = app.dead_letters(&finance, openinsure_core::store::Page::first()).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].event_type, "payment.received");
    assert!(letters[0].reason.contains("exceeds_credits"), "{}", letters[0].reason);

    // the cause is gone, but the refused ids are remembered: the replay books under new ids
    refusing.refusing.store(false, Ordering::SeqCst);
    assert_eq!(d.run_once().await.unwrap(), DispatchReport::default(), "a dead letter waits for a replay");
    let stranger = common::caller(2, 7, Role::FinanceAnalyst);
    assert!(matches!(app.replay_event(&stranger, letters[0].event_id).await, Err(Error::NotFound { .. })));
    assert!(matches!(app.replay_event(&o.producer, letters[0].event_id).await, Err(Error::Forbidden(_))));
    app.replay_event(&finance, letters[0].event_id).await.unwrap();
    let again = app.replay_event(&finance, letters[0].event_id).await;
    assert!(matches!(again, Err(Error::Rule { code: "event_not_dead", .. })), "{again:?}");
    assert_eq!(d.run_once().await.unwrap(), DispatchReport { delivered: 1, failed: 0, dead: 0 });
    let booked = app.policy_transfers(&finance, p.id).await.unwrap();
    let receipts = booked.iter().filter(|t| t.user_data_32 == 0).count();
    assert_eq!(receipts, 1, "booked once");
    let fid = app.account_balance(&finance, AccountType::MgaFiduciary).await.unwrap();
    assert_eq!(fid.credits_posted, p.billing.installments[0].total.cents() as u128);
    // a later generation of the same event books nothing more
    let events = app.backend().org_events(o.admin.org_id, openinsure_core::store::Page::first()).await.unwrap();
    let mut paid = events.into_iter().find(|e| e.event.name() == "payment.received").unwrap();
    paid.delivery.generation = 2;
    LedgerSubscriber::new(refusing.clone()).book(&paid).await.unwrap();
    assert_eq!(app.policy_transfers(&finance, p.id).await.unwrap().len(), booked.len());
    assert!(app.trial_balance(&finance).await.unwrap().is_balanced());
}
