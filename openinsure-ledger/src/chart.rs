//! The chart of accounts and the transfer codes.
//!
//! Each org has one account of every [`AccountType`]; its id is derived from the org id and the
//! type code (a name-based UUID of the org with the code in its low bits), so it never needs a
//! lookup table and two orgs never share one (that would take two SHA-1 digests equal in all but
//! their lowest bits).
//! The account's `user_data_128` holds the org id.

use openinsure_core::ids::OrgId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Account, AccountFlags, LEDGER_USD};

/// Namespace of account ids (a fixed random UUID).
const ACCOUNT_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a0e_5b7d_4c3e_9a21_7d4e_8b6f_0c11);
/// Namespace of transfer ids.
const TRANSFER_NAMESPACE: Uuid = Uuid::from_u128(0x2b8e_91d4_07a6_4f5c_b3e2_5c9d_1a7f_4e22);

/// The account types: the seed's nine (1 to 9), then the counter-accounts this crate adds so that
/// every movement has two sides (10 and up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountType {
    /// 1: net premium owed to the carrier.
    CarrierPayable = 1,
    /// 2: the hub account premium receipts land in (may never go below zero).
    MgaFiduciary = 2,
    /// 3: MGA commission and fee income.
    MgaRevenue = 3,
    /// 4: commissions owed to producers.
    ProducerPayable = 4,
    /// 5: premium taxes owed to state authorities.
    TaxAuthorityPayable = 5,
    /// 6: the captive loss fund (may never go below zero).
    LossFund = 6,
    /// 7: cumulative claim disbursements.
    ClaimsPaid = 7,
    /// 8: outstanding loss reserves.
    Reserves = 8,
    /// 9: reinsurance premiums owed to reinsurers.
    ReinsurerPayable = 9,
    /// 10: what insureds pay in (the outside of premium receipts).
    PremiumReceivable = 10,
    /// 11: the counter-account of reserve changes (incurred losses).
    IncurredLosses = 11,
    /// 12: subrogation and salvage recoveries coming in.
    RecoveriesReceivable = 12,
    /// 13: reinsurance recoveries coming in.
    ReinsuranceReceivable = 13,
    /// 14: money paid out of the platform (settlements to carriers, producers, tax authorities).
    Disbursements = 14,
}

impl AccountType {
    /// Every type, by code.
    pub const ALL: [AccountType; 14] = [
        AccountType::CarrierPayable,
        AccountType::MgaFiduciary,
        AccountType::MgaRevenue,
        AccountType::ProducerPayable,
        AccountType::TaxAuthorityPayable,
        AccountType::LossFund,
        AccountType::ClaimsPaid,
        AccountType::Reserves,
        AccountType::ReinsurerPayable,
        AccountType::PremiumReceivable,
        AccountType::IncurredLosses,
        AccountType::RecoveriesReceivable,
        AccountType::ReinsuranceReceivable,
        AccountType::Disbursements,
    ];

    /// The numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The type of a code.
    pub fn from_code(code: u16) -> Option<AccountType> {
        AccountType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The seed's name (`CARRIER_PAYABLE`).
    pub fn name(self) -> &'static str {
        match self {
            AccountType::CarrierPayable => "CARRIER_PAYABLE",
            AccountType::MgaFiduciary => "MGA_FIDUCIARY",
            AccountType::MgaRevenue => "MGA_REVENUE",
            AccountType::ProducerPayable => "PRODUCER_PAYABLE",
            AccountType::TaxAuthorityPayable => "TAX_AUTHORITY_PAYABLE",
            AccountType::LossFund => "LOSS_FUND",
            AccountType::ClaimsPaid => "CLAIMS_PAID",
            AccountType::Reserves => "RESERVES",
            AccountType::ReinsurerPayable => "REINSURER_PAYABLE",
            AccountType::PremiumReceivable => "PREMIUM_RECEIVABLE",
            AccountType::IncurredLosses => "INCURRED_LOSSES",
            AccountType::RecoveriesReceivable => "RECOVERIES_RECEIVABLE",
            AccountType::ReinsuranceReceivable => "REINSURANCE_RECEIVABLE",
            AccountType::Disbursements => "DISBURSEMENTS",
        }
    }

    /// Balance constraints, enforced by the ledger engine itself (TigerBeetle's account flags; the
    /// memory engine enforces them the same way), so no sequence of transfers can drive a real
    /// balance below zero:
    /// - the credit-normal accounts (what the MGA holds or owes: the fiduciary account, the loss
    ///   fund, revenue, every payable, reserves, claims paid) carry `debits_must_not_exceed_credits`:
    ///   nobody is paid more than is owed to them, and no fund pays out more than it holds;
    /// - incurred losses, debit-normal, carries `credits_must_not_exceed_debits`: a reserve can be
    ///   taken down by no more than was set up;
    /// - the counter-accounts standing for the world outside (premium receivable, recoveries and
    ///   reinsurance receivable, disbursements) are unconstrained.
    pub fn flags(self) -> AccountFlags {
        match self {
            AccountType::CarrierPayable
            | AccountType::MgaFiduciary
            | AccountType::MgaRevenue
            | AccountType::ProducerPayable
            | AccountType::TaxAuthorityPayable
            | AccountType::LossFund
            | AccountType::ClaimsPaid
            | AccountType::Reserves
            | AccountType::ReinsurerPayable => {
                AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS.union(AccountFlags::HISTORY)
            }
            AccountType::IncurredLosses => AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS.union(AccountFlags::HISTORY),
            AccountType::PremiumReceivable
            | AccountType::RecoveriesReceivable
            | AccountType::ReinsuranceReceivable
            | AccountType::Disbursements => AccountFlags::HISTORY,
        }
    }
}

