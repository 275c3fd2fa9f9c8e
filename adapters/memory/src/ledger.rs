//! An in-memory double-entry engine with TigerBeetle's semantics, for everything the platform
//! uses: linked chains are atomic, a repeated id answers `exists` (or `exists_with_different_*`),
//! `debits_must_not_exceed_credits` and its twin are enforced counting pending amounts, and
//! pending transfers post (partly) or void once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use openinsure_ledger::backend::{BackendError, LedgerBackend};
use openinsure_ledger::model::{
    Account, AccountBalance, AccountFilter, AccountFlags, CreateAccountError, CreateTransferError, Failure,
    QueryFilter, Transfer, TransferFlags,
};

#[derive(Debug, Default)]
struct State {
    accounts: HashMap<u128, Account>,
    transfers: HashMap<u128, Transfer>,
    /// Transfer ids in creation (timestamp) order.
    order: Vec<u128>,
    /// Per account (with history), the balance after each of its transfers, with that transfer's id.
    history: HashMap<u128, Vec<(u128, AccountBalance)>>,
    /// Pending transfer id -> posted or voided.
    resolved: HashMap<u128, Resolution>,
    clock: u64,
    /// What to undo if the current chain fails, newest last.
    undo: Vec<Undo>,
    /// Ids of transfers that failed for a reason that depends on the books (TigerBeetle remembers
    /// these, so the id can never succeed later).
    failed: std::collections::HashSet<u128>,
}

/// Failures TigerBeetle 0.16 remembers by id (`id_already_failed` on resubmission).
fn is_transient(e: &CreateTransferError) -> bool {
    matches!(
        e,
        CreateTransferError::DebitAccountNotFound
            | CreateTransferError::CreditAccountNotFound
            | CreateTransferError::PendingTransferNotFound
            | CreateTransferError::ExceedsCredits
            | CreateTransferError::ExceedsDebits
    )
}

/// One change of a chain in progress, and how to take it back.
#[derive(Debug, Clone)]
enum Undo {
    Account(u128, Option<Account>),
    History(u128),
    Transfer(u128),
    Resolved(u128),
    Clock(u64),
}

impl State {
    fn put_account(&mut self, a: Account) {
        let old = self.accounts.insert(a.id, a);
        self.undo.push(Undo::Account(a.id, old));
    }

