//! The ledger, wired to the platform: premium payments and claims book double entries on a
//! [`LedgerBackend`] through the outbox, and the books are read back per org.
//!
//! Use cases write a `payment.received` event in the same atomic step as the business change
//! (the installment marked paid). [`LedgerSubscriber`] turns each such event into its linked
//! chain of transfers. The dispatcher delivers at least once and transfer ids derive from the
//! payment id, so a failed ledger write is retried from the outbox and a retry never posts twice.

use std::sync::Arc;

use async_trait::async_trait;
use openinsure_core::billing::adjust::Refund;
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::{OrgId, PolicyId};
use openinsure_core::money::Money;
use openinsure_core::money_id::MoneyUse;
use openinsure_core::permission::Action;
use openinsure_core::policy::Policy;
use openinsure_core::tenancy::Caller;
use openinsure_ledger::chart::{AccountType, account_id, chart_of_accounts};
use openinsure_ledger::model::{
    Account, AccountFilter, CreateAccountError, CreateTransferError, QueryFilter, Transfer,
};
use openinsure_ledger::ops::{
    PremiumAllocation, PremiumPayment, PremiumRefund, SplitTerms, refund_premium, split_premium_payment,
};
use openinsure_ledger::reports::{JournalEntry, TrialBalance, journal, trial_balance};
use openinsure_ledger::{LedgerBackend, LedgerError};
use uuid::Uuid;

use crate::app::{App, require};
use crate::dispatch::Subscriber;
use crate::error::{Error, Result};

impl From<LedgerError> for Error {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Invalid { field, reason } => {
                let mut f = openinsure_core::FieldErrors::default();
                f.push(field, reason);
                Error::Invalid(f)
            }
            other => Error::Rule { code: "ledger_rejected", message: other.to_string() },
        }
    }
}

/// The `payment.received` event of installment `number` of a policy paid by `payment_id`.
pub fn payment_received(policy: &Policy, number: u32, payment_id: Uuid) -> Result<DomainEvent> {
    let installment = policy.billing.installments.iter().find(|i| i.number == number).ok_or_else(|| {
        let mut f = openinsure_core::FieldErrors::default();
        f.push("installmentNumber", format!("policy `{}` has no installment {number}", policy.number));
        Error::Invalid(f)
    })?;
    let a = PremiumAllocation::for_installment(policy, installment)?;
    Ok(DomainEvent::PaymentReceived {
        payment_id,
        policy_id: policy.id,
        installment_number: number,
        premium: a.premium,
        policy_fees: a.policy_fees,
        taxes: a.taxes,
        installment_fee: a.installment_fee,
        producer_commission_rate: policy.commission_rate,
        mga_commission_rate: policy.mga_commission_rate,
    })
}

/// The `premium.refunded` event of a refund of a policy.
pub fn premium_refunded(policy: &Policy, refund: &Refund) -> DomainEvent {
    DomainEvent::PremiumRefunded {
        refund_id: refund.id,
        policy_id: policy.id,
        premium: refund.premium,
        taxes: refund.taxes,
        producer_commission_rate: policy.commission_rate,
        mga_commission_rate: policy.mga_commission_rate,
    }
}

fn refund_transfers(
    org: OrgId,
    policy_id: PolicyId,
    refund_id: Uuid,
    premium: Money,
    taxes: Money,
    terms: SplitTerms,
) -> Result<Vec<Transfer>> {
    Ok(refund_premium(&PremiumRefund { org, refund_id, policy_id, premium, taxes, terms })?)
}

/// Refuses a refund the ledger could not book: every account it takes money from (the carrier's
/// and the producer's payables, the MGA's revenue, the tax payable) must still hold its part.
/// The error names each account short and what it holds; nothing is changed.
pub async fn check_refund_covered(
    ledger: &dyn LedgerBackend,
    org: OrgId,
    policy: &Policy,
    refund: &Refund,
) -> Result<()> {
    let terms = SplitTerms {
        producer_commission_rate: policy.commission_rate,
        mga_commission_rate: policy.mga_commission_rate,
    };
    let transfers = refund_transfers(org, policy.id, refund.id, refund.premium, refund.taxes, terms)?;
    // what the chain takes out of each account, net of what it puts in
    let mut net: std::collections::BTreeMap<u128, i128> = std::collections::BTreeMap::new();
    for t in &transfers {
        *net.entry(t.debit_account_id).or_default() += t.amount as i128;
        *net.entry(t.credit_account_id).or_default() -= t.amount as i128;
    }
    let needed: Vec<(u128, u128)> =
        net.into_iter().filter(|(_, n)| *n > 0).map(|(id, n)| (id, n.unsigned_abs())).collect();
    open_books(ledger, org).await?;
    let ids: Vec<u128> = needed.iter().map(|(id, _)| *id).collect();
    let accounts = ledger.lookup_accounts(&ids).await.map_err(|e| Error::Backend(e.to_string()))?;
    let mut short = Vec::new();
    for (id, amount) in needed {
        let headroom = accounts.iter().find(|a| a.id == id).map_or(0, Account::debit_headroom);
        if amount > headroom {
            let name = AccountType::ALL.iter().find(|t| account_id(org, **t) == id).map_or("account", |t| t.name());
            short.push(format!("{name} needs {} and holds {}", cents(amount), cents(headroom)));
        }
    }
    if short.is_empty() {
        return Ok(());
    }
    Err(Error::Rule {
        code: "refund_not_covered",
        message: format!(
            "the refund of {} to the insured cannot be booked: {} (paid out already); nothing was changed",
            refund.total().unwrap_or(refund.premium),
            short.join(", ")
        ),
    })
}

