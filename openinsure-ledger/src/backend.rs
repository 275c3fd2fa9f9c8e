//! The `LedgerBackend` port: TigerBeetle's operations, so that a real cluster and the in-memory
//! engine answer the same calls the same way.
//!
//! Semantics every backend keeps (the conformance suite in `testkit` checks them):
//! - A batch is processed in order. Events flagged `linked` form a chain with the next event;
//!   a chain succeeds or fails as a whole: when one event fails, it reports its own error and every
//!   other event of the chain reports `linked_event_failed`, and nothing of the chain is applied.
//! - Only failures are returned, by index; an empty result means every event was created.
//! - Creating an id that exists with identical fields answers `exists`; with different fields,
//!   `exists_with_different_<field>`. Nothing is applied either way.
//! - `debits_must_not_exceed_credits` / `credits_must_not_exceed_debits` refuse a transfer that
//!   would break them (`exceeds_credits` / `exceeds_debits`), counting pending amounts.
//! - Pending transfers reserve their amount; posting (up to the pending amount) or voiding
//!   releases the reservation, once.
//! - Timestamps are assigned by the backend, strictly increasing.

use async_trait::async_trait;

use crate::model::{
    Account, AccountBalance, AccountFilter, CreateAccountError, CreateTransferError, Failure, QueryFilter, Transfer,
};

/// A backend failure (connection, protocol): nothing is known to have been applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ledger backend unavailable: {0}")]
pub struct BackendError(pub String);

/// A double-entry ledger engine shaped after TigerBeetle.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait LedgerBackend: openinsure_core::ports::MaybeSendSync {
    /// Creates accounts; returns the failures by index.
    async fn create_accounts(&self, accounts: &[Account]) -> Result<Vec<Failure<CreateAccountError>>, BackendError>;

    /// Creates transfers (linked chains atomically); returns the failures by index.
    async fn create_transfers(&self, transfers: &[Transfer])
    -> Result<Vec<Failure<CreateTransferError>>, BackendError>;

    /// The accounts that exist among `ids`, in the order asked.
    async fn lookup_accounts(&self, ids: &[u128]) -> Result<Vec<Account>, BackendError>;

    /// The transfers that exist among `ids`, in the order asked.
    async fn lookup_transfers(&self, ids: &[u128]) -> Result<Vec<Transfer>, BackendError>;

    /// An account's transfers, by timestamp.
    async fn get_account_transfers(&self, filter: AccountFilter) -> Result<Vec<Transfer>, BackendError>;

    /// An account's balance after each of its transfers (accounts with the `history` flag).
    async fn get_account_balances(&self, filter: AccountFilter) -> Result<Vec<AccountBalance>, BackendError>;

    /// Transfers matching caller data, by timestamp.
    async fn query_transfers(&self, filter: QueryFilter) -> Result<Vec<Transfer>, BackendError>;
}
