#![doc = include_str!("../README.md")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use openinsure_ledger::backend::{BackendError, LedgerBackend};
use openinsure_ledger::model::{
    Account, AccountBalance, AccountFilter, AccountFlags, CreateAccountError, CreateTransferError, Failure,
    QueryFilter, Transfer, TransferFlags,
};
use tb::error::{
    CreateAccountErrorKind as AK, CreateAccountsError, CreateTransferErrorKind as TK, CreateTransfersError,
};
use tigerbeetle_unofficial as tb;

/// Account-filter flags of the TigerBeetle protocol.
const FILTER_DEBITS: u32 = 1;
const FILTER_CREDITS: u32 = 1 << 1;
const FILTER_REVERSED: u32 = 1 << 2;
/// Query-filter flag of the TigerBeetle protocol.
const QUERY_REVERSED: u32 = 1;

/// A connection to a TigerBeetle cluster.
pub struct TigerBeetle {
    client: tb::Client,
    timeout: Duration,
}

impl std::fmt::Debug for TigerBeetle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TigerBeetle").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl TigerBeetle {
    /// A client for cluster `cluster_id` at `addresses` (`127.0.0.1:3033`, or several separated
    /// by commas). Connecting happens on the first request; every request gives up after
    /// `timeout`.
    pub fn connect(cluster_id: u128, addresses: &str, timeout: Duration) -> Result<TigerBeetle, BackendError> {
        let client = tb::Client::new(cluster_id, addresses)
            .map_err(|e| BackendError(format!("tigerbeetle client for `{addresses}`: {e}")))?;
        Ok(TigerBeetle { client, timeout })
    }

    async fn bounded<T, E: std::fmt::Display>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<Result<T, E>, BackendError> {
        tokio::time::timeout(self.timeout, f)
            .await
            .map_err(|_| BackendError(format!("tigerbeetle did not answer {what} within {:?}", self.timeout)))
    }
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn to_tb_account(a: &Account) -> tb::Account {
    tb::Account::from_raw(tb::account::Raw {
        id: a.id,
        debits_pending: a.debits_pending,
        debits_posted: a.debits_posted,
        credits_pending: a.credits_pending,
        credits_posted: a.credits_posted,
        user_data_128: a.user_data_128,
        user_data_64: a.user_data_64,
        user_data_32: a.user_data_32,
        reserved: 0,
        ledger: a.ledger,
        code: a.code,
        flags: a.flags.0,
        timestamp: a.timestamp,
    })
}

fn from_tb_account(a: &tb::Account) -> Account {
    let r = a.as_raw();
    Account {
        id: r.id,
        debits_pending: r.debits_pending,
        debits_posted: r.debits_posted,
        credits_pending: r.credits_pending,
        credits_posted: r.credits_posted,
        user_data_128: r.user_data_128,
        user_data_64: r.user_data_64,
        user_data_32: r.user_data_32,
        ledger: r.ledger,
        code: r.code,
        flags: AccountFlags(r.flags),
        timestamp: r.timestamp,
    }
}

fn to_tb_transfer(t: &Transfer) -> tb::Transfer {
    tb::Transfer::from_raw(tb::transfer::Raw {
        id: t.id,
        debit_account_id: t.debit_account_id,
        credit_account_id: t.credit_account_id,
        amount: t.amount,
        pending_id: t.pending_id,
        user_data_128: t.user_data_128,
        user_data_64: t.user_data_64,
        user_data_32: t.user_data_32,
        timeout: t.timeout,
        ledger: t.ledger,
        code: t.code,
        flags: t.flags.0,
        timestamp: t.timestamp,
    })
}

fn from_tb_transfer(t: &tb::Transfer) -> Transfer {
    let r = t.as_raw();
    Transfer {
        id: r.id,
        debit_account_id: r.debit_account_id,
        credit_account_id: r.credit_account_id,
        amount: r.amount,
        pending_id: r.pending_id,
        user_data_128: r.user_data_128,
        user_data_64: r.user_data_64,
        user_data_32: r.user_data_32,
        timeout: r.timeout,
        ledger: r.ledger,
        code: r.code,
        flags: TransferFlags(r.flags),
        timestamp: r.timestamp,
    }
}

