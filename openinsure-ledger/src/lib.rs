#![doc = include_str!("../README.md")]

pub mod backend;
pub mod bordereau;
pub mod chart;
pub mod model;
pub mod ops;
pub mod remote;
pub mod reports;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use backend::{BackendError, LedgerBackend};
pub use chart::{AccountType, TransferCode, account_id, chart_of_accounts, transfer_id};
pub use model::{Account, AccountFlags, Transfer, TransferFlags};
pub use ops::{LedgerError, split_premium_payment};