/// The transfer codes: the seed's, then this crate's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransferCode {
    /// 101: a premium payment received, and the carrier's net premium leg of its split.
    PremiumPayment = 101,
    /// 102: commission legs (producer, MGA).
    CommissionSplit = 102,
    /// 103: premium tax legs.
    TaxSplit = 103,
    /// 104: fee legs (policy fees, installment fees).
    FeeSplit = 104,
    /// 105: a refund of premium and taxes to the insured, and the reversal legs that fund it.
    PremiumRefund = 105,
    /// 201: paying out a payable (carrier, producer, tax authority).
    Settlement = 201,
    /// 301: a claim payment.
    ClaimPayment = 301,
    /// 302: a subrogation or salvage recovery.
    Recovery = 302,
    /// 303: a change to case reserves.
    ReserveAdjustment = 303,
    /// 304: a reinsurance recovery.
    ReinsuranceRecovery = 304,
    /// 305: funding the loss fund from the carrier's payable.
    LossFunding = 305,
}

impl TransferCode {
    /// Every code.
    pub const ALL: [TransferCode; 11] = [
        TransferCode::PremiumPayment,
        TransferCode::CommissionSplit,
        TransferCode::TaxSplit,
        TransferCode::FeeSplit,
        TransferCode::PremiumRefund,
        TransferCode::Settlement,
        TransferCode::ClaimPayment,
        TransferCode::Recovery,
        TransferCode::ReserveAdjustment,
        TransferCode::ReinsuranceRecovery,
        TransferCode::LossFunding,
    ];

    /// The numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The code's type.
    pub fn from_code(code: u16) -> Option<TransferCode> {
        TransferCode::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The seed's name.
    pub fn name(self) -> &'static str {
        match self {
            TransferCode::PremiumPayment => "PREMIUM_PAYMENT",
            TransferCode::CommissionSplit => "COMMISSION_SPLIT",
            TransferCode::TaxSplit => "TAX_SPLIT",
            TransferCode::FeeSplit => "FEE_SPLIT",
            TransferCode::PremiumRefund => "PREMIUM_REFUND",
            TransferCode::Settlement => "SETTLEMENT",
            TransferCode::ClaimPayment => "CLAIM_PAYMENT",
            TransferCode::Recovery => "RECOVERY",
            TransferCode::ReserveAdjustment => "RESERVE_ADJUSTMENT",
            TransferCode::ReinsuranceRecovery => "REINSURANCE_RECOVERY",
            TransferCode::LossFunding => "LOSS_FUNDING",
        }
    }
}

/// The base of an org's account ids: a name-based UUID of the org. Account ids are this base with
/// the type code XOR-ed into the low bits, so one hash serves the whole chart.
pub fn account_base(org: OrgId) -> u128 {
    Uuid::new_v5(&ACCOUNT_NAMESPACE, org.as_uuid().as_bytes()).as_u128()
}

/// The id of an org's account of a type.
pub fn account_id(org: OrgId, ty: AccountType) -> u128 {
    account_base(org) ^ u128::from(ty.code())
}

/// The base of the transfer ids of business event `key` in an org: a name-based UUID of
/// (org, key). Leg ids are this base with the leg number XOR-ed into the low bits.
pub fn transfer_base(org: OrgId, key: Uuid) -> u128 {
    let mut name = [0u8; 32];
    name[..16].copy_from_slice(org.as_uuid().as_bytes());
    name[16..].copy_from_slice(key.as_bytes());
    Uuid::new_v5(&TRANSFER_NAMESPACE, &name).as_u128()
}

/// The id of leg `leg` of the business event `key` (a payment id, a claim transaction id) in an
/// org: the same key and leg give the same id, so a retry posts nothing twice.
pub fn transfer_id(org: OrgId, key: Uuid, leg: u32) -> u128 {
    transfer_base(org, key) ^ u128::from(leg)
}

/// The org's accounts, one per type, ready to create (idempotent: they `exist` the second time).
pub fn chart_of_accounts(org: OrgId) -> Vec<Account> {
    let base = account_base(org);
    AccountType::ALL
        .into_iter()
        .map(|ty| Account {
            id: base ^ u128::from(ty.code()),
            user_data_128: org.as_uuid().as_u128(),
            ledger: LEDGER_USD,
            code: ty.code(),
            flags: ty.flags(),
            ..Account::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = OrgId::from_uuid(Uuid::from_u128(1));
        let b = OrgId::from_uuid(Uuid::from_u128(2));
        let mut seen = std::collections::HashSet::new();
        for org in [a, b] {
            for ty in AccountType::ALL {
                assert!(seen.insert(account_id(org, ty)));
                assert_eq!(account_id(org, ty), account_id(org, ty));
            }
        }
        let key = Uuid::from_u128(9);
        assert_eq!(transfer_id(a, key, 0), transfer_id(a, key, 0));
        assert_ne!(transfer_id(a, key, 0), transfer_id(a, key, 1));
        assert_ne!(transfer_id(a, key, 0), transfer_id(b, key, 0));
        assert_eq!(chart_of_accounts(a).len(), 14);
        assert_eq!(AccountType::from_code(2), Some(AccountType::MgaFiduciary));
        assert_eq!(TransferCode::from_code(201), Some(TransferCode::Settlement));
    }
}
