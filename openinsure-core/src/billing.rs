//! Billing schedules: how a policy's amount due is split into installments, and how changes after
//! bind are billed ([`adjust`]).

pub mod adjust;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError, Rounding};

/// A payment plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BillingPlan {
    /// One payment at inception.
    PaidInFull,
    /// 50% down, 50% at six months.
    TwoPay,
    /// Four payments of 25%, every three months.
    Quarterly,
    /// 20% down, then eight monthly payments of 10%.
    TenPay,
    /// Twelve equal monthly payments.
    TwelvePay,
}

/// Whether an installment has been paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstallmentStatus {
    /// Not yet paid.
    Due,
    /// Paid.
    Paid,
    /// No longer billed: a return premium or cancellation took away everything it billed.
    Voided,
}

/// One installment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Installment {
    /// 1-based position.
    pub number: u32,
    /// When it is due.
    pub due_date: NaiveDate,
    /// The premium part.
    #[serde(rename = "premiumCents")]
    pub premium: Money,
    /// Policy fees and taxes collected with it.
    #[serde(rename = "feesAndTaxesCents")]
    pub fees_and_taxes: Money,
    /// The plan's installment fee charged on it.
    #[serde(rename = "installmentFeeCents")]
    pub installment_fee: Money,
    /// What the insured pays: premium + fees and taxes + installment fee.
    #[serde(rename = "totalCents")]
    pub total: Money,
    /// Paid or due.
    pub status: InstallmentStatus,
    /// The payment that paid it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<uuid::Uuid>,
}

/// A policy's billing schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingSchedule {
    /// The plan.
    pub plan: BillingPlan,
    /// The installments, in due order (an installment added after bind comes last).
    pub installments: Vec<Installment>,
    /// Money paid back to the insured, oldest first (see [`adjust`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<adjust::Refund>,
}

/// The installment fee each plan charges on every installment after the first.
///
/// The first installment (the down payment) never carries an installment fee, so the fee of
/// [`BillingPlan::PaidInFull`] is never charged; it is kept so that every plan has an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstallmentFees {
    /// Fee per installment after the first for [`BillingPlan::PaidInFull`] (never charged).
    #[serde(rename = "paidInFullCents")]
    pub paid_in_full: Money,
    /// Fee per installment after the first for [`BillingPlan::TwoPay`].
    #[serde(rename = "twoPayCents")]
    pub two_pay: Money,
    /// Fee per installment after the first for [`BillingPlan::Quarterly`].
    #[serde(rename = "quarterlyCents")]
    pub quarterly: Money,
    /// Fee per installment after the first for [`BillingPlan::TenPay`].
    #[serde(rename = "tenPayCents")]
    pub ten_pay: Money,
    /// Fee per installment after the first for [`BillingPlan::TwelvePay`].
    #[serde(rename = "twelvePayCents")]
    pub twelve_pay: Money,
}

impl InstallmentFees {
    /// No installment fees on any plan.
    pub const NONE: InstallmentFees = InstallmentFees {
        paid_in_full: Money::ZERO,
        two_pay: Money::ZERO,
        quarterly: Money::ZERO,
        ten_pay: Money::ZERO,
        twelve_pay: Money::ZERO,
    };

    /// The fee charged on each installment after the first under `plan`.
    pub fn for_plan(&self, plan: BillingPlan) -> Money {
        match plan {
            BillingPlan::PaidInFull => self.paid_in_full,
            BillingPlan::TwoPay => self.two_pay,
            BillingPlan::Quarterly => self.quarterly,
            BillingPlan::TenPay => self.ten_pay,
            BillingPlan::TwelvePay => self.twelve_pay,
        }
    }
}

impl Default for InstallmentFees {
    /// The customary fees: paid in full $0.00, two-pay $5.00, quarterly $7.50, ten-pay $10.00 and
    /// twelve-pay $10.00 per installment after the first.
    fn default() -> Self {
        InstallmentFees {
            paid_in_full: Money::ZERO,
            two_pay: Money::from_cents(500),
            quarterly: Money::from_cents(750),
            ten_pay: Money::from_cents(1_000),
            twelve_pay: Money::from_cents(1_000),
        }
    }
}

