//! Accounts and transfers, shaped exactly as TigerBeetle's so a backend maps them field by field.

use serde::{Deserialize, Serialize};

/// The ledger (asset) all accounts and transfers use: US dollars in cents (ISO 4217 numeric 840).
pub const LEDGER_USD: u32 = 840;

macro_rules! flags {
    ($(#[$doc:meta])* $name:ident($repr:ty) { $($(#[$fdoc:meta])* $flag:ident = $bit:expr,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $repr);

        impl $name {
            /// No flags.
            pub const NONE: $name = $name(0);
            $($(#[$fdoc])* pub const $flag: $name = $name($bit);)*

            /// True when every bit of `other` is set.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }

            /// Both sets of bits.
            #[must_use]
            pub const fn union(self, other: $name) -> $name {
                $name(self.0 | other.0)
            }

            /// Without the bits of `other`.
            #[must_use]
            pub const fn without(self, other: $name) -> $name {
                $name(self.0 & !other.0)
            }
        }
    };
}

flags!(
    /// Account flags, bit for bit TigerBeetle's.
    AccountFlags(u16) {
        /// Links this account to the next in a batch: all succeed or none.
        LINKED = 1,
        /// Debits (posted + pending) may never exceed credits posted.
        DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 1,
        /// Credits (posted + pending) may never exceed debits posted.
        CREDITS_MUST_NOT_EXCEED_DEBITS = 1 << 2,
        /// Keep balance history (needed for balance lookups over time).
        HISTORY = 1 << 3,
    }
);

flags!(
    /// Transfer flags, bit for bit TigerBeetle's.
    TransferFlags(u16) {
        /// Links this transfer to the next in a batch: all succeed or none.
        LINKED = 1,
        /// A two-phase transfer: reserves the amount until posted or voided.
        PENDING = 1 << 1,
        /// Posts a pending transfer (named by `pending_id`).
        POST_PENDING_TRANSFER = 1 << 2,
        /// Voids a pending transfer (named by `pending_id`).
        VOID_PENDING_TRANSFER = 1 << 3,
    }
);

/// An account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Account {
    /// Unique, not zero, not `u128::MAX`.
    pub id: u128,
    /// Debits reserved by pending transfers.
    pub debits_pending: u128,
    /// Debits posted.
    pub debits_posted: u128,
    /// Credits reserved by pending transfers.
    pub credits_pending: u128,
    /// Credits posted.
    pub credits_posted: u128,
    /// Caller data: the org id here.
    pub user_data_128: u128,
    /// Caller data.
    pub user_data_64: u64,
    /// Caller data.
    pub user_data_32: u32,
    /// The asset ledger; transfers only move between accounts of one ledger.
    pub ledger: u32,
    /// The account type code (see [`crate::AccountType`]).
    pub code: u16,
    /// Flags.
    pub flags: AccountFlags,
    /// Set by the backend when created (nanoseconds, strictly increasing).
    pub timestamp: u64,
}

impl Account {
    /// How much more the account may be debited under `debits_must_not_exceed_credits`: its
    /// posted credits less its posted and pending debits (TigerBeetle's own check), zero when
    /// there is nothing left.
    pub fn debit_headroom(&self) -> u128 {
        self.credits_posted.saturating_sub(self.debits_posted).saturating_sub(self.debits_pending)
    }
}

/// A transfer: `amount` moves from the debit account to the credit account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transfer {
    /// Unique, not zero, not `u128::MAX`. Derived from a business key, so a retry is idempotent.
    pub id: u128,
    /// The account debited.
    pub debit_account_id: u128,
    /// The account credited.
    pub credit_account_id: u128,
    /// Cents.
    pub amount: u128,
    /// For post/void: the pending transfer's id.
    pub pending_id: u128,
    /// Caller data: the business record (policy, claim, payment).
    pub user_data_128: u128,
    /// Caller data.
    pub user_data_64: u64,
    /// Caller data: the leg number within its chain.
    pub user_data_32: u32,
    /// Seconds a pending transfer may stay pending (0: forever).
    pub timeout: u32,
    /// The asset ledger.
    pub ledger: u32,
    /// The transfer code (see [`crate::TransferCode`]).
    pub code: u16,
    /// Flags.
    pub flags: TransferFlags,
    /// Set by the backend when created.
    pub timestamp: u64,
}

/// Why an account was not created (TigerBeetle's result names).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum CreateAccountError {
    /// Another account of a linked chain failed.
    #[error("linked_event_failed")]
    LinkedEventFailed,
    /// The last event of the batch has the `linked` flag.
    #[error("linked_event_chain_open")]
    LinkedEventChainOpen,
    /// An identical account exists.
    #[error("exists")]
    Exists,
    /// An account with this id exists with other fields.
    #[error("exists_with_different_{0}")]
    ExistsWithDifferent(std::borrow::Cow<'static, str>),
    /// The id is zero.
    #[error("id_must_not_be_zero")]
    IdMustNotBeZero,
    /// The id is `u128::MAX`.
    #[error("id_must_not_be_int_max")]
    IdMustNotBeIntMax,
    /// Balances must be zero on creation.
    #[error("balances_must_be_zero")]
    BalancesMustBeZero,
    /// Both balance constraints at once.
    #[error("flags_are_mutually_exclusive")]
    FlagsAreMutuallyExclusive,
    /// The ledger is zero.
    #[error("ledger_must_not_be_zero")]
    LedgerMustNotBeZero,
    /// The code is zero.
    #[error("code_must_not_be_zero")]
    CodeMustNotBeZero,
    /// The timestamp must be zero (the backend sets it).
    #[error("timestamp_must_be_zero")]
    TimestampMustBeZero,
    /// Any other backend result, by name.
    #[error("{0}")]
    Other(String),
}

/// Why a transfer was not created (TigerBeetle's result names).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum CreateTransferError {
    /// Another transfer of a linked chain failed.
    #[error("linked_event_failed")]
    LinkedEventFailed,
    /// The last event of the batch has the `linked` flag.
    #[error("linked_event_chain_open")]
    LinkedEventChainOpen,
    /// An identical transfer exists: a retry.
    #[error("exists")]
    Exists,
    /// A transfer with this id exists with other fields (`amount`, `flags`, ...).
    #[error("exists_with_different_{0}")]
    ExistsWithDifferent(std::borrow::Cow<'static, str>),
    /// The id is zero.
    #[error("id_must_not_be_zero")]
    IdMustNotBeZero,
    /// The id is `u128::MAX`.
    #[error("id_must_not_be_int_max")]
    IdMustNotBeIntMax,
    /// Debit and credit accounts are the same.
    #[error("accounts_must_be_different")]
    AccountsMustBeDifferent,
    /// No such debit account.
    #[error("debit_account_not_found")]
    DebitAccountNotFound,
    /// No such credit account.
    #[error("credit_account_not_found")]
    CreditAccountNotFound,
    /// The two accounts are on different ledgers.
    #[error("accounts_must_have_the_same_ledger")]
    AccountsMustHaveTheSameLedger,
    /// The transfer's ledger differs from its accounts'.
    #[error("transfer_must_have_the_same_ledger_as_accounts")]
    TransferMustHaveTheSameLedgerAsAccounts,
    /// The ledger is zero.
    #[error("ledger_must_not_be_zero")]
    LedgerMustNotBeZero,
    /// The code is zero.
    #[error("code_must_not_be_zero")]
    CodeMustNotBeZero,
    /// The timestamp must be zero (the backend sets it).
    #[error("timestamp_must_be_zero")]
    TimestampMustBeZero,
    /// No pending transfer with `pending_id`.
    #[error("pending_transfer_not_found")]
    PendingTransferNotFound,
    /// `pending_id` names a transfer that is not pending.
    #[error("pending_transfer_not_pending")]
    PendingTransferNotPending,
    /// The pending transfer was already posted.
    #[error("pending_transfer_already_posted")]
    PendingTransferAlreadyPosted,
    /// The pending transfer was already voided.
    #[error("pending_transfer_already_voided")]
    PendingTransferAlreadyVoided,
    /// Posting more than is pending.
    #[error("exceeds_pending_transfer_amount")]
    ExceedsPendingTransferAmount,
    /// The debit account's `debits_must_not_exceed_credits` refused it.
    #[error("exceeds_credits")]
    ExceedsCredits,
    /// The credit account's `credits_must_not_exceed_debits` refused it.
    #[error("exceeds_debits")]
    ExceedsDebits,
    /// A balance would overflow.
    #[error("overflows")]
    Overflows,
    /// The id was used before by a transfer that failed for a reason that depends on the books
    /// (`exceeds_credits`, `*_not_found`, ...): it can never succeed; retry with a new id.
    #[error("id_already_failed")]
    IdAlreadyFailed,
    /// Any other backend result, by name.
    #[error("{0}")]
    Other(String),
}

/// One failed event of a batch: its index and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure<E> {
    /// Position in the batch.
    pub index: usize,
    /// Why it failed.
    pub error: E,
}