    fn rollback(&mut self) {
        while let Some(u) = self.undo.pop() {
            match u {
                Undo::Account(id, Some(old)) => {
                    self.accounts.insert(id, old);
                }
                Undo::Account(id, None) => {
                    self.accounts.remove(&id);
                }
                Undo::History(id) => {
                    if let Some(h) = self.history.get_mut(&id) {
                        h.pop();
                    }
                }
                Undo::Transfer(id) => {
                    self.transfers.remove(&id);
                    self.order.pop();
                }
                Undo::Resolved(id) => {
                    self.resolved.remove(&id);
                }
                Undo::Clock(old) => self.clock = old,
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolution {
    Posted,
    Voided,
}

/// The in-memory ledger engine. Clones share the same books.
#[derive(Clone, Debug, Default)]
pub struct MemoryLedger {
    state: Arc<Mutex<State>>,
}

impl MemoryLedger {
    /// Empty books.
    pub fn new() -> Self {
        MemoryLedger::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn account_conflict(a: &Account, b: &Account) -> Option<&'static str> {
    if a.flags != b.flags {
        Some("flags")
    } else if a.user_data_128 != b.user_data_128 {
        Some("user_data_128")
    } else if a.user_data_64 != b.user_data_64 {
        Some("user_data_64")
    } else if a.user_data_32 != b.user_data_32 {
        Some("user_data_32")
    } else if a.ledger != b.ledger {
        Some("ledger")
    } else if a.code != b.code {
        Some("code")
    } else {
        None
    }
}

fn transfer_conflict(a: &Transfer, b: &Transfer) -> Option<&'static str> {
    if a.flags != b.flags {
        Some("flags")
    } else if a.debit_account_id != b.debit_account_id {
        Some("debit_account_id")
    } else if a.credit_account_id != b.credit_account_id {
        Some("credit_account_id")
    } else if a.amount != b.amount {
        Some("amount")
    } else if a.pending_id != b.pending_id {
        Some("pending_id")
    } else if a.user_data_128 != b.user_data_128 {
        Some("user_data_128")
    } else if a.user_data_64 != b.user_data_64 {
        Some("user_data_64")
    } else if a.user_data_32 != b.user_data_32 {
        Some("user_data_32")
    } else if a.timeout != b.timeout {
        Some("timeout")
    } else if a.ledger != b.ledger {
        Some("ledger")
    } else if a.code != b.code {
        Some("code")
    } else {
        None
    }
}

impl State {
    fn tick(&mut self) -> u64 {
        self.undo.push(Undo::Clock(self.clock));
        self.clock += 1;
        self.clock
    }

    fn create_account(&mut self, a: &Account) -> Result<(), CreateAccountError> {
        if a.id == 0 {
            return Err(CreateAccountError::IdMustNotBeZero);
        }
        if a.id == u128::MAX {
            return Err(CreateAccountError::IdMustNotBeIntMax);
        }
        if a.timestamp != 0 {
            return Err(CreateAccountError::TimestampMustBeZero);
        }
        let exclusive =
            AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS.union(AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS);
        if a.flags.contains(exclusive) {
            return Err(CreateAccountError::FlagsAreMutuallyExclusive);
        }
        if a.debits_pending != 0 || a.debits_posted != 0 || a.credits_pending != 0 || a.credits_posted != 0 {
            return Err(CreateAccountError::BalancesMustBeZero);
        }
        if a.ledger == 0 {
            return Err(CreateAccountError::LedgerMustNotBeZero);
        }
        if a.code == 0 {
            return Err(CreateAccountError::CodeMustNotBeZero);
        }
        if let Some(existing) = self.accounts.get(&a.id) {
            let incoming = Account { flags: a.flags.without(AccountFlags::LINKED), ..*a };
            let stored = Account { flags: existing.flags.without(AccountFlags::LINKED), ..*existing };
            return Err(match account_conflict(&stored, &incoming) {
                Some(field) => CreateAccountError::ExistsWithDifferent(field.into()),
                None => CreateAccountError::Exists,
            });
        }
        let timestamp = self.tick();
        self.put_account(Account { timestamp, ..*a });
        Ok(())
    }

    fn create_transfer(&mut self, t: &Transfer) -> Result<(), CreateTransferError> {
        use CreateTransferError as E;
        if t.id == 0 {
            return Err(E::IdMustNotBeZero);
        }
        if t.id == u128::MAX {
            return Err(E::IdMustNotBeIntMax);
        }
        if t.timestamp != 0 {
            return Err(E::TimestampMustBeZero);
        }
        if self.failed.contains(&t.id) {
            return Err(E::IdAlreadyFailed);
        }
        if let Some(existing) = self.transfers.get(&t.id) {
            let incoming = Transfer { flags: t.flags.without(TransferFlags::LINKED), timestamp: 0, ..*t };
            let stored = Transfer { flags: existing.flags.without(TransferFlags::LINKED), timestamp: 0, ..*existing };
            return Err(match transfer_conflict(&stored, &incoming) {
                Some(field) => E::ExistsWithDifferent(field.into()),
                None => E::Exists,
            });
        }
        let post = t.flags.contains(TransferFlags::POST_PENDING_TRANSFER);
        let void = t.flags.contains(TransferFlags::VOID_PENDING_TRANSFER);
        if post || void {
            return self.resolve_pending(t, post);
        }
        if t.debit_account_id == t.credit_account_id {
            return Err(E::AccountsMustBeDifferent);
        }
        if t.ledger == 0 {
            return Err(E::LedgerMustNotBeZero);
        }
        if t.code == 0 {
            return Err(E::CodeMustNotBeZero);
        }
        let debit = *self.accounts.get(&t.debit_account_id).ok_or(E::DebitAccountNotFound)?;
        let credit = *self.accounts.get(&t.credit_account_id).ok_or(E::CreditAccountNotFound)?;
        if debit.ledger != credit.ledger {
            return Err(E::AccountsMustHaveTheSameLedger);
        }
        if t.ledger != debit.ledger {
            return Err(E::TransferMustHaveTheSameLedgerAsAccounts);
        }
        let pending = t.flags.contains(TransferFlags::PENDING);
        self.apply(t, debit, credit, if pending { (t.amount, 0) } else { (0, t.amount) }, None)
    }

    /// Moves amounts: `(pending, posted)` added to both sides, `release` taken off pending.
    fn apply(
        &mut self,
        t: &Transfer,
        mut debit: Account,
        mut credit: Account,
        (pending, posted): (u128, u128),
        release: Option<u128>,
    ) -> Result<(), CreateTransferError> {
        use CreateTransferError as E;
        let release = release.unwrap_or(0);
        debit.debits_pending = debit.debits_pending.checked_sub(release).ok_or(E::Overflows)?;
        credit.credits_pending = credit.credits_pending.checked_sub(release).ok_or(E::Overflows)?;
        debit.debits_pending = debit.debits_pending.checked_add(pending).ok_or(E::Overflows)?;
        debit.debits_posted = debit.debits_posted.checked_add(posted).ok_or(E::Overflows)?;
        credit.credits_pending = credit.credits_pending.checked_add(pending).ok_or(E::Overflows)?;
        credit.credits_posted = credit.credits_posted.checked_add(posted).ok_or(E::Overflows)?;
        if debit.flags.contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS)
            && debit.debits_pending.checked_add(debit.debits_posted).ok_or(E::Overflows)? > debit.credits_posted
            && (pending > 0 || posted > 0)
        {
            return Err(E::ExceedsCredits);
        }
        if credit.flags.contains(AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS)
            && credit.credits_pending.checked_add(credit.credits_posted).ok_or(E::Overflows)? > credit.debits_posted
            && (pending > 0 || posted > 0)
        {
            return Err(E::ExceedsDebits);
        }
        let timestamp = self.tick();
        self.put_account(debit);
        self.put_account(credit);
        for a in [debit, credit] {
            if a.flags.contains(AccountFlags::HISTORY) {
                self.undo.push(Undo::History(a.id));
                self.history.entry(a.id).or_default().push((
                    t.id,
                    AccountBalance {
                        debits_pending: a.debits_pending,
                        debits_posted: a.debits_posted,
                        credits_pending: a.credits_pending,
                        credits_posted: a.credits_posted,
                        timestamp,
                    },
                ));
            }
        }
        self.transfers.insert(t.id, Transfer { timestamp, ..*t });
        self.order.push(t.id);
        self.undo.push(Undo::Transfer(t.id));
        Ok(())
    }

    fn resolve_pending(&mut self, t: &Transfer, post: bool) -> Result<(), CreateTransferError> {
        use CreateTransferError as E;
        let p = *self.transfers.get(&t.pending_id).ok_or(E::PendingTransferNotFound)?;
        if !p.flags.contains(TransferFlags::PENDING) {
            return Err(E::PendingTransferNotPending);
        }
        match self.resolved.get(&p.id) {
            Some(Resolution::Posted) => return Err(E::PendingTransferAlreadyPosted),
            Some(Resolution::Voided) => return Err(E::PendingTransferAlreadyVoided),
            None => {}
        }
        for (mine, theirs, field) in [
            (t.debit_account_id, p.debit_account_id, "debit_account_id"),
            (t.credit_account_id, p.credit_account_id, "credit_account_id"),
        ] {
            if mine != 0 && mine != theirs {
                return Err(E::Other(format!("pending_transfer_has_different_{field}")));
            }
        }
        if t.amount > p.amount {
            return Err(E::ExceedsPendingTransferAmount);
        }
        let debit = *self.accounts.get(&p.debit_account_id).ok_or(E::DebitAccountNotFound)?;
        let credit = *self.accounts.get(&p.credit_account_id).ok_or(E::CreditAccountNotFound)?;
        let posted = if post { t.amount } else { 0 };
        let stored = Transfer {
            debit_account_id: p.debit_account_id,
            credit_account_id: p.credit_account_id,
            ledger: p.ledger,
            code: if t.code == 0 { p.code } else { t.code },
            amount: if post { t.amount } else { p.amount },
            ..*t
        };
        self.apply(&stored, debit, credit, (0, posted), Some(p.amount))?;
        self.resolved.insert(p.id, if post { Resolution::Posted } else { Resolution::Voided });
        self.undo.push(Undo::Resolved(p.id));
        Ok(())
    }
}

/// Runs a batch with TigerBeetle's chain semantics: events run in order; a failing event rolls
/// its chain back (through the undo log) and the chain's other events report
/// `linked_event_failed`.
fn run_batch<T, E: Clone>(
    state: &mut State,
    events: &[T],
    linked: impl Fn(&T) -> bool,
    mut create: impl FnMut(&mut State, &T) -> Result<(), E>,
    linked_failed: E,
    chain_open: E,
) -> Vec<Failure<E>> {
    let mut failures = Vec::new();
    let mut i = 0;
    while i < events.len() {
        // the chain: events i..=end, where every event but the last is linked
        let mut end = i;
        while end < events.len() && linked(&events[end]) {
            end += 1;
        }
        if end == events.len() {
            // the batch ends inside a chain
            for index in i..events.len() {
                let error = if index == events.len() - 1 { chain_open.clone() } else { linked_failed.clone() };
                failures.push(Failure { index, error });
            }
            break;
        }
        state.undo.clear();
        let mut failed: Option<(usize, E)> = None;
        for (index, e) in events.iter().enumerate().take(end + 1).skip(i) {
            if let Err(error) = create(state, e) {
                failed = Some((index, error));
                break;
            }
        }
        match failed {
            None => state.undo.clear(),
            Some((at, error)) => {
                state.rollback();
                for index in i..=end {
                    let error = if index == at { error.clone() } else { linked_failed.clone() };
                    failures.push(Failure { index, error });
                }
            }
        }
        i = end + 1;
    }
    failures
}

fn matches_filter(t: &Transfer, f: &AccountFilter) -> bool {
    ((f.debits && t.debit_account_id == f.account_id) || (f.credits && t.credit_account_id == f.account_id))
        && (f.timestamp_min == 0 || t.timestamp >= f.timestamp_min)
        && (f.timestamp_max == 0 || t.timestamp <= f.timestamp_max)
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl LedgerBackend for MemoryLedger {
    async fn create_accounts(&self, accounts: &[Account]) -> Result<Vec<Failure<CreateAccountError>>, BackendError> {
        let mut s = self.lock();
        Ok(run_batch(
            &mut s,
            accounts,
            |a| a.flags.contains(AccountFlags::LINKED),
            State::create_account,
            CreateAccountError::LinkedEventFailed,
            CreateAccountError::LinkedEventChainOpen,
        ))
    }

    async fn create_transfers(
        &self,
        transfers: &[Transfer],
    ) -> Result<Vec<Failure<CreateTransferError>>, BackendError> {
        let mut s = self.lock();
        let failures = run_batch(
            &mut s,
            transfers,
            |t| t.flags.contains(TransferFlags::LINKED),
            State::create_transfer,
            CreateTransferError::LinkedEventFailed,
            CreateTransferError::LinkedEventChainOpen,
        );
        for f in &failures {
            if is_transient(&f.error)
                && let Some(t) = transfers.get(f.index)
            {
                s.failed.insert(t.id);
            }
        }
        Ok(failures)
    }

    async fn lookup_accounts(&self, ids: &[u128]) -> Result<Vec<Account>, BackendError> {
        let s = self.lock();
        Ok(ids.iter().filter_map(|id| s.accounts.get(id).copied()).collect())
    }

    async fn lookup_transfers(&self, ids: &[u128]) -> Result<Vec<Transfer>, BackendError> {
        let s = self.lock();
        Ok(ids.iter().filter_map(|id| s.transfers.get(id).copied()).collect())
    }

    async fn get_account_transfers(&self, f: AccountFilter) -> Result<Vec<Transfer>, BackendError> {
        let s = self.lock();
        let it = s.order.iter().filter_map(|id| s.transfers.get(id)).filter(|t| matches_filter(t, &f)).copied();
        let mut v: Vec<Transfer> = it.collect();
        if f.reversed {
            v.reverse();
        }
        v.truncate(f.limit as usize);
        Ok(v)
    }

    async fn get_account_balances(&self, f: AccountFilter) -> Result<Vec<AccountBalance>, BackendError> {
        let s = self.lock();
        let Some(history) = s.history.get(&f.account_id) else { return Ok(Vec::new()) };
        let mut v: Vec<AccountBalance> = history
            .iter()
            .filter(|(id, _)| s.transfers.get(id).is_some_and(|t| matches_filter(t, &f)))
            .map(|(_, b)| *b)
            .collect();
        if f.reversed {
            v.reverse();
        }
        v.truncate(f.limit as usize);
        Ok(v)
    }

    async fn query_transfers(&self, f: QueryFilter) -> Result<Vec<Transfer>, BackendError> {
        let s = self.lock();
        let mut v: Vec<Transfer> = s
            .order
            .iter()
            .filter_map(|id| s.transfers.get(id))
            .filter(|t| {
                (f.user_data_128 == 0 || t.user_data_128 == f.user_data_128)
                    && (f.user_data_64 == 0 || t.user_data_64 == f.user_data_64)
                    && (f.user_data_32 == 0 || t.user_data_32 == f.user_data_32)
                    && (f.ledger == 0 || t.ledger == f.ledger)
                    && (f.code == 0 || t.code == f.code)
            })
            .copied()
            .collect();
        if f.reversed {
            v.reverse();
        }
        v.truncate(f.limit as usize);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openinsure_ledger::testkit;

    #[tokio::test]
    async fn conformance() {
        let b = MemoryLedger::new();
        testkit::all(&b, 1).await;
        testkit::all(&b, 2).await;
    }

    /// The engine behind the HTTP proxy's `serve`, reached through `RemoteLedger` (the bytes
    /// each way as they would cross the network): the same suite, the same answers.
    #[tokio::test]
    async fn conformance_through_the_remote_protocol() {
        use openinsure_ledger::remote::{RemoteLedger, ServiceKey, Transport, serve};
        struct InProcess(MemoryLedger, ServiceKey, &'static str);
        #[async_trait]
        impl Transport for InProcess {
            async fn post(&self, body: Vec<u8>) -> Result<(u16, Vec<u8>), BackendError> {
                Ok(serve(&self.0, &self.1, Some(self.2), &body).await)
            }
        }
        const KEY: &str = "a service key of at least 32 bytes!!";
        let key = ServiceKey::new(KEY).unwrap();
        let remote = RemoteLedger::new(InProcess(
            MemoryLedger::new(),
            key.clone(),
            "Bearer a service key of at least 32 bytes!!",
        ));
        testkit::all(&remote, 1).await;
        testkit::all(&remote, 2).await;
        // a wrong key reaches nothing
        let intruder = RemoteLedger::new(InProcess(MemoryLedger::new(), key.clone(), "Bearer not the key"));
        let refused = intruder.lookup_accounts(&[1]).await.unwrap_err();
        assert!(refused.0.contains("service key"), "{refused}");
        // no key, a body that is not a call, a batch over the limit: refused, nothing written
        let engine = MemoryLedger::new();
        let call = |accounts: Vec<openinsure_ledger::Account>| {
            serde_json::to_vec(&openinsure_ledger::remote::Call::CreateAccounts { accounts }).unwrap()
        };
        let org = testkit::org(9, 1);
        let one = openinsure_ledger::chart_of_accounts(org)[0];
        assert_eq!(serve(&engine, &key, None, &call(vec![one])).await.0, 401);
        assert_eq!(
            serve(&engine, &key, Some("Bearer a service key of at least 32 bytes!!"), b"{\"drop\": {}}").await.0,
            400
        );
        let too_many = vec![one; openinsure_ledger::remote::MAX_BATCH + 1];
        let (status, body) =
            serve(&engine, &key, Some("Bearer a service key of at least 32 bytes!!"), &call(too_many)).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        assert!(engine.lookup_accounts(&[one.id]).await.unwrap().is_empty(), "nothing was created");
    }
}