/// One installment of a plan: when it falls due and its share of the premium.
struct Part {
    /// Months after the inception date.
    months: u32,
    /// Numerator of the premium share; the plan's [`PlanShape::denominator`] is the denominator.
    share: i64,
}

/// The parts of a plan; the shares sum to the denominator.
struct PlanShape {
    denominator: i64,
    parts: &'static [Part],
}

const fn part(months: u32, share: i64) -> Part {
    Part { months, share }
}

const PAID_IN_FULL: PlanShape = PlanShape { denominator: 1, parts: &[part(0, 1)] };
const TWO_PAY: PlanShape = PlanShape { denominator: 2, parts: &[part(0, 1), part(6, 1)] };
const QUARTERLY: PlanShape = PlanShape { denominator: 4, parts: &[part(0, 1), part(3, 1), part(6, 1), part(9, 1)] };
const TEN_PAY: PlanShape = PlanShape {
    denominator: 10,
    parts: &[
        part(0, 2),
        part(2, 1),
        part(3, 1),
        part(4, 1),
        part(5, 1),
        part(6, 1),
        part(7, 1),
        part(8, 1),
        part(9, 1),
    ],
};
const TWELVE_PAY: PlanShape = PlanShape {
    denominator: 12,
    parts: &[
        part(0, 1),
        part(1, 1),
        part(2, 1),
        part(3, 1),
        part(4, 1),
        part(5, 1),
        part(6, 1),
        part(7, 1),
        part(8, 1),
        part(9, 1),
        part(10, 1),
        part(11, 1),
    ],
};

impl BillingPlan {
    /// Every plan.
    pub const ALL: [BillingPlan; 5] = [
        BillingPlan::PaidInFull,
        BillingPlan::TwoPay,
        BillingPlan::Quarterly,
        BillingPlan::TenPay,
        BillingPlan::TwelvePay,
    ];

    /// The wire name (`paid_in_full`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            BillingPlan::PaidInFull => "paid_in_full",
            BillingPlan::TwoPay => "two_pay",
            BillingPlan::Quarterly => "quarterly",
            BillingPlan::TenPay => "ten_pay",
            BillingPlan::TwelvePay => "twelve_pay",
        }
    }

    /// How many installments the plan has: 1, 2, 4, 9 or 12.
    ///
    /// Ten-pay has nine installments: the 20% down payment counts as two of the ten tenths.
    pub fn installment_count(self) -> u32 {
        match self {
            BillingPlan::PaidInFull => 1,
            BillingPlan::TwoPay => 2,
            BillingPlan::Quarterly => 4,
            BillingPlan::TenPay => 9,
            BillingPlan::TwelvePay => 12,
        }
    }

    /// The months after inception at which each installment falls due, in order.
    pub fn due_months(self) -> impl Iterator<Item = u32> {
        self.shape().parts.iter().map(|p| p.months)
    }

    fn shape(self) -> &'static PlanShape {
        match self {
            BillingPlan::PaidInFull => &PAID_IN_FULL,
            BillingPlan::TwoPay => &TWO_PAY,
            BillingPlan::Quarterly => &QUARTERLY,
            BillingPlan::TenPay => &TEN_PAY,
            BillingPlan::TwelvePay => &TWELVE_PAY,
        }
    }
}