fn cents(amount: u128) -> Money {
    Money::from_cents(i64::try_from(amount).unwrap_or(i64::MAX))
}

/// Creates an org's chart of accounts; accounts that exist are fine.
pub async fn open_books(ledger: &dyn LedgerBackend, org: OrgId) -> Result<()> {
    let failures = ledger.create_accounts(&chart_of_accounts(org)).await.map_err(|e| Error::Backend(e.to_string()))?;
    match failures.iter().find(|f| f.error != CreateAccountError::Exists) {
        None => Ok(()),
        Some(f) => Err(Error::Backend(format!("could not open account {}: {}", f.index, f.error))),
    }
}

/// Posts one linked chain; a chain that was already posted (a retry) is success.
pub async fn post_chain(ledger: &dyn LedgerBackend, transfers: &[Transfer]) -> Result<()> {
    let failures = ledger.create_transfers(transfers).await.map_err(|e| Error::Backend(e.to_string()))?;
    if failures.is_empty() {
        return Ok(());
    }
    let retry = failures
        .iter()
        .all(|f| matches!(f.error, CreateTransferError::Exists | CreateTransferError::LinkedEventFailed));
    if retry {
        let ids: Vec<u128> = transfers.iter().map(|t| t.id).collect();
        if ledger.lookup_transfers(&ids).await.map_err(|e| Error::Backend(e.to_string()))?.len() == ids.len() {
            return Ok(());
        }
    }
    let first = failures.iter().find(|f| f.error != CreateTransferError::LinkedEventFailed).unwrap_or(&failures[0]);
    Err(Error::Rule { code: "ledger_rejected", message: format!("leg {} refused: {}", first.index, first.error) })
}

/// The idempotency key of delivery generation `generation` of a business key: the key itself
/// first, then a key derived from it per replay (TigerBeetle remembers a failed transfer id, so a
/// replayed event needs new ids).
pub fn generation_key(key: Uuid, generation: u32) -> Uuid {
    if generation == 0 { key } else { Uuid::new_v5(&key, format!("generation/{generation}").as_bytes()) }
}

/// Posts generation `generation` of a chain built by `build` from its key, unless an earlier
/// generation was posted (a chain posts whole or not at all, so its first transfer tells):
/// exactly once on the ledger however many times the event is replayed.
async fn post_generation(
    ledger: &dyn LedgerBackend,
    key: Uuid,
    generation: u32,
    build: impl Fn(Uuid) -> Result<Vec<Transfer>>,
) -> Result<()> {
    for earlier in 0..generation {
        let chain = build(generation_key(key, earlier))?;
        if let Some(first) = chain.first()
            && !ledger.lookup_transfers(&[first.id]).await.map_err(|e| Error::Backend(e.to_string()))?.is_empty()
        {
            return Ok(());
        }
    }
    post_chain(ledger, &build(generation_key(key, generation))?).await
}

/// Books domain events on a ledger: opens an org's books when it binds, splits every premium
/// payment received.
#[derive(Clone)]
pub struct LedgerSubscriber {
    ledger: Arc<dyn LedgerBackend>,
}

impl LedgerSubscriber {
    /// A subscriber booking on `ledger`.
    pub fn new(ledger: Arc<dyn LedgerBackend>) -> Self {
        LedgerSubscriber { ledger }
    }

