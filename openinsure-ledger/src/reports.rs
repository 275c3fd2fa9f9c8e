//! Trial balance and journal, computed from accounts and transfers.

use serde::{Deserialize, Serialize};

use crate::chart::{AccountType, TransferCode};
use crate::model::{Account, Transfer};

/// One account's line of the trial balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialBalanceRow {
    /// The account type's code.
    pub code: u16,
    /// Its name.
    pub name: String,
    /// Debits posted, cents.
    pub debits_cents: u128,
    /// Credits posted, cents.
    pub credits_cents: u128,
    /// Credits minus debits, cents.
    pub net_credit_cents: i128,
}

/// A trial balance: total debits equal total credits in a sound ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialBalance {
    /// One row per account.
    pub rows: Vec<TrialBalanceRow>,
    /// Sum of debits, cents.
    pub total_debits_cents: u128,
    /// Sum of credits, cents.
    pub total_credits_cents: u128,
}

impl TrialBalance {
    /// True when debits equal credits.
    pub fn is_balanced(&self) -> bool {
        self.total_debits_cents == self.total_credits_cents
    }
}

fn name(code: u16) -> String {
    AccountType::from_code(code).map_or_else(|| format!("ACCOUNT_{code}"), |t| t.name().to_owned())
}

/// The trial balance of a set of accounts (an org's chart), posted amounts only.
pub fn trial_balance(accounts: &[Account]) -> TrialBalance {
    let mut rows: Vec<TrialBalanceRow> = accounts
        .iter()
        .map(|a| TrialBalanceRow {
            code: a.code,
            name: name(a.code),
            debits_cents: a.debits_posted,
            credits_cents: a.credits_posted,
            net_credit_cents: i128::try_from(a.credits_posted).unwrap_or(i128::MAX)
                - i128::try_from(a.debits_posted).unwrap_or(i128::MAX),
        })
        .collect();
    rows.sort_by_key(|r| r.code);
    TrialBalance {
        total_debits_cents: rows.iter().map(|r| r.debits_cents).sum(),
        total_credits_cents: rows.iter().map(|r| r.credits_cents).sum(),
        rows,
    }
}

/// One journal entry: a transfer in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// The transfer id (hex).
    pub transfer_id: String,
    /// The backend's timestamp.
    pub timestamp: u64,
    /// The transfer code's name.
    pub code: String,
    /// The debited account's name.
    pub debit: String,
    /// The credited account's name.
    pub credit: String,
    /// Cents.
    pub amount_cents: u128,
    /// The business record (policy, claim) as a UUID.
    pub subject: String,
    /// The leg number within its chain.
    pub leg: u32,
}

/// Journal entries for transfers, naming accounts by the org's chart (`accounts`), by timestamp.
pub fn journal(accounts: &[Account], transfers: &[Transfer]) -> Vec<JournalEntry> {
    let account_name =
        |id: u128| accounts.iter().find(|a| a.id == id).map_or_else(|| format!("{id:032x}"), |a| name(a.code));
    let mut entries: Vec<JournalEntry> = transfers
        .iter()
        .map(|t| JournalEntry {
            transfer_id: format!("{:032x}", t.id),
            timestamp: t.timestamp,
            code: TransferCode::from_code(t.code).map_or_else(|| t.code.to_string(), |c| c.name().to_owned()),
            debit: account_name(t.debit_account_id),
            credit: account_name(t.credit_account_id),
            amount_cents: t.amount,
            subject: uuid::Uuid::from_u128(t.user_data_128).to_string(),
            leg: t.user_data_32,
        })
        .collect();
    entries.sort_by_key(|e| e.timestamp);
    entries
}
