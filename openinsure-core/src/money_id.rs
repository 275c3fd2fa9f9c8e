//! Money ids: every id that moves money is an idempotency key for that money.
//!
//! An installment payment, the down payment collected at bind, a claim payment, a claim recovery
//! and a loss-fund transfer each carry a caller-chosen id. The ledger derives its transfer ids from
//! it, so the id *is* the money: the same id must never stand for two different movements.
//!
//! The rule, for every money kind alike:
//! - the same id with the same [`MoneyUse`] is a replay: it changes nothing and answers as the first
//!   request did (a replay whose first attempt never completed completes it);
//! - the same id with a different [`MoneyUse`] (another installment, another amount, another claim,
//!   another kind) is refused with [`Error::MoneyIdReused`](crate::Error::MoneyIdReused), naming the
//!   id and what it was first used for, before anything is written;
//! - ids are unique per org across all money kinds.
//!
//! Use cases register the id through [`MoneyIdStore`](crate::store::MoneyIdStore) before the write
//! that moves the money; every such write is itself idempotent by the id, so a registration whose
//! write never happened is completed by the replay.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::claims::ClaimMoneyKind;
use crate::ids::{ClaimId, PolicyId, QuoteId};
use crate::money::Money;

/// What a money id moved: compared whole when the id comes again.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MoneyUse {
    /// A payment of one installment of a policy (its amount is the installment's).
    InstallmentPayment {
        /// The policy.
        policy_id: PolicyId,
        /// The installment paid.
        installment_number: u32,
    },
    /// The down payment collected when a quote is bound (the policy's first installment).
    DownPayment {
        /// The quote bound.
        quote_id: QuoteId,
    },
    /// A payment on a claim.
    ClaimPayment {
        /// The claim.
        claim_id: ClaimId,
        /// The amount paid.
        amount: Money,
    },
    /// A subrogation, salvage or reinsurance recovery on a claim.
    ClaimRecovery {
        /// The claim.
        claim_id: ClaimId,
        /// Which recovery.
        recovery: ClaimMoneyKind,
        /// The amount recovered.
        amount: Money,
    },
    /// Money moved from the carrier's payable into the loss fund.
    LossFunding {
        /// The amount moved.
        amount: Money,
    },
}

impl fmt::Display for MoneyUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoneyUse::InstallmentPayment { policy_id, installment_number } => {
                write!(f, "the payment of installment {installment_number} of policy `{policy_id}`")
            }
            MoneyUse::DownPayment { quote_id } => write!(f, "the down payment at the bind of quote `{quote_id}`"),
            MoneyUse::ClaimPayment { claim_id, amount } => {
                write!(f, "a payment of {amount} on claim `{claim_id}`")
            }
            MoneyUse::ClaimRecovery { claim_id, recovery, amount } => {
                let what = match recovery {
                    ClaimMoneyKind::Subrogation => "subrogation",
                    ClaimMoneyKind::Salvage => "salvage",
                    ClaimMoneyKind::ReinsuranceRecovery => "reinsurance",
                    ClaimMoneyKind::Payment | ClaimMoneyKind::ReserveAdjustment => "other",
                };
                write!(f, "a {what} recovery of {amount} on claim `{claim_id}`")
            }
            MoneyUse::LossFunding { amount } => write!(f, "a loss-fund transfer of {amount}"),
        }
    }
}

/// What registering a money id found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    /// The id was new: it now stands for this use.
    New,
    /// The id was registered for this same use before: a replay.
    Replay,
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn uses_say_what_they_moved() {
        let policy = PolicyId::from_uuid(Uuid::from_u128(1));
        let u = MoneyUse::InstallmentPayment { policy_id: policy, installment_number: 2 };
        assert_eq!(u.to_string(), format!("the payment of installment 2 of policy `{policy}`"));
        let r = MoneyUse::ClaimRecovery {
            claim_id: ClaimId::from_uuid(Uuid::from_u128(2)),
            recovery: ClaimMoneyKind::Salvage,
            amount: Money::from_cents(150),
        };
        assert!(r.to_string().starts_with("a salvage recovery of"), "{r}");
    }

    #[test]
    fn uses_round_trip_as_tagged_json() {
        let u = MoneyUse::LossFunding { amount: Money::from_cents(5) };
        let json = serde_json::to_value(&u).unwrap();
        assert_eq!(json["kind"], "loss_funding");
        assert_eq!(serde_json::from_value::<MoneyUse>(json).unwrap(), u);
    }
}
