//! The ledger's operations as pure functions: from a business event to its transfers.
//!
//! Every function returns one linked chain (all legs post or none do), with ids derived from the
//! event's key and the leg number, so posting the same event twice posts nothing the second time.

use openinsure_core::billing::Installment;
use openinsure_core::ids::{OrgId, PolicyId};
use openinsure_core::money::{Factor, Money, Rounding};
use openinsure_core::policy::Policy;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(test)]
use crate::chart::account_id;
use crate::chart::{AccountType, TransferCode, account_base, transfer_base};
use crate::model::{LEDGER_USD, Transfer, TransferFlags};

/// Why an operation cannot be turned into transfers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// An input field is refused.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// An amount overflowed.
    #[error(transparent)]
    Money(#[from] openinsure_core::money::MoneyError),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> LedgerError {
    LedgerError::Invalid { field, reason: reason.into() }
}

fn cents(m: Money, field: &'static str) -> Result<u128, LedgerError> {
    if m > Money::MAX_OPERATION {
        return Err(invalid(field, format!("must be at most {} cents per operation", Money::MAX_OPERATION.cents())));
    }
    u128::try_from(m.cents()).map_err(|_| invalid(field, "must not be negative"))
}

/// One leg of a chain, before it becomes a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    /// Its fixed number within the operation (ids derive from it; zero legs are skipped, the
    /// numbers of the others do not move).
    pub number: u32,
    /// Debited account type.
    pub debit: AccountType,
    /// Credited account type.
    pub credit: AccountType,
    /// Cents.
    pub amount: Money,
    /// The transfer code.
    pub code: TransferCode,
}

/// Turns legs into one linked chain of transfers for `org` under the event `key`; legs of zero
/// are left out. `subject` goes to `user_data_128` (the policy or claim).
pub fn chain(org: OrgId, key: Uuid, subject: Uuid, legs: &[Leg]) -> Result<Vec<Transfer>, LedgerError> {
    let mut out = Vec::with_capacity(legs.len());
    let accounts = account_base(org);
    let transfers = transfer_base(org, key);
    for leg in legs {
        if leg.amount.is_zero() {
            continue;
        }
        out.push(Transfer {
            id: transfers ^ u128::from(leg.number),
            debit_account_id: accounts ^ u128::from(leg.debit.code()),
            credit_account_id: accounts ^ u128::from(leg.credit.code()),
            amount: cents(leg.amount, "amount")?,
            user_data_128: subject.as_u128(),
            user_data_32: leg.number,
            ledger: LEDGER_USD,
            code: leg.code.code(),
            flags: TransferFlags::LINKED,
            ..Transfer::default()
        });
    }
    if let Some(last) = out.last_mut() {
        last.flags = last.flags.without(TransferFlags::LINKED);
    }
    Ok(out)
}

/// What a premium payment pays for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PremiumAllocation {
    /// Premium.
    pub premium: Money,
    /// Policy fees (MGA revenue).
    pub policy_fees: Money,
    /// Premium taxes and stamping fees.
    pub taxes: Money,
    /// The plan's installment fee (MGA revenue).
    pub installment_fee: Money,
}

impl PremiumAllocation {
    /// The total received.
    pub fn total(&self) -> Result<Money, LedgerError> {
        Ok(Money::checked_sum([self.premium, self.policy_fees, self.taxes, self.installment_fee])?)
    }

    /// What an installment of a policy pays for: its premium, its installment fee, and its fees
    /// and taxes: on the first installment the policy's fees come first (up to what it carries)
    /// and the rest is taxes; on any other installment (taxes billed by an endorsement or a
    /// reinstatement) it is all taxes.
    pub fn for_installment(policy: &Policy, installment: &Installment) -> Result<PremiumAllocation, LedgerError> {
        let policy_fees =
            if installment.number == 1 { policy.fees.min(installment.fees_and_taxes) } else { Money::ZERO };
        if policy_fees.is_negative() {
            return Err(invalid("feesCents", "must not be negative"));
        }
        Ok(PremiumAllocation {
            premium: installment.premium,
            policy_fees,
            taxes: installment.fees_and_taxes.checked_sub(policy_fees)?,
            installment_fee: installment.installment_fee,
        })
    }
}

/// How premium is shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitTerms {
    /// The producer's commission, a rate of premium.
    pub producer_commission_rate: Factor,
    /// The MGA's commission from the carrier, a rate of premium.
    pub mga_commission_rate: Factor,
}