/// A billing schedule that cannot be computed, or an installment that cannot be paid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BillingError {
    /// The premium to split is below zero.
    #[error("premium `{0}` must not be negative")]
    NegativePremium(Money),
    /// The policy fees and taxes are below zero.
    #[error("fees and taxes `{0}` must not be negative")]
    NegativeFeesAndTaxes(Money),
    /// The plan's installment fee is below zero.
    #[error("installment fee `{fee}` of plan `{}` must not be negative", plan.as_str())]
    NegativeInstallmentFee {
        /// The plan.
        plan: BillingPlan,
        /// Its fee.
        fee: Money,
    },
    /// A due date is past the last date the calendar supports.
    #[error("due date {months} months after `{effective_date}` is out of range")]
    DueDateOutOfRange {
        /// The inception date.
        effective_date: NaiveDate,
        /// Months after it.
        months: u32,
    },
    /// No installment has this number.
    #[error("installment `{number}` not found")]
    InstallmentNotFound {
        /// The number asked for.
        number: u32,
    },
    /// The installment is already paid.
    #[error("installment `{number}` is already paid")]
    AlreadyPaid {
        /// Its number.
        number: u32,
    },
    /// The installment was voided: there is nothing to pay.
    #[error("installment `{number}` is voided")]
    Voided {
        /// Its number.
        number: u32,
    },
    /// A change would refund more than was collected and not yet refunded.
    #[error("a refund of `{refund}` is more than the `{held}` collected and not refunded")]
    RefundExceedsCollected {
        /// The refund the change needs.
        refund: Money,
        /// What is held.
        held: Money,
    },
    /// An amount overflowed.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl From<BillingError> for crate::error::Error {
    fn from(e: BillingError) -> Self {
        use crate::error::Error;
        match e {
            BillingError::NegativePremium(_) => Error::invalid("premiumCents", e.to_string()),
            BillingError::NegativeFeesAndTaxes(_) => Error::invalid("feesAndTaxesCents", e.to_string()),
            BillingError::NegativeInstallmentFee { .. } => Error::invalid("installmentFeeCents", e.to_string()),
            BillingError::DueDateOutOfRange { .. } => Error::invalid("effectiveDate", e.to_string()),
            BillingError::InstallmentNotFound { number } => Error::not_found("installment", number),
            BillingError::AlreadyPaid { .. } => Error::Conflict(e.to_string()),
            BillingError::Voided { .. } => Error::Rule { code: "installment_voided", message: e.to_string() },
            BillingError::RefundExceedsCollected { .. } => {
                Error::Rule { code: "refund_exceeds_collected", message: e.to_string() }
            }
            BillingError::Money(m) => Error::Money(m),
        }
    }
}

/// Computes a billing schedule.
///
/// The rules:
/// - **Plans and due dates.** Paid in full: one installment at inception. Two-pay: 50% at
///   inception, 50% at +6 months. Quarterly: 25% at +0, +3, +6 and +9 months. Ten-pay: 20% down
///   at inception, then eight installments of 10% at +2, +3, ..., +9 months (nine installments;
///   no payment falls due at +1 month, so the last one is due three months before a one-year
///   term ends). Twelve-pay: twelve equal installments monthly from inception (+0 to +11).
///   Every due date is `effective_date + n months` computed from inception with
///   [`NaiveDate::checked_add_months`], so month ends clamp (Jan 31 + 1 month = Feb 28 or 29)
///   without drifting (Jan 31 + 2 months = Mar 31).
/// - **Premium split, in integer cents.** Every installment after the first gets its share of the
///   premium rounded down ([`Rounding::Down`]); the first installment (the down payment) gets the
///   rest, so the installments sum exactly to `premium` and the remainder cents (at most one
///   fewer than the number of installments) are all collected up front. For example $1,000.01
///   in ten-pay is $200.01 down and eight installments of $100.00; $1,000.01 in twelve-pay is
///   $83.38 down and eleven of $83.33. For equal plans this is [`Money::split_even`] when the
///   remainder is at most one cent; with a larger remainder `split_even` spreads the cents over
///   the first installments, this rule keeps them all on the first.
/// - **Fees and taxes.** `fees_and_taxes` (policy fees and premium taxes) are due in full with
///   the first installment.
/// - **Installment fee.** `fees.for_plan(plan)` is charged on every installment after the first.
///
/// Each installment's `total` is premium + fees and taxes + installment fee; every installment
/// starts [`InstallmentStatus::Due`].
///
/// # Errors
///
/// [`BillingError::NegativePremium`], [`BillingError::NegativeFeesAndTaxes`] or
/// [`BillingError::NegativeInstallmentFee`] for amounts below zero,
/// [`BillingError::DueDateOutOfRange`] when a due date is past the calendar's end, and
/// [`BillingError::Money`] when an installment's total or the schedule's total overflows.
///
/// ```
/// use chrono::NaiveDate;
/// use openinsure_core::billing::{schedule, BillingPlan, InstallmentFees};
/// use openinsure_core::money::Money;
///
/// let start = NaiveDate::from_ymd_opt(2027, 1, 31).unwrap();
/// let fees = InstallmentFees::default();
/// let s = schedule(BillingPlan::TenPay, start, Money::from_cents(100_001), Money::from_cents(2_500), &fees).unwrap();
/// assert_eq!(s.installments.len(), 9);
/// assert_eq!(s.installments[0].premium, Money::from_cents(20_001));
/// assert_eq!(s.installments[0].total, Money::from_cents(22_501));
/// assert_eq!(s.installments[1].due_date, NaiveDate::from_ymd_opt(2027, 3, 31).unwrap());
/// assert_eq!(s.installments[1].total, Money::from_cents(11_000));
/// assert_eq!(s.premium_total().unwrap(), Money::from_cents(100_001));
/// ```
pub fn schedule(
    plan: BillingPlan,
    effective_date: NaiveDate,
    premium: Money,
    fees_and_taxes: Money,
    fees: &InstallmentFees,
) -> Result<BillingSchedule, BillingError> {
    if premium.is_negative() {
        return Err(BillingError::NegativePremium(premium));
    }
    if fees_and_taxes.is_negative() {
        return Err(BillingError::NegativeFeesAndTaxes(fees_and_taxes));
    }
    let installment_fee = fees.for_plan(plan);
    if installment_fee.is_negative() {
        return Err(BillingError::NegativeInstallmentFee { plan, fee: installment_fee });
    }
    let premiums = split_premium(plan, premium)?;
    let shape = plan.shape();
    let mut installments = Vec::with_capacity(shape.parts.len());
    for ((number, part), premium_part) in (1u32..).zip(shape.parts).zip(premiums) {
        let due_date = effective_date
            .checked_add_months(Months::new(part.months))
            .ok_or(BillingError::DueDateOutOfRange { effective_date, months: part.months })?;
        let (fees_and_taxes, installment_fee) =
            if number == 1 { (fees_and_taxes, Money::ZERO) } else { (Money::ZERO, installment_fee) };
        let total = premium_part.checked_add(fees_and_taxes)?.checked_add(installment_fee)?;
        installments.push(Installment {
            number,
            due_date,
            premium: premium_part,
            fees_and_taxes,
            installment_fee,
            total,
            status: InstallmentStatus::Due,
            payment_id: None,
        });
    }
    let schedule = BillingSchedule { plan, installments, refunds: Vec::new() };
    // The grand total must fit too, so that `total()` of a fresh schedule never fails.
    let total = schedule.total()?;
    // postcondition: the schedule bills the premium, the fees and taxes, and the installment fees
    debug_assert_eq!(schedule.premium_total().ok(), Some(premium));
    debug_assert_eq!(
        Some(total),
        premium.checked_add(fees_and_taxes).ok().and_then(|t| t
            .checked_add(
                installment_fee
                    .checked_mul_int(i64::try_from(installments_after_first(&schedule)).unwrap_or(0))
                    .ok()?
            )
            .ok())
    );
    Ok(schedule)
}