fn account_error(k: AK) -> CreateAccountError {
    use CreateAccountError as E;
    match k {
        AK::LinkedEventFailed => E::LinkedEventFailed,
        AK::LinkedEventChainOpen => E::LinkedEventChainOpen,
        AK::Exists => E::Exists,
        AK::ExistsWithDifferentFlags => E::ExistsWithDifferent("flags".into()),
        AK::ExistsWithDifferentUserData128 => E::ExistsWithDifferent("user_data_128".into()),
        AK::ExistsWithDifferentUserData64 => E::ExistsWithDifferent("user_data_64".into()),
        AK::ExistsWithDifferentUserData32 => E::ExistsWithDifferent("user_data_32".into()),
        AK::ExistsWithDifferentLedger => E::ExistsWithDifferent("ledger".into()),
        AK::ExistsWithDifferentCode => E::ExistsWithDifferent("code".into()),
        AK::IdMustNotBeZero => E::IdMustNotBeZero,
        AK::IdMustNotBeIntMax => E::IdMustNotBeIntMax,
        AK::FlagsAreMutuallyExclusive => E::FlagsAreMutuallyExclusive,
        AK::DebitsPendingMustBeZero
        | AK::DebitsPostedMustBeZero
        | AK::CreditsPendingMustBeZero
        | AK::CreditsPostedMustBeZero => E::BalancesMustBeZero,
        AK::LedgerMustNotBeZero => E::LedgerMustNotBeZero,
        AK::CodeMustNotBeZero => E::CodeMustNotBeZero,
        AK::TimestampMustBeZero => E::TimestampMustBeZero,
        other => E::Other(format!("{other:?}")),
    }
}

fn transfer_error(k: TK) -> CreateTransferError {
    use CreateTransferError as E;
    match k {
        TK::LinkedEventFailed => E::LinkedEventFailed,
        TK::LinkedEventChainOpen => E::LinkedEventChainOpen,
        TK::Exists => E::Exists,
        TK::ExistsWithDifferentFlags => E::ExistsWithDifferent("flags".into()),
        TK::ExistsWithDifferentDebitAccountId => E::ExistsWithDifferent("debit_account_id".into()),
        TK::ExistsWithDifferentCreditAccountId => E::ExistsWithDifferent("credit_account_id".into()),
        TK::ExistsWithDifferentAmount => E::ExistsWithDifferent("amount".into()),
        TK::ExistsWithDifferentPendingId => E::ExistsWithDifferent("pending_id".into()),
        TK::ExistsWithDifferentUserData128 => E::ExistsWithDifferent("user_data_128".into()),
        TK::ExistsWithDifferentUserData64 => E::ExistsWithDifferent("user_data_64".into()),
        TK::ExistsWithDifferentUserData32 => E::ExistsWithDifferent("user_data_32".into()),
        TK::ExistsWithDifferentTimeout => E::ExistsWithDifferent("timeout".into()),
        TK::ExistsWithDifferentCode => E::ExistsWithDifferent("code".into()),
        TK::ExistsWithDifferentLedger => E::ExistsWithDifferent("ledger".into()),
        TK::IdMustNotBeZero => E::IdMustNotBeZero,
        TK::IdMustNotBeIntMax => E::IdMustNotBeIntMax,
        TK::AccountsMustBeDifferent => E::AccountsMustBeDifferent,
        TK::DebitAccountNotFound => E::DebitAccountNotFound,
        TK::CreditAccountNotFound => E::CreditAccountNotFound,
        TK::AccountsMustHaveTheSameLedger => E::AccountsMustHaveTheSameLedger,
        TK::TransferMustHaveTheSameLedgerAsAccounts => E::TransferMustHaveTheSameLedgerAsAccounts,
        TK::LedgerMustNotBeZero => E::LedgerMustNotBeZero,
        TK::CodeMustNotBeZero => E::CodeMustNotBeZero,
        TK::TimestampMustBeZero => E::TimestampMustBeZero,
        TK::PendingTransferNotFound => E::PendingTransferNotFound,
        TK::PendingTransferNotPending => E::PendingTransferNotPending,
        TK::PendingTransferAlreadyPosted => E::PendingTransferAlreadyPosted,
        TK::PendingTransferAlreadyVoided => E::PendingTransferAlreadyVoided,
        TK::ExceedsPendingTransferAmount => E::ExceedsPendingTransferAmount,
        TK::ExceedsCredits => E::ExceedsCredits,
        TK::ExceedsDebits => E::ExceedsDebits,
        TK::IdAlreadyFailed => E::IdAlreadyFailed,
        TK::OverflowsDebitsPending
        | TK::OverflowsCreditsPending
        | TK::OverflowsDebitsPosted
        | TK::OverflowsCreditsPosted
        | TK::OverflowsDebits
        | TK::OverflowsCredits => E::Overflows,
        other => E::Other(format!("{other:?}")),
    }
}