/// A premium payment received for a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PremiumPayment {
    /// The org.
    pub org: OrgId,
    /// The payment's id: the idempotency key of its transfers.
    pub payment_id: Uuid,
    /// The policy paid for.
    pub policy_id: PolicyId,
    /// What it pays for.
    pub allocation: PremiumAllocation,
    /// How premium is shared.
    pub terms: SplitTerms,
}

/// The legs of a premium split, by number.
pub mod legs {
    /// Premium receivable to the fiduciary account: the whole payment.
    pub const RECEIPT: u32 = 0;
    /// Fiduciary to carrier payable: net premium.
    pub const CARRIER_NET: u32 = 1;
    /// Fiduciary to producer payable: producer commission.
    pub const PRODUCER_COMMISSION: u32 = 2;
    /// Fiduciary to MGA revenue: MGA commission.
    pub const MGA_COMMISSION: u32 = 3;
    /// Fiduciary to MGA revenue: policy and installment fees.
    pub const FEES: u32 = 4;
    /// Fiduciary to tax authority payable: taxes.
    pub const TAXES: u32 = 5;
}

/// Splits a premium payment: the receipt into the MGA fiduciary account, then the carrier's net
/// premium, the producer's commission, the MGA's commission and fees, and the taxes out of it.
///
/// Rounding: each commission is the premium times its rate rounded half-even to the cent; the
/// carrier's net premium is what is left of the premium, so it takes every remainder cent and the
/// legs out of the fiduciary account sum exactly to the payment.
pub fn split_premium_payment(p: &PremiumPayment) -> Result<Vec<Transfer>, LedgerError> {
    let a = p.allocation;
    for (field, m) in [
        ("premiumCents", a.premium),
        ("policyFeesCents", a.policy_fees),
        ("taxesCents", a.taxes),
        ("installmentFeeCents", a.installment_fee),
    ] {
        if m.is_negative() {
            return Err(invalid(field, "must not be negative"));
        }
    }
    let (producer, mga, carrier) = shares(a.premium, p.terms)?;
    let fees = a.policy_fees.checked_add(a.installment_fee)?;
    use AccountType as A;
    use TransferCode as C;
    let legs = [
        Leg {
            number: legs::RECEIPT,
            debit: A::PremiumReceivable,
            credit: A::MgaFiduciary,
            amount: a.total()?,
            code: C::PremiumPayment,
        },
        Leg {
            number: legs::CARRIER_NET,
            debit: A::MgaFiduciary,
            credit: A::CarrierPayable,
            amount: carrier,
            code: C::PremiumPayment,
        },
        Leg {
            number: legs::PRODUCER_COMMISSION,
            debit: A::MgaFiduciary,
            credit: A::ProducerPayable,
            amount: producer,
            code: C::CommissionSplit,
        },
        Leg {
            number: legs::MGA_COMMISSION,
            debit: A::MgaFiduciary,
            credit: A::MgaRevenue,
            amount: mga,
            code: C::CommissionSplit,
        },
        Leg { number: legs::FEES, debit: A::MgaFiduciary, credit: A::MgaRevenue, amount: fees, code: C::FeeSplit },
        Leg {
            number: legs::TAXES,
            debit: A::MgaFiduciary,
            credit: A::TaxAuthorityPayable,
            amount: a.taxes,
            code: C::TaxSplit,
        },
    ];
    // postcondition (TIGER_STYLE): what leaves the fiduciary account is exactly what came in
    debug_assert_eq!(
        legs.iter().skip(1).map(|l| i128::from(l.amount.cents())).sum::<i128>(),
        i128::from(legs[0].amount.cents()),
        "the split's legs sum to the receipt"
    );
    chain(p.org, p.payment_id, p.policy_id.as_uuid(), &legs)
}

/// A refund to the insured of premium and taxes collected beyond what is owed (a cancellation or
/// a return-premium endorsement).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PremiumRefund {
    /// The org.
    pub org: OrgId,
    /// The refund's id: the idempotency key of its transfers.
    pub refund_id: Uuid,
    /// The policy.
    pub policy_id: PolicyId,
    /// Premium refunded.
    pub premium: Money,
    /// Taxes refunded.
    pub taxes: Money,
    /// How the policy's premium was shared when collected.
    pub terms: SplitTerms,
}