/// The installments that carry an installment fee (every one but the first).
fn installments_after_first(s: &BillingSchedule) -> usize {
    s.installments.len().saturating_sub(1)
}

/// Splits a non-negative premium into the plan's parts: each part after the first is its share
/// rounded down, the first takes the rest.
fn split_premium(plan: BillingPlan, premium: Money) -> Result<Vec<Money>, MoneyError> {
    let shape = plan.shape();
    let denominator = i128::from(shape.denominator);
    let mut parts = Vec::with_capacity(shape.parts.len());
    let mut rest = premium;
    parts.push(Money::ZERO);
    for part in shape.parts.iter().skip(1) {
        let cents = Rounding::Down.div_round(i128::from(premium.cents()) * i128::from(part.share), denominator);
        let amount = Money::from_cents(i64::try_from(cents).map_err(|_| MoneyError::Overflow { op: "mul" })?);
        rest = rest.checked_sub(amount)?;
        parts.push(amount);
    }
    if let Some(first) = parts.first_mut() {
        *first = rest;
    }
    // postcondition (TIGER_STYLE): the parts sum to the premium
    debug_assert_eq!(parts.iter().map(|m| i128::from(m.cents())).sum::<i128>(), i128::from(premium.cents()));
    Ok(parts)
}

impl BillingSchedule {
    /// Everything the insured pays over the schedule: the sum of the installments' totals.
    pub fn total(&self) -> Result<Money, MoneyError> {
        Money::checked_sum(self.installments.iter().map(|i| i.total))
    }