fn to_tb_filter(f: &AccountFilter) -> Box<tb::account::Filter> {
    let mut raw = tb::account::Filter::new(f.account_id, f.limit.max(1)).into_raw();
    raw.timestamp_min = f.timestamp_min;
    raw.timestamp_max = f.timestamp_max;
    raw.flags = (if f.debits { FILTER_DEBITS } else { 0 })
        | (if f.credits { FILTER_CREDITS } else { 0 })
        | (if f.reversed { FILTER_REVERSED } else { 0 });
    Box::new(tb::account::Filter::from_raw(raw))
}

#[async_trait]
impl LedgerBackend for TigerBeetle {
    async fn create_accounts(&self, accounts: &[Account]) -> Result<Vec<Failure<CreateAccountError>>, BackendError> {
        let batch: Vec<tb::Account> = accounts.iter().map(to_tb_account).collect();
        match self.bounded("create_accounts", self.client.create_accounts(batch)).await? {
            Ok(()) => Ok(Vec::new()),
            Err(CreateAccountsError::Api(e)) => Ok(e
                .as_slice()
                .iter()
                .map(|x| Failure { index: x.index() as usize, error: account_error(x.kind()) })
                .collect()),
            Err(e) => Err(BackendError(format!("create_accounts: {e}"))),
        }
    }

    async fn create_transfers(
        &self,
        transfers: &[Transfer],
    ) -> Result<Vec<Failure<CreateTransferError>>, BackendError> {
        let batch: Vec<tb::Transfer> = transfers.iter().map(to_tb_transfer).collect();
        match self.bounded("create_transfers", self.client.create_transfers(batch)).await? {
            Ok(()) => Ok(Vec::new()),
            Err(CreateTransfersError::Api(e)) => Ok(e
                .as_slice()
                .iter()
                .map(|x| Failure { index: x.index() as usize, error: transfer_error(x.kind()) })
                .collect()),
            Err(e) => Err(BackendError(format!("create_transfers: {e}"))),
        }
    }

    async fn lookup_accounts(&self, ids: &[u128]) -> Result<Vec<Account>, BackendError> {
        let found = self
            .bounded("lookup_accounts", self.client.lookup_accounts(ids.to_vec()))
            .await?
            .map_err(|e| BackendError(format!("lookup_accounts: {e}")))?;
        Ok(found.iter().map(from_tb_account).collect())
    }

    async fn lookup_transfers(&self, ids: &[u128]) -> Result<Vec<Transfer>, BackendError> {
        let found = self
            .bounded("lookup_transfers", self.client.lookup_transfers(ids.to_vec()))
            .await?
            .map_err(|e| BackendError(format!("lookup_transfers: {e}")))?;
        Ok(found.iter().map(from_tb_transfer).collect())
    }

    async fn get_account_transfers(&self, filter: AccountFilter) -> Result<Vec<Transfer>, BackendError> {
        let found = self
            .bounded("get_account_transfers", self.client.get_account_transfers(to_tb_filter(&filter)))
            .await?
            .map_err(|e| BackendError(format!("get_account_transfers: {e}")))?;
        Ok(found.iter().map(from_tb_transfer).collect())
    }

    async fn get_account_balances(&self, filter: AccountFilter) -> Result<Vec<AccountBalance>, BackendError> {
        let found = self
            .bounded("get_account_balances", self.client.get_account_balances(to_tb_filter(&filter)))
            .await?
            .map_err(|e| BackendError(format!("get_account_balances: {e}")))?;
        Ok(found
            .iter()
            .map(|b| AccountBalance {
                debits_pending: b.debits_pending(),
                debits_posted: b.debits_posted(),
                credits_pending: b.credits_pending(),
                credits_posted: b.credits_posted(),
                timestamp: nanos(b.timestamp()),
            })
            .collect())
    }

    async fn query_transfers(&self, filter: QueryFilter) -> Result<Vec<Transfer>, BackendError> {
        let mut raw = tb::QueryFilter::new(filter.limit.max(1)).into_raw();
        raw.user_data_128 = filter.user_data_128;
        raw.user_data_64 = filter.user_data_64;
        raw.user_data_32 = filter.user_data_32;
        raw.ledger = filter.ledger;
        raw.code = filter.code;
        raw.flags = if filter.reversed { QUERY_REVERSED } else { 0 };
        let found = self
            .bounded("query_transfers", self.client.query_transfers(Box::new(tb::QueryFilter::from_raw(raw))))
            .await?
            .map_err(|e| BackendError(format!("query_transfers: {e}")))?;
        Ok(found.iter().map(from_tb_transfer).collect())
    }
}