/// The legs of a premium refund, by number.
pub mod refund_legs {
    /// Carrier payable back to the fiduciary account: the carrier's net premium returned.
    pub const CARRIER_NET: u32 = 1;
    /// Producer payable back: the producer's commission clawed back.
    pub const PRODUCER_COMMISSION: u32 = 2;
    /// MGA revenue back: the MGA's commission clawed back.
    pub const MGA_COMMISSION: u32 = 3;
    /// Tax authority payable back: the taxes returned.
    pub const TAXES: u32 = 5;
    /// Fiduciary to the insured (premium receivable): the whole refund.
    pub const PAYOUT: u32 = 6;
}

/// Reverses the split of the refunded premium: the carrier's net premium, the producer's and the
/// MGA's commissions and the taxes come back into the fiduciary account, which pays the insured.
///
/// Rounding is the split's: each commission is the refunded premium times its rate rounded
/// half-even, the carrier's net takes the remainder, so the reversal legs sum exactly to the
/// refund. Fees are not refunded (policy fees are earned at bind, installment fees when charged).
/// A debited payable that no longer holds its part (settled already) makes the ledger refuse the
/// whole chain.
pub fn refund_premium(r: &PremiumRefund) -> Result<Vec<Transfer>, LedgerError> {
    for (field, m) in [("premiumCents", r.premium), ("taxesCents", r.taxes)] {
        if m.is_negative() {
            return Err(invalid(field, "must not be negative"));
        }
    }
    let (producer, mga, carrier) = shares(r.premium, r.terms)?;
    let total = r.premium.checked_add(r.taxes)?;
    use AccountType as A;
    use TransferCode as C;
    let back = |number, debit, amount| Leg { number, debit, credit: A::MgaFiduciary, amount, code: C::PremiumRefund };
    let legs = [
        back(refund_legs::CARRIER_NET, A::CarrierPayable, carrier),
        back(refund_legs::PRODUCER_COMMISSION, A::ProducerPayable, producer),
        back(refund_legs::MGA_COMMISSION, A::MgaRevenue, mga),
        back(refund_legs::TAXES, A::TaxAuthorityPayable, r.taxes),
        Leg {
            number: refund_legs::PAYOUT,
            debit: A::MgaFiduciary,
            credit: A::PremiumReceivable,
            amount: total,
            code: C::PremiumRefund,
        },
    ];
    debug_assert_eq!(
        legs.iter().take(4).map(|l| i128::from(l.amount.cents())).sum::<i128>(),
        i128::from(total.cents()),
        "the reversal legs sum to the refund"
    );
    chain(r.org, r.refund_id, r.policy_id.as_uuid(), &legs)
}

/// The producer's commission, the MGA's commission and the carrier's net of a premium movement,
/// by the split's rounding; a negative movement (a return) splits as its opposite, negated, so a
/// return reverses exactly what the same premium added.
pub fn premium_shares(premium: Money, terms: SplitTerms) -> Result<(Money, Money, Money), LedgerError> {
    if premium.is_negative() {
        let (p, m, c) = shares(Money::ZERO.checked_sub(premium)?, terms)?;
        Ok((Money::ZERO.checked_sub(p)?, Money::ZERO.checked_sub(m)?, Money::ZERO.checked_sub(c)?))
    } else {
        shares(premium, terms)
    }
}

/// The producer's commission, the MGA's commission and the carrier's net of `premium`.
fn shares(premium: Money, terms: SplitTerms) -> Result<(Money, Money, Money), LedgerError> {
    let (pc, mc) = (terms.producer_commission_rate.value(), terms.mga_commission_rate.value());
    if pc.is_sign_negative() || mc.is_sign_negative() || pc + mc > rust_decimal::Decimal::ONE {
        return Err(invalid("commissionRates", "rates must be at least 0 and sum to at most 1"));
    }
    let producer = premium.mul_factor(terms.producer_commission_rate, Rounding::HalfEven)?;
    let mga = premium.mul_factor(terms.mga_commission_rate, Rounding::HalfEven)?;
    let carrier = premium.checked_sub(producer)?.checked_sub(mga)?;
    if carrier.is_negative() {
        return Err(invalid("commissionRates", "commissions exceed the premium after rounding"));
    }
    Ok((producer, mga, carrier))
}