    /// The premium billed: the sum of the installments' premium parts.
    pub fn premium_total(&self) -> Result<Money, MoneyError> {
        Money::checked_sum(self.installments.iter().map(|i| i.premium))
    }

    /// What is still to be paid: the sum of the totals of installments not yet paid.
    pub fn balance_due(&self) -> Result<Money, MoneyError> {
        Money::checked_sum(self.installments.iter().filter(|i| i.status == InstallmentStatus::Due).map(|i| i.total))
    }

    /// The earliest installment not yet paid, if any.
    pub fn next_due(&self) -> Option<&Installment> {
        self.installments.iter().find(|i| i.status == InstallmentStatus::Due)
    }

    /// Records payment `payment_id` of installment `number`. Returns `true` when it is newly paid,
    /// `false` when this same payment was already recorded (a retry); a different payment of a
    /// paid installment is [`BillingError::AlreadyPaid`]. Nothing changes on an error or a retry.
    pub fn record_payment(&mut self, number: u32, payment_id: uuid::Uuid) -> Result<bool, BillingError> {
        let installment = self
            .installments
            .iter_mut()
            .find(|i| i.number == number)
            .ok_or(BillingError::InstallmentNotFound { number })?;
        match (installment.status, installment.payment_id) {
            (InstallmentStatus::Paid, Some(id)) if id == payment_id => Ok(false),
            (InstallmentStatus::Paid, _) => Err(BillingError::AlreadyPaid { number }),
            (InstallmentStatus::Voided, _) => Err(BillingError::Voided { number }),
            (InstallmentStatus::Due, _) => {
                installment.status = InstallmentStatus::Paid;
                installment.payment_id = Some(payment_id);
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn recording_payments_is_idempotent_per_payment() {
        let mut s = schedule(
            BillingPlan::TwoPay,
            date(2027, 1, 1),
            Money::from_cents(1000),
            Money::ZERO,
            &InstallmentFees::NONE,
        )
        .unwrap();
        let (a, b) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        assert_eq!(s.record_payment(1, a), Ok(true));
        assert_eq!(s.record_payment(1, a), Ok(false), "a retry");
        let before = s.clone();
        assert_eq!(s.record_payment(1, b), Err(BillingError::AlreadyPaid { number: 1 }));
        assert_eq!(s.record_payment(3, b), Err(BillingError::InstallmentNotFound { number: 3 }));
        assert_eq!(s, before);
    }

    fn cents(values: &[Money]) -> Vec<i64> {
        values.iter().map(|m| m.cents()).collect()
    }

    fn premiums(s: &BillingSchedule) -> Vec<i64> {
        s.installments.iter().map(|i| i.premium.cents()).collect()
    }

    fn due_dates(s: &BillingSchedule) -> Vec<NaiveDate> {
        s.installments.iter().map(|i| i.due_date).collect()
    }

    fn build(plan: BillingPlan, premium: i64) -> BillingSchedule {
        schedule(plan, date(2027, 1, 1), Money::from_cents(premium), Money::ZERO, &InstallmentFees::NONE).unwrap()
    }

    #[test]
    fn paid_in_full_is_one_installment_with_everything() {
        let s = schedule(
            BillingPlan::PaidInFull,
            date(2027, 1, 1),
            Money::from_cents(945_000),
            Money::from_cents(12_345),
            &InstallmentFees::default(),
        )
        .unwrap();
        assert_eq!(s.installments.len(), 1);
        let i = &s.installments[0];
        assert_eq!((i.number, i.due_date), (1, date(2027, 1, 1)));
        assert_eq!(
            (i.premium.cents(), i.fees_and_taxes.cents(), i.installment_fee.cents(), i.total.cents()),
            (945_000, 12_345, 0, 957_345)
        );
        assert_eq!(i.status, InstallmentStatus::Due);
        assert_eq!(s.total().unwrap().cents(), 957_345);
    }

    #[test]
    fn two_pay_splits_in_halves_six_months_apart() {
        let s = build(BillingPlan::TwoPay, 100_001);
        assert_eq!(premiums(&s), vec![50_001, 50_000]);
        assert_eq!(due_dates(&s), vec![date(2027, 1, 1), date(2027, 7, 1)]);
    }

    #[test]
    fn quarterly_puts_all_remainder_cents_on_the_down_payment() {
        // 100003 / 4 = 25000.75: three installments of 25000, the down payment 25003.
        let s = build(BillingPlan::Quarterly, 100_003);
        assert_eq!(premiums(&s), vec![25_003, 25_000, 25_000, 25_000]);
        assert_eq!(due_dates(&s), vec![date(2027, 1, 1), date(2027, 4, 1), date(2027, 7, 1), date(2027, 10, 1)]);
        // Differs from split_even, which spreads the three cents over the first three.
        assert_eq!(cents(&Money::from_cents(100_003).split_even(4)), vec![25_001, 25_001, 25_001, 25_000]);
    }

    #[test]
    fn ten_pay_of_a_thousand_dollars_and_one_cent() {
        // $1,000.01: 10% is 10000.1 cents -> 10000 (down); 20% down takes the rest, 20001.
        let s = build(BillingPlan::TenPay, 100_001);
        assert_eq!(premiums(&s), vec![20_001, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000]);
        assert_eq!(
            due_dates(&s),
            (0..9).map(|k| if k == 0 { date(2027, 1, 1) } else { date(2027, 2 + k, 1) }).collect::<Vec<_>>()
        );
        assert_eq!(s.installments.last().unwrap().due_date, date(2027, 10, 1));
    }

    #[test]
    fn ten_pay_remainder_up_to_nine_cents() {
        let s = build(BillingPlan::TenPay, 1_009);
        assert_eq!(premiums(&s), vec![209, 100, 100, 100, 100, 100, 100, 100, 100]);
    }

    #[test]
    fn twelve_pay_of_a_thousand_dollars_and_one_cent() {
        // 100001 / 12 = 8333.41: eleven of 8333, the first 100001 - 91663 = 8338.
        let s = build(BillingPlan::TwelvePay, 100_001);
        let mut expected = vec![8_338];
        expected.extend([8_333; 11]);
        assert_eq!(premiums(&s), expected);
        assert_eq!(s.installments[11].due_date, date(2027, 12, 1));
        // With a remainder of one cent the rule equals split_even.
        let s = build(BillingPlan::TwelvePay, 12_001);
        assert_eq!(premiums(&s), cents(&Money::from_cents(12_001).split_even(12)));
    }

    #[test]
    fn fees_and_taxes_on_the_first_installment_fee_on_the_others() {
        let fees = InstallmentFees::default();
        let s = schedule(
            BillingPlan::Quarterly,
            date(2027, 1, 1),
            Money::from_cents(100_000),
            Money::from_cents(5_000),
            &fees,
        )
        .unwrap();
        let rows: Vec<_> = s
            .installments
            .iter()
            .map(|i| (i.premium.cents(), i.fees_and_taxes.cents(), i.installment_fee.cents(), i.total.cents()))
            .collect();
        assert_eq!(
            rows,
            vec![
                (25_000, 5_000, 0, 30_000),
                (25_000, 0, 750, 25_750),
                (25_000, 0, 750, 25_750),
                (25_000, 0, 750, 25_750)
            ]
        );
        assert_eq!(s.total().unwrap().cents(), 100_000 + 5_000 + 3 * 750);
        assert_eq!(s.premium_total().unwrap().cents(), 100_000);
    }

    #[test]
    fn default_installment_fees() {
        let f = InstallmentFees::default();
        assert_eq!(
            BillingPlan::ALL.map(|p| f.for_plan(p).cents()),
            [0, 500, 750, 1_000, 1_000],
            "paid in full, two-pay, quarterly, ten-pay, twelve-pay"
        );
    }

    #[test]
    fn month_ends_clamp_without_drift() {
        let s = schedule(
            BillingPlan::TwelvePay,
            date(2028, 1, 31),
            Money::from_cents(1_200),
            Money::ZERO,
            &InstallmentFees::NONE,
        )
        .unwrap();
        let d = due_dates(&s);
        assert_eq!(&d[..4], &[date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30)]);
        let s = schedule(
            BillingPlan::TwoPay,
            date(2027, 8, 31),
            Money::from_cents(100),
            Money::ZERO,
            &InstallmentFees::NONE,
        )
        .unwrap();
        assert_eq!(due_dates(&s), vec![date(2027, 8, 31), date(2028, 2, 29)]);
    }

    #[test]
    fn zero_premium_is_a_schedule_of_zeros() {
        for plan in BillingPlan::ALL {
            let s = build(plan, 0);
            assert_eq!(s.installments.len() as u32, plan.installment_count());
            assert!(s.installments.iter().all(|i| i.premium.is_zero()));
        }
    }

    #[test]
    fn refuses_negative_amounts() {
        let d = date(2027, 1, 1);
        let none = InstallmentFees::NONE;
        assert_eq!(
            schedule(BillingPlan::TwoPay, d, Money::from_cents(-1), Money::ZERO, &none),
            Err(BillingError::NegativePremium(Money::from_cents(-1)))
        );
        assert_eq!(
            schedule(BillingPlan::TwoPay, d, Money::ZERO, Money::from_cents(-5), &none),
            Err(BillingError::NegativeFeesAndTaxes(Money::from_cents(-5)))
        );
        let bad = InstallmentFees { quarterly: Money::from_cents(-1), ..InstallmentFees::NONE };
        let e = schedule(BillingPlan::Quarterly, d, Money::ZERO, Money::ZERO, &bad).unwrap_err();
        assert_eq!(
            e,
            BillingError::NegativeInstallmentFee { plan: BillingPlan::Quarterly, fee: Money::from_cents(-1) }
        );
        assert_eq!(e.to_string(), "installment fee `-$0.01` of plan `quarterly` must not be negative");
        assert_eq!(
            BillingError::NegativePremium(Money::from_cents(-100)).to_string(),
            "premium `-$1.00` must not be negative"
        );
        // A negative fee of an unused plan does not matter.
        assert!(schedule(BillingPlan::TwoPay, d, Money::ZERO, Money::ZERO, &bad).is_ok());
    }

    #[test]
    fn overflow_is_an_error() {
        let d = date(2027, 1, 1);
        let max = Money::from_cents(i64::MAX);
        let e = schedule(BillingPlan::PaidInFull, d, max, Money::from_cents(1), &InstallmentFees::NONE).unwrap_err();
        assert!(matches!(e, BillingError::Money(MoneyError::Overflow { .. })));
        assert_eq!(e.to_string(), "money overflow in add");
        // Each installment fits, the grand total does not.
        let fees = InstallmentFees { twelve_pay: Money::from_cents(i64::MAX / 4), ..InstallmentFees::NONE };
        assert!(matches!(
            schedule(BillingPlan::TwelvePay, d, Money::ZERO, Money::ZERO, &fees),
            Err(BillingError::Money(_))
        ));
        // The largest premium splits exactly.
        for plan in BillingPlan::ALL {
            let s = schedule(plan, d, max, Money::ZERO, &InstallmentFees::NONE).unwrap();
            assert_eq!(s.premium_total().unwrap(), max);
        }
    }

    #[test]
    fn due_date_out_of_range() {
        let e = schedule(BillingPlan::TwoPay, NaiveDate::MAX, Money::ZERO, Money::ZERO, &InstallmentFees::NONE)
            .unwrap_err();
        assert_eq!(e, BillingError::DueDateOutOfRange { effective_date: NaiveDate::MAX, months: 6 });
    }

    #[test]
    fn record_payment_and_next_due() {
        let pay = |n: u128| uuid::Uuid::from_u128(n);
        let mut s = build(BillingPlan::Quarterly, 100_000);
        assert_eq!(s.next_due().map(|i| i.number), Some(1));
        assert_eq!(s.balance_due().unwrap().cents(), 100_000);
        assert_eq!(s.record_payment(1, pay(1)), Ok(true));
        assert_eq!((s.installments[0].status, s.installments[0].payment_id), (InstallmentStatus::Paid, Some(pay(1))));
        assert_eq!(s.next_due().map(|i| i.number), Some(2));
        // Paying out of order: the next due is still the earliest unpaid.
        s.record_payment(3, pay(3)).unwrap();
        assert_eq!(s.next_due().map(|i| i.number), Some(2));
        assert_eq!(s.balance_due().unwrap().cents(), 50_000);
        let before = s.clone();
        assert_eq!(s.record_payment(1, pay(9)).unwrap_err(), BillingError::AlreadyPaid { number: 1 });
        assert_eq!(s.record_payment(0, pay(9)).unwrap_err(), BillingError::InstallmentNotFound { number: 0 });
        assert_eq!(s.record_payment(5, pay(9)).unwrap_err().to_string(), "installment `5` not found");
        assert_eq!(s, before);
        s.record_payment(2, pay(2)).unwrap();
        s.record_payment(4, pay(4)).unwrap();
        assert_eq!(s.next_due(), None);
        assert_eq!(s.balance_due().unwrap(), Money::ZERO);
    }

    #[test]
    fn converts_into_the_crate_error() {
        use crate::error::Error;
        assert!(matches!(Error::from(BillingError::AlreadyPaid { number: 2 }), Error::Conflict(_)));
        assert!(matches!(Error::from(BillingError::InstallmentNotFound { number: 2 }), Error::NotFound { .. }));
        assert!(matches!(Error::from(BillingError::NegativePremium(Money::from_cents(-1))), Error::Invalid(_)));
    }

    #[test]
    fn serializes_in_camel_case_cents() {
        let v = serde_json::to_value(InstallmentFees::default()).unwrap();
        assert_eq!(v["quarterlyCents"], 750);
        let s = build(BillingPlan::TwoPay, 100);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["plan"], "two_pay");
        assert_eq!(v["installments"][1]["premiumCents"], 50);
        assert_eq!(serde_json::from_value::<BillingSchedule>(v).unwrap(), s);
    }

    fn any_plan() -> impl Strategy<Value = BillingPlan> {
        proptest::sample::select(BillingPlan::ALL.to_vec())
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (1900i32..2300, 1u32..=12, 1u32..=31)
            .prop_filter_map("a calendar date", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
    }

    fn any_fees() -> impl Strategy<Value = InstallmentFees> {
        proptest::array::uniform5(0i64..1_000_000).prop_map(|[a, b, c, d, e]| InstallmentFees {
            paid_in_full: Money::from_cents(a),
            two_pay: Money::from_cents(b),
            quarterly: Money::from_cents(c),
            ten_pay: Money::from_cents(d),
            twelve_pay: Money::from_cents(e),
        })
    }

    proptest! {
        #[test]
        fn schedules_add_up(plan in any_plan(), start in any_date(), premium in 0i64..10_000_000_000_000,
                            fees_and_taxes in 0i64..10_000_000_000_000, fees in any_fees()) {
            let s = schedule(plan, start, Money::from_cents(premium), Money::from_cents(fees_and_taxes), &fees).unwrap();
            let n = plan.installment_count();
            prop_assert_eq!(s.plan, plan);
            prop_assert_eq!(s.installments.len(), n as usize);
            prop_assert_eq!(s.premium_total().unwrap().cents(), premium);
            let fee = fees.for_plan(plan).cents();
            prop_assert_eq!(s.total().unwrap().cents(), premium + fees_and_taxes + fee * i64::from(n - 1));
            prop_assert_eq!(s.installments[0].due_date, start);
            for (k, i) in s.installments.iter().enumerate() {
                prop_assert_eq!(i.number as usize, k + 1);
                prop_assert!(!i.premium.is_negative() && !i.total.is_negative());
                prop_assert_eq!(i.total.cents(), i.premium.cents() + i.fees_and_taxes.cents() + i.installment_fee.cents());
                prop_assert_eq!(i.fees_and_taxes.cents(), if k == 0 { fees_and_taxes } else { 0 });
                prop_assert_eq!(i.installment_fee.cents(), if k == 0 { 0 } else { fee });
                prop_assert_eq!(i.status, InstallmentStatus::Due);
            }
            for w in s.installments.windows(2) {
                prop_assert!(w[0].due_date < w[1].due_date);
            }
            // The remainder rule: every later installment is its share rounded down, the first has the rest,
            // which is never less than any later one's share and exceeds its own share by under one cent per installment.
            let later: Vec<i64> = s.installments.iter().skip(1).map(|i| i.premium.cents()).collect();
            let first = s.installments[0].premium.cents();
            prop_assert!(later.iter().all(|&c| c <= first));
            let shape = plan.shape();
            let exact_first = i128::from(premium) * i128::from(shape.parts[0].share);
            let first_times_den = i128::from(first) * i128::from(shape.denominator);
            prop_assert!(first_times_den >= exact_first);
            prop_assert!(first_times_den - exact_first < i128::from(shape.denominator) * i128::from(n));
        }
    }
}