    /// Books one event (idempotent).
    pub async fn book(&self, event: &EventEnvelope) -> Result<()> {
        match &event.event {
            DomainEvent::PolicyBound { .. } => open_books(self.ledger.as_ref(), event.org_id).await,
            DomainEvent::PaymentReceived {
                payment_id,
                policy_id,
                premium,
                policy_fees,
                taxes,
                installment_fee,
                producer_commission_rate,
                mga_commission_rate,
                ..
            } => {
                open_books(self.ledger.as_ref(), event.org_id).await?;
                let build = |key| {
                    Ok(split_premium_payment(&PremiumPayment {
                        org: event.org_id,
                        payment_id: key,
                        policy_id: *policy_id,
                        allocation: PremiumAllocation {
                            premium: *premium,
                            policy_fees: *policy_fees,
                            taxes: *taxes,
                            installment_fee: *installment_fee,
                        },
                        terms: SplitTerms {
                            producer_commission_rate: *producer_commission_rate,
                            mga_commission_rate: *mga_commission_rate,
                        },
                    })?)
                };
                post_generation(self.ledger.as_ref(), *payment_id, event.delivery.generation, build).await
            }
            DomainEvent::PremiumRefunded {
                refund_id,
                policy_id,
                premium,
                taxes,
                producer_commission_rate,
                mga_commission_rate,
            } => {
                open_books(self.ledger.as_ref(), event.org_id).await?;
                let terms = SplitTerms {
                    producer_commission_rate: *producer_commission_rate,
                    mga_commission_rate: *mga_commission_rate,
                };
                let build = |key| refund_transfers(event.org_id, *policy_id, key, *premium, *taxes, terms);
                post_generation(self.ledger.as_ref(), *refund_id, event.delivery.generation, build).await
            }
            DomainEvent::ClaimTransaction { claim_id, money } => {
                use openinsure_core::claims::ClaimMoneyKind as K;
                use openinsure_ledger::ops::{ClaimTransaction, ClaimTransactionKind as L, claim_transaction};
                open_books(self.ledger.as_ref(), event.org_id).await?;
                let kind = match money.kind {
                    K::Payment => L::Payment { amount: money.amount, reserve_takedown: money.reserve_takedown },
                    K::Subrogation | K::Salvage => L::Recovery { amount: money.amount },
                    K::ReinsuranceRecovery => L::ReinsuranceRecovery { amount: money.amount },
                    K::ReserveAdjustment => L::ReserveAdjustment { change: money.amount },
                };
                let build = |key| {
                    Ok(claim_transaction(&ClaimTransaction {
                        org: event.org_id,
                        transaction_id: key,
                        claim_id: claim_id.as_uuid(),
                        kind,
                    })?)
                };
                post_generation(self.ledger.as_ref(), money.transaction_id, event.delivery.generation, build).await
            }
            _ => Ok(()),
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Subscriber for LedgerSubscriber {
    fn name(&self) -> &str {
        "ledger"
    }

    async fn handle(&self, event: &EventEnvelope) -> Result<()> {
        self.book(event).await
    }
}

impl App {
    /// The ledger backend.
    pub fn ledger(&self) -> &Arc<dyn LedgerBackend> {
        &self.ledger
    }

    fn books(&self) -> &dyn LedgerBackend {
        self.ledger.as_ref()
    }

    /// Records payment `payment_id` of installment `number`: the installment is marked paid and
    /// the `payment.received` event written in one atomic step. `payment_id` is a money id (see
    /// [`openinsure_core::money_id`]): a retry with the same id for the same installment changes
    /// nothing and returns the policy; the same id for anything else is refused.
    pub async fn record_installment_payment(
        &self,
        caller: &Caller,
        policy: PolicyId,
        number: u32,
        payment_id: Uuid,
    ) -> Result<Policy> {
        require(caller, Action::MoveMoney)?;
        let mut p = self.store.get_policy(caller.org_id, policy).await?;
        if !p.billing.installments.iter().any(|i| i.number == number) {
            let mut f = openinsure_core::FieldErrors::default();
            f.push("installmentNumber", format!("policy `{}` has no installment {number}", p.number));
            return Err(Error::Invalid(f));
        }
        let money = MoneyUse::InstallmentPayment { policy_id: policy, installment_number: number };
        self.store.register_money_id(caller.org_id, payment_id, &money).await?;
        if !p.billing.record_payment(number, payment_id)? {
            return Ok(p);
        }
        let event = payment_received(&p, number, payment_id)?;
        p.updated_at = self.clock.now();
        let envelope = EventEnvelope::new(self.ids.next_uuid(), caller.org_id, self.clock.now(), event);
        let stored = self.store.update_policy(caller.org_id, &p, None, std::slice::from_ref(&envelope)).await?;
        self.book_now(&envelope).await;
        Ok(stored)
    }

    /// Books an event stored with its business change on the ledger right away, so the books
    /// follow at once; if that fails the outbox books it later (transfer ids derive from the
    /// business key, so it is booked once either way).
    pub(crate) async fn book_now(&self, event: &EventEnvelope) {
        if let Err(error) = LedgerSubscriber::new(self.ledger.clone()).book(event).await {
            tracing::warn!(event_id = %event.id, event = event.event.name(), %error, "not booked yet; the outbox will retry");
        }
    }

    /// Moves `amount` from the carrier's payable into the loss fund, so claims can be paid.
    /// `key` is a money id (see [`openinsure_core::money_id`]): the same key with the same amount
    /// is a replay, with another amount it is refused.
    pub async fn fund_loss_fund(&self, caller: &Caller, amount: openinsure_core::Money, key: Uuid) -> Result<()> {
        require(caller, Action::MoveMoney)?;
        let books = self.books();
        let transfers = openinsure_ledger::ops::fund_losses(caller.org_id, key, amount)?;
        self.store.register_money_id(caller.org_id, key, &MoneyUse::LossFunding { amount }).await?;
        open_books(books, caller.org_id).await?;
        post_chain(books, &transfers).await
    }

    async fn org_accounts(&self, org: OrgId) -> Result<Vec<Account>> {
        let ids: Vec<u128> = chart_of_accounts(org).iter().map(|a| a.id).collect();
        self.books().lookup_accounts(&ids).await.map_err(|e| Error::Backend(e.to_string()))
    }

    /// The caller's org's trial balance.
    pub async fn trial_balance(&self, caller: &Caller) -> Result<TrialBalance> {
        require(caller, Action::ReadLedger)?;
        Ok(trial_balance(&self.org_accounts(caller.org_id).await?))
    }

    /// Every account of the caller's org that exists (none before its books are opened), in one
    /// lookup.
    pub async fn account_balances(&self, caller: &Caller) -> Result<Vec<Account>> {
        require(caller, Action::ReadLedger)?;
        self.org_accounts(caller.org_id).await
    }

    /// One account's balance (the whole account record) in the caller's org.
    pub async fn account_balance(&self, caller: &Caller, ty: AccountType) -> Result<Account> {
        require(caller, Action::ReadLedger)?;
        let id = account_id(caller.org_id, ty);
        let found = self.books().lookup_accounts(&[id]).await.map_err(|e| Error::Backend(e.to_string()))?;
        found.into_iter().next().ok_or_else(|| Error::NotFound { entity: "ledger account", id: ty.name().into() })
    }

    /// An account's transfers in the caller's org, oldest first.
    pub async fn account_transfers(&self, caller: &Caller, ty: AccountType, limit: u32) -> Result<Vec<Transfer>> {
        require(caller, Action::ReadLedger)?;
        let filter = AccountFilter::all(account_id(caller.org_id, ty), limit.clamp(1, 8189));
        self.books().get_account_transfers(filter).await.map_err(|e| Error::Backend(e.to_string()))
    }

    /// The journal of the caller's org: every transfer touching its accounts, oldest first.
    pub async fn journal(&self, caller: &Caller, limit: u32) -> Result<Vec<JournalEntry>> {
        require(caller, Action::ReadLedger)?;
        let accounts = self.org_accounts(caller.org_id).await?;
        let mut transfers: Vec<Transfer> = Vec::new();
        for a in &accounts {
            // every transfer has a debit side in the org: collecting debits finds each once
            let filter = AccountFilter { credits: false, ..AccountFilter::all(a.id, limit.clamp(1, 8189)) };
            transfers
                .extend(self.books().get_account_transfers(filter).await.map_err(|e| Error::Backend(e.to_string()))?);
        }
        transfers.sort_by_key(|t| t.timestamp);
        transfers.truncate(limit as usize);
        Ok(journal(&accounts, &transfers))
    }

    /// The transfers booked for a policy of the caller's org.
    pub async fn policy_transfers(&self, caller: &Caller, policy: PolicyId) -> Result<Vec<Transfer>> {
        require(caller, Action::ReadLedger)?;
        self.store.get_policy(caller.org_id, policy).await?;
        let filter = QueryFilter { user_data_128: policy.as_uuid().as_u128(), limit: 8189, ..QueryFilter::default() };
        let org_accounts: Vec<u128> = chart_of_accounts(caller.org_id).iter().map(|a| a.id).collect();
        let found = self.books().query_transfers(filter).await.map_err(|e| Error::Backend(e.to_string()))?;
        Ok(found.into_iter().filter(|t| org_accounts.contains(&t.debit_account_id)).collect())
    }
}