/// What a claim transaction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum ClaimTransactionKind {
    /// A payment out of the loss fund, taking down the case reserve by `reserve_takedown`.
    Payment {
        /// Cents paid.
        #[serde(rename = "amountCents")]
        amount: Money,
        /// Cents of reserve released with it.
        #[serde(rename = "reserveTakedownCents")]
        reserve_takedown: Money,
    },
    /// A subrogation or salvage recovery into the loss fund.
    Recovery {
        /// Cents recovered.
        #[serde(rename = "amountCents")]
        amount: Money,
    },
    /// A change to the case reserve: positive raises it, negative lowers it.
    ReserveAdjustment {
        /// Cents of change.
        #[serde(rename = "changeCents")]
        change: Money,
    },
    /// A reinsurance recovery into the loss fund.
    ReinsuranceRecovery {
        /// Cents recovered.
        #[serde(rename = "amountCents")]
        amount: Money,
    },
}

/// A claim transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimTransaction {
    /// The org.
    pub org: OrgId,
    /// The transaction's id: the idempotency key of its transfers.
    pub transaction_id: Uuid,
    /// The claim (goes to `user_data_128`).
    pub claim_id: Uuid,
    /// What it does.
    pub kind: ClaimTransactionKind,
}

/// The transfers of a claim transaction.
pub fn claim_transaction(t: &ClaimTransaction) -> Result<Vec<Transfer>, LedgerError> {
    use AccountType as A;
    use TransferCode as C;
    let positive = |m: Money, field: &'static str| {
        if m.cents() > 0 { Ok(m) } else { Err(invalid(field, "must be positive")) }
    };
    let legs: Vec<Leg> = match t.kind {
        ClaimTransactionKind::Payment { amount, reserve_takedown } => {
            let amount = positive(amount, "amountCents")?;
            if reserve_takedown.is_negative() {
                return Err(invalid("reserveTakedownCents", "must not be negative"));
            }
            vec![
                Leg { number: 0, debit: A::LossFund, credit: A::ClaimsPaid, amount, code: C::ClaimPayment },
                Leg {
                    number: 1,
                    debit: A::Reserves,
                    credit: A::IncurredLosses,
                    amount: reserve_takedown,
                    code: C::ReserveAdjustment,
                },
            ]
        }
        ClaimTransactionKind::Recovery { amount } => vec![Leg {
            number: 0,
            debit: A::RecoveriesReceivable,
            credit: A::LossFund,
            amount: positive(amount, "amountCents")?,
            code: C::Recovery,
        }],
        ClaimTransactionKind::ReinsuranceRecovery { amount } => vec![Leg {
            number: 0,
            debit: A::ReinsuranceReceivable,
            credit: A::LossFund,
            amount: positive(amount, "amountCents")?,
            code: C::ReinsuranceRecovery,
        }],
        ClaimTransactionKind::ReserveAdjustment { change } if change.cents() > 0 => {
            vec![Leg {
                number: 0,
                debit: A::IncurredLosses,
                credit: A::Reserves,
                amount: change,
                code: C::ReserveAdjustment,
            }]
        }
        ClaimTransactionKind::ReserveAdjustment { change } if change.cents() < 0 => vec![Leg {
            number: 0,
            debit: A::Reserves,
            credit: A::IncurredLosses,
            amount: Money::ZERO.checked_sub(change)?,
            code: C::ReserveAdjustment,
        }],
        ClaimTransactionKind::ReserveAdjustment { .. } => return Err(invalid("changeCents", "must not be zero")),
    };
    chain(t.org, t.transaction_id, t.claim_id, &legs)
}

/// Moves `amount` from the carrier's payable into the loss fund (the carrier funds claims).
pub fn fund_losses(org: OrgId, key: Uuid, amount: Money) -> Result<Vec<Transfer>, LedgerError> {
    if let Some(reason) = amount.operation_refusal() {
        return Err(invalid("amountCents", reason));
    }
    let leg = Leg {
        number: 0,
        debit: AccountType::CarrierPayable,
        credit: AccountType::LossFund,
        amount,
        code: TransferCode::LossFunding,
    };
    chain(org, key, key, &[leg])
}