/// Which transfers of an account to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFilter {
    /// The account.
    pub account_id: u128,
    /// Only transfers at or after this timestamp (0: no bound).
    pub timestamp_min: u64,
    /// Only transfers at or before this timestamp (0: no bound).
    pub timestamp_max: u64,
    /// At most this many (1 to 8,189).
    pub limit: u32,
    /// Include transfers debiting the account.
    pub debits: bool,
    /// Include transfers crediting the account.
    pub credits: bool,
    /// Newest first.
    pub reversed: bool,
}

impl AccountFilter {
    /// Every transfer of the account, oldest first, up to `limit`.
    pub fn all(account_id: u128, limit: u32) -> Self {
        AccountFilter {
            account_id,
            timestamp_min: 0,
            timestamp_max: 0,
            limit,
            debits: true,
            credits: true,
            reversed: false,
        }
    }
}

/// Which transfers to read by their caller data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryFilter {
    /// Match `user_data_128` (0: any).
    pub user_data_128: u128,
    /// Match `user_data_64` (0: any).
    pub user_data_64: u64,
    /// Match `user_data_32` (0: any).
    pub user_data_32: u32,
    /// Match the ledger (0: any).
    pub ledger: u32,
    /// Match the code (0: any).
    pub code: u16,
    /// At most this many.
    pub limit: u32,
    /// Newest first.
    pub reversed: bool,
}

/// An account's balance after one of its transfers (needs the account's `history` flag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountBalance {
    /// Debits pending.
    pub debits_pending: u128,
    /// Debits posted.
    pub debits_posted: u128,
    /// Credits pending.
    pub credits_pending: u128,
    /// Credits posted.
    pub credits_posted: u128,
    /// The timestamp of the transfer after which this was the balance.
    pub timestamp: u64,
}

/// The most events one batch may hold (TigerBeetle's limit with default settings).
pub const MAX_BATCH: usize = 8189;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debit_headroom_counts_pending_debits_and_never_goes_below_zero() {
        let mut a = Account { credits_posted: 1_000, debits_posted: 300, debits_pending: 200, ..Account::default() };
        assert_eq!(a.debit_headroom(), 500);
        a.debits_pending = 900;
        assert_eq!(a.debit_headroom(), 0);
    }
}