/// The transfers of a settlement: one leg per line, each paying `amount` out of `payable` for
/// the subject (policy) it names, linked so the whole statement settles or none of it does. Every
/// leg carries `tag` in `user_data_64` (so the settlement can be read back) and the subject in
/// `user_data_128`. A leg would take the payable below zero: the ledger refuses the chain.
pub fn settle_statement(
    org: OrgId,
    key: Uuid,
    tag: u64,
    payable: AccountType,
    lines: &[(Uuid, Money)],
) -> Result<Vec<Transfer>, LedgerError> {
    if !matches!(payable, AccountType::CarrierPayable | AccountType::ProducerPayable) {
        return Err(invalid("account", format!("`{}` is not settled by statement", payable.name())));
    }
    if lines.is_empty() {
        return Err(invalid("lines", "a statement settles at least one line"));
    }
    if lines.len() > 8_000 {
        return Err(invalid("lines", "at most 8000 lines settle at once"));
    }
    let mut out = Vec::with_capacity(lines.len());
    for (n, (subject, amount)) in (0u32..).zip(lines) {
        if amount.cents() <= 0 {
            return Err(invalid("amountCents", "every line must be positive"));
        }
        let leg = Leg {
            number: n,
            debit: payable,
            credit: AccountType::Disbursements,
            amount: *amount,
            code: TransferCode::Settlement,
        };
        let mut t = chain(org, key, *subject, &[leg])?;
        out.append(&mut t);
    }
    let last = out.len() - 1;
    for (i, t) in out.iter_mut().enumerate() {
        t.user_data_64 = tag;
        t.flags = if i == last { t.flags.without(TransferFlags::LINKED) } else { t.flags.union(TransferFlags::LINKED) };
    }
    Ok(out)
}

/// Pays out a payable (carrier, producer, tax authority) to the outside world.
pub fn settle(org: OrgId, key: Uuid, payable: AccountType, amount: Money) -> Result<Vec<Transfer>, LedgerError> {
    if !matches!(
        payable,
        AccountType::CarrierPayable
            | AccountType::ProducerPayable
            | AccountType::TaxAuthorityPayable
            | AccountType::ReinsurerPayable
    ) {
        return Err(invalid("account", format!("`{}` is not a payable", payable.name())));
    }
    if amount.cents() <= 0 {
        return Err(invalid("amountCents", "must be positive"));
    }
    let leg =
        Leg { number: 0, debit: payable, credit: AccountType::Disbursements, amount, code: TransferCode::Settlement };
    chain(org, key, key, &[leg])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn org() -> OrgId {
        OrgId::from_uuid(Uuid::from_u128(1))
    }

    fn payment(premium: i64, fees: i64, taxes: i64, ifee: i64, pc: &str, mc: &str) -> PremiumPayment {
        PremiumPayment {
            org: org(),
            payment_id: Uuid::from_u128(77),
            policy_id: PolicyId::from_uuid(Uuid::from_u128(5)),
            allocation: PremiumAllocation {
                premium: Money::from_cents(premium),
                policy_fees: Money::from_cents(fees),
                taxes: Money::from_cents(taxes),
                installment_fee: Money::from_cents(ifee),
            },
            terms: SplitTerms {
                producer_commission_rate: Factor::new(pc.parse().unwrap()),
                mga_commission_rate: Factor::new(mc.parse().unwrap()),
            },
        }
    }

    #[test]
    fn hand_checked_split() {
        // $8,321.91 premium, 15% producer, 10% MGA, $400 fees, $416.10 tax
        let t = split_premium_payment(&payment(832_191, 40_000, 41_610, 0, "0.15", "0.10")).unwrap();
        let amounts: Vec<u128> = t.iter().map(|t| t.amount).collect();
        // producer 124828.65 -> 124829; mga 83219.1 -> 83219; carrier 832191 - 124829 - 83219 = 624143
        assert_eq!(amounts, vec![913_801, 624_143, 124_829, 83_219, 40_000, 41_610]);
        assert!(t[..5].iter().all(|t| t.flags.contains(TransferFlags::LINKED)));
        assert!(!t[5].flags.contains(TransferFlags::LINKED), "the chain closes on its last leg");
        assert_eq!(t[0].debit_account_id, account_id(org(), AccountType::PremiumReceivable));
        assert!(t[1..].iter().all(|t| t.debit_account_id == account_id(org(), AccountType::MgaFiduciary)));
    }

    #[test]
    fn zero_legs_are_left_out_and_ids_are_stable() {
        let t = split_premium_payment(&payment(100_000, 0, 0, 0, "0.1", "0")).unwrap();
        assert_eq!(t.iter().map(|t| t.user_data_32).collect::<Vec<_>>(), vec![0, 1, 2]);
        let again = split_premium_payment(&payment(100_000, 0, 0, 0, "0.1", "0")).unwrap();
        assert_eq!(t, again);
    }

    #[test]
    fn bad_inputs() {
        assert!(matches!(
            split_premium_payment(&payment(-1, 0, 0, 0, "0", "0")),
            Err(LedgerError::Invalid { field: "premiumCents", .. })
        ));
        assert!(matches!(
            split_premium_payment(&payment(1, 0, 0, 0, "0.6", "0.5")),
            Err(LedgerError::Invalid { field: "commissionRates", .. })
        ));
        let t = ClaimTransaction {
            org: org(),
            transaction_id: Uuid::from_u128(1),
            claim_id: Uuid::from_u128(2),
            kind: ClaimTransactionKind::ReserveAdjustment { change: Money::ZERO },
        };
        assert!(claim_transaction(&t).is_err());
        assert!(settle(org(), Uuid::from_u128(1), AccountType::MgaFiduciary, Money::from_cents(1)).is_err());
        assert!(settle(org(), Uuid::from_u128(1), AccountType::CarrierPayable, Money::ZERO).is_err());
        assert!(matches!(
            fund_losses(org(), Uuid::from_u128(1), Money::from_cents(-5)),
            Err(LedgerError::Invalid { field: "amountCents", .. })
        ));
        let pay = |amount, takedown| ClaimTransaction {
            org: org(),
            transaction_id: Uuid::from_u128(1),
            claim_id: Uuid::from_u128(2),
            kind: ClaimTransactionKind::Payment {
                amount: Money::from_cents(amount),
                reserve_takedown: Money::from_cents(takedown),
            },
        };
        assert!(matches!(claim_transaction(&pay(0, 0)), Err(LedgerError::Invalid { field: "amountCents", .. })));
        assert!(matches!(
            claim_transaction(&pay(10, -1)),
            Err(LedgerError::Invalid { field: "reserveTakedownCents", .. })
        ));
    }

    #[test]
    fn claim_transactions() {
        let mk = |kind| ClaimTransaction {
            org: org(),
            transaction_id: Uuid::from_u128(1),
            claim_id: Uuid::from_u128(2),
            kind,
        };
        let pay = claim_transaction(&mk(ClaimTransactionKind::Payment {
            amount: Money::from_cents(500),
            reserve_takedown: Money::from_cents(400),
        }))
        .unwrap();
        assert_eq!(pay.len(), 2);
        assert_eq!(pay[0].code, 301);
        assert_eq!(pay[1].debit_account_id, account_id(org(), AccountType::Reserves));
        let down = claim_transaction(&mk(ClaimTransactionKind::ReserveAdjustment { change: Money::from_cents(-300) }))
            .unwrap();
        assert_eq!((down[0].amount, down[0].debit_account_id), (300, account_id(org(), AccountType::Reserves)));
        let up =
            claim_transaction(&mk(ClaimTransactionKind::ReserveAdjustment { change: Money::from_cents(300) })).unwrap();
        assert_eq!(up[0].credit_account_id, account_id(org(), AccountType::Reserves));
    }

    proptest! {
        /// The legs out of the fiduciary account sum exactly to the payment received, and every
        /// leg is positive, for any amounts and any valid rates.
        #[test]
        fn split_legs_sum_to_the_payment(premium in 0i64..1_000_000_000_000, fees in 0i64..10_000_000, taxes in 0i64..100_000_000,
                                          ifee in 0i64..10_000, pc in 0u32..5000, mc in 0u32..5000) {
            let p = payment(premium, fees, taxes, ifee, &format!("0.{pc:04}"), &format!("0.{mc:04}"));
            let t = split_premium_payment(&p).unwrap();
            let receipt = t.iter().find(|t| t.user_data_32 == legs::RECEIPT).map_or(0, |t| t.amount);
            let out: u128 = t.iter().filter(|t| t.user_data_32 != legs::RECEIPT).map(|t| t.amount).sum();
            prop_assert_eq!(receipt, p.allocation.total().unwrap().cents() as u128);
            prop_assert_eq!(out, receipt);
            prop_assert!(t.iter().all(|t| t.amount > 0));
        }
    }
}
