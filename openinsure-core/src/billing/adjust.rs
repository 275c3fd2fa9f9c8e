//! Changing what a schedule bills after bind: endorsements, cancellations and reinstatements.
//!
//! Every change after bind moves the premium (and the taxes on it) the insured owes by a signed
//! amount, a [`BillingChange`]. [`BillingSchedule::apply_change`] bills it by one rule:
//!
//! - **More to bill** (additional premium, a reinstatement): spread over the installments still
//!   due, evenly, the remainder cents on the earliest (the same rule as a new schedule's down
//!   payment); the taxes all on the earliest due installment. When no installment is due any
//!   more, one new installment carries it, due on the change's date.
//! - **Less to bill** (return premium, a cancellation): taken off the installments still due,
//!   the latest due first. An installment left with nothing to bill is
//!   [`InstallmentStatus::Voided`] (its installment fee with it); the first installment keeps the
//!   policy fees, which are fully earned at bind. What is left after every due installment is
//!   used up was over-collected: it becomes a [`Refund`] of premium and taxes, never more than
//!   was collected and not yet refunded.
//!
//! So at every moment, for each schedule:
//! `premium of the installments not voided - premium refunded = premium written net of returns`,
//! and the same for taxes. [`BillingSchedule::billed_premium`] and [`BillingSchedule::refunded`]
//! give the two sides.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{BillingError, BillingSchedule, Installment, InstallmentStatus};
use crate::money::{Money, MoneyError};

/// Money paid back to the insured because more was collected than is now owed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// Its id: the idempotency key of its ledger transfers.
    pub id: Uuid,
    /// The date of the change that caused it.
    pub date: NaiveDate,
    /// Premium returned.
    #[serde(rename = "premiumCents")]
    pub premium: Money,
    /// Taxes returned.
    #[serde(rename = "taxesCents")]
    pub taxes: Money,
    /// What caused it (`cancellation`, an endorsement's description).
    pub reason: String,
}

impl Refund {
    /// Premium and taxes.
    pub fn total(&self) -> Result<Money, MoneyError> {
        self.premium.checked_add(self.taxes)
    }
}

/// A change to what the insured owes, in signed cents (negative: less is owed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillingChange {
    /// When it takes effect (the due date of a new installment, the date of a refund).
    pub date: NaiveDate,
    /// Premium change.
    pub premium: Money,
    /// Taxes change.
    pub taxes: Money,
    /// The policy fees carried by the first installment, which a return never takes off.
    pub policy_fees: Money,
    /// The id a refund gets, if the change makes one.
    pub refund_id: Uuid,
    /// What caused it, for a refund.
    pub reason: String,
}

/// What [`BillingSchedule::apply_change`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The installments it changed, as they were before (to restore on reinstatement).
    pub before: Vec<Installment>,
    /// The installment it added, if any.
    pub added: Option<u32>,
    /// The refund it made, if any.
    pub refund: Option<Refund>,
}

impl BillingSchedule {
    /// Premium of the installments not voided.
    pub fn billed_premium(&self) -> Result<Money, MoneyError> {
        Money::checked_sum(self.live().map(|i| i.premium))
    }

    /// Fees and taxes of the installments not voided.
    pub fn billed_fees_and_taxes(&self) -> Result<Money, MoneyError> {
        Money::checked_sum(self.live().map(|i| i.fees_and_taxes))
    }

    /// Premium and taxes refunded so far.
    pub fn refunded(&self) -> Result<(Money, Money), MoneyError> {
        Ok((
            Money::checked_sum(self.refunds.iter().map(|r| r.premium))?,
            Money::checked_sum(self.refunds.iter().map(|r| r.taxes))?,
        ))
    }

    /// Premium and taxes collected (installments paid) less what was refunded; `policy_fees`
    /// (carried by the first installment, fully earned) are not counted as taxes.
    pub fn held(&self, policy_fees: Money) -> Result<(Money, Money), MoneyError> {
        let paid = || self.installments.iter().filter(|i| i.status == InstallmentStatus::Paid);
        let fees = paid().find(|i| i.number == 1).map_or(Money::ZERO, |i| policy_fees.min(i.fees_and_taxes));
        let (premium, taxes) = self.refunded()?;
        Ok((
            Money::checked_sum(paid().map(|i| i.premium))?.checked_sub(premium)?,
            Money::checked_sum(paid().map(|i| i.fees_and_taxes))?.checked_sub(fees)?.checked_sub(taxes)?,
        ))
    }

    fn live(&self) -> impl Iterator<Item = &Installment> {
        self.installments.iter().filter(|i| i.status != InstallmentStatus::Voided)
    }

    /// Bills a change by the module's rule, all or nothing: on an error the schedule is as it was.
    ///
    /// # Errors
    ///
    /// [`BillingError::RefundExceedsCollected`] when a return is larger than what is due plus what
    /// was collected and not refunded, [`BillingError::Money`] on overflow.
    pub fn apply_change(&mut self, change: &BillingChange) -> Result<Applied, BillingError> {
        let mut next = self.clone();
        let mut applied = Applied::default();
        let mut refund = (Money::ZERO, Money::ZERO);
        if change.premium.cents() > 0 || change.taxes.cents() > 0 {
            let more = (change.premium.max(Money::ZERO), change.taxes.max(Money::ZERO));
            next.bill_more(more, change.date, &mut applied)?;
        }
        if change.premium.is_negative() || change.taxes.is_negative() {
            let less = (
                Money::ZERO.checked_sub(change.premium.min(Money::ZERO))?,
                Money::ZERO.checked_sub(change.taxes.min(Money::ZERO))?,
            );
            refund = next.bill_less(less, change.policy_fees, &mut applied)?;
        }
        if !refund.0.is_zero() || !refund.1.is_zero() {
            let (premium_held, fat_held) = self.held(change.policy_fees)?;
            if refund.0 > premium_held || refund.1 > fat_held {
                return Err(BillingError::RefundExceedsCollected {
                    refund: refund.0.checked_add(refund.1)?,
                    held: premium_held.checked_add(fat_held)?,
                });
            }
            let r = Refund {
                id: change.refund_id,
                date: change.date,
                premium: refund.0,
                taxes: refund.1,
                reason: change.reason.clone(),
            };
            next.refunds.push(r.clone());
            applied.refund = Some(r);
        }
        *self = next;
        Ok(applied)
    }

    /// Puts back installments as they were (`before` of an [`Applied`]): one still due or voided
    /// is restored; one paid since keeps its payment, and what it lacks of its old amounts is
    /// returned, to bill again.
    pub fn restore(&mut self, before: &[Installment]) -> Result<(Money, Money), BillingError> {
        let mut extra = (Money::ZERO, Money::ZERO);
        let mut next = self.clone();
        for old in before {
            let Some(current) = next.installments.iter_mut().find(|i| i.number == old.number) else {
                return Err(BillingError::InstallmentNotFound { number: old.number });
            };
            if current.status == InstallmentStatus::Paid {
                extra.0 = extra.0.checked_add(old.premium.checked_sub(current.premium)?)?;
                extra.1 = extra.1.checked_add(old.fees_and_taxes.checked_sub(current.fees_and_taxes)?)?;
            } else {
                *current = old.clone();
            }
        }
        *self = next;
        Ok(extra)
    }

    fn bill_more(
        &mut self,
        (premium, taxes): (Money, Money),
        date: NaiveDate,
        applied: &mut Applied,
    ) -> Result<(), BillingError> {
        let due: Vec<usize> =
            (0..self.installments.len()).filter(|&k| self.installments[k].status == InstallmentStatus::Due).collect();
        if due.is_empty() {
            let number = self.installments.iter().map(|i| i.number).max().unwrap_or(0) + 1;
            let total = premium.checked_add(taxes)?;
            self.installments.push(Installment {
                number,
                due_date: date,
                premium,
                fees_and_taxes: taxes,
                installment_fee: Money::ZERO,
                total,
                status: InstallmentStatus::Due,
                payment_id: None,
            });
            applied.added = Some(number);
            return Ok(());
        }
        let count = u32::try_from(due.len()).map_err(|_| MoneyError::Overflow { op: "split" })?;
        let parts = split_remainder_first(premium, count)?;
        for (n, (&k, part)) in due.iter().zip(parts).enumerate() {
            let i = &mut self.installments[k];
            remember(applied, i);
            i.premium = i.premium.checked_add(part)?;
            if n == 0 {
                i.fees_and_taxes = i.fees_and_taxes.checked_add(taxes)?;
            }
            i.total = i.premium.checked_add(i.fees_and_taxes)?.checked_add(i.installment_fee)?;
        }
        Ok(())
    }

    /// Takes `(premium, taxes)` off the due installments, latest first; returns what is left over.
    fn bill_less(
        &mut self,
        (mut premium, mut taxes): (Money, Money),
        policy_fees: Money,
        applied: &mut Applied,
    ) -> Result<(Money, Money), BillingError> {
        for k in (0..self.installments.len()).rev() {
            if premium.is_zero() && taxes.is_zero() {
                break;
            }
            if self.installments[k].status != InstallmentStatus::Due {
                continue;
            }
            let i = &mut self.installments[k];
            remember(applied, i);
            let take = premium.min(i.premium);
            i.premium = i.premium.checked_sub(take)?;
            premium = premium.checked_sub(take)?;
            let fees_kept = if i.number == 1 { policy_fees.min(i.fees_and_taxes) } else { Money::ZERO };
            let taxes_here = i.fees_and_taxes.checked_sub(fees_kept)?;
            let take = taxes.min(taxes_here);
            i.fees_and_taxes = i.fees_and_taxes.checked_sub(take)?;
            taxes = taxes.checked_sub(take)?;
            if i.premium.is_zero() && i.fees_and_taxes.is_zero() {
                i.status = InstallmentStatus::Voided;
                i.installment_fee = Money::ZERO;
            }
            i.total = i.premium.checked_add(i.fees_and_taxes)?.checked_add(i.installment_fee)?;
        }
        Ok((premium, taxes))
    }
}

fn remember(applied: &mut Applied, i: &Installment) {
    if !applied.before.iter().any(|b| b.number == i.number) {
        applied.before.push(i.clone());
    }
}

/// `amount` in `parts` parts: each `amount / parts` rounded down, the remainder on the first.
fn split_remainder_first(amount: Money, parts: u32) -> Result<Vec<Money>, MoneyError> {
    let n = i64::from(parts.max(1));
    let each = Money::from_cents(amount.cents() / n);
    let first = amount.checked_sub(each.checked_mul_int(n - 1)?)?;
    let mut out = vec![first];
    out.extend(std::iter::repeat_n(each, usize::try_from(n - 1).unwrap_or(0)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::{BillingPlan, InstallmentFees, schedule};
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn quarterly() -> BillingSchedule {
        // premium $1,000.00, fees $50.00 + taxes $30.00 on the first, $7.50 installment fee after
        schedule(
            BillingPlan::Quarterly,
            date(2027, 1, 1),
            Money::from_cents(100_000),
            Money::from_cents(8_000),
            &InstallmentFees::default(),
        )
        .unwrap()
    }

    fn change(premium: i64, taxes: i64) -> BillingChange {
        BillingChange {
            date: date(2027, 5, 1),
            premium: Money::from_cents(premium),
            taxes: Money::from_cents(taxes),
            policy_fees: Money::from_cents(5_000),
            refund_id: Uuid::from_u128(9),
            reason: "test".into(),
        }
    }

    fn premiums(s: &BillingSchedule) -> Vec<(i64, InstallmentStatus)> {
        s.installments.iter().map(|i| (i.premium.cents(), i.status)).collect()
    }

    use InstallmentStatus::{Due, Paid, Voided};

    #[test]
    fn additional_premium_is_spread_over_the_due_installments_remainder_first() {
        let mut s = quarterly();
        s.record_payment(1, Uuid::from_u128(1)).unwrap();
        let a = s.apply_change(&change(50_137, 0)).unwrap();
        // 50137 over three: 16712 + 16712 + 16713 -> remainder first: 16713, 16712, 16712
        assert_eq!(premiums(&s), vec![(25_000, Paid), (41_713, Due), (41_712, Due), (41_712, Due)]);
        assert_eq!(a.before.iter().map(|i| i.number).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(s.installments[1].total.cents(), 41_713 + 750);
        assert!(a.refund.is_none() && a.added.is_none());
    }

    #[test]
    fn additional_premium_with_nothing_due_is_a_new_installment_on_the_change_date() {
        let mut s = schedule(
            BillingPlan::PaidInFull,
            date(2027, 1, 1),
            Money::from_cents(100_000),
            Money::ZERO,
            &InstallmentFees::NONE,
        )
        .unwrap();
        s.record_payment(1, Uuid::from_u128(1)).unwrap();
        let a = s.apply_change(&change(1_234, 56)).unwrap();
        assert_eq!(a.added, Some(2));
        let i = &s.installments[1];
        assert_eq!(
            (i.due_date, i.premium.cents(), i.fees_and_taxes.cents(), i.total.cents()),
            (date(2027, 5, 1), 1_234, 56, 1_290)
        );
    }

    #[test]
    fn cancellation_voids_the_latest_installments_and_refunds_what_was_over_collected() {
        let mut s = quarterly();
        s.record_payment(1, Uuid::from_u128(1)).unwrap();
        s.record_payment(2, Uuid::from_u128(2)).unwrap();
        // return 67.713% of the premium and the same share of the taxes
        let before = s.clone();
        let a = s.apply_change(&change(-67_713, -2_031)).unwrap();
        assert_eq!(premiums(&s), vec![(25_000, Paid), (25_000, Paid), (0, Voided), (0, Voided)]);
        let r = a.refund.unwrap();
        assert_eq!((r.premium.cents(), r.taxes.cents()), (17_713, 2_031));
        assert_eq!(s.installments[2].installment_fee, Money::ZERO, "a voided installment charges no fee");
        // billed not voided - refunded = written net of return
        assert_eq!(s.billed_premium().unwrap().cents() - s.refunded().unwrap().0.cents(), 100_000 - 67_713);
        // and restoring what it changed, plus billing the refund again, gives the premium back
        let mut back = s.clone();
        let extra = back.restore(&a.before).unwrap();
        assert_eq!(extra, (Money::ZERO, Money::ZERO));
        assert_eq!(back.installments, before.installments);
    }

    #[test]
    fn a_return_on_an_unpaid_schedule_keeps_the_policy_fees() {
        let mut s = quarterly();
        let a = s.apply_change(&change(-100_000, -3_000)).unwrap();
        assert!(a.refund.is_none());
        assert_eq!(premiums(&s), vec![(0, Due), (0, Voided), (0, Voided), (0, Voided)]);
        assert_eq!(s.installments[0].fees_and_taxes.cents(), 5_000, "the policy fees are earned");
    }

    #[test]
    fn a_refund_beyond_what_was_collected_is_refused_and_changes_nothing() {
        let mut s = quarterly();
        s.record_payment(1, Uuid::from_u128(1)).unwrap();
        let before = s.clone();
        let e = s.apply_change(&change(-100_001, 0)).unwrap_err();
        assert!(matches!(e, BillingError::RefundExceedsCollected { .. }), "{e}");
        assert_eq!(s, before);
    }

    proptest! {
        /// Any sequence of changes keeps `billed - refunded` equal to the sum of the changes.
        #[test]
        fn billed_less_refunded_follows_the_changes(
            plan in prop::sample::select(BillingPlan::ALL.to_vec()),
            premium in 0i64..10_000_000,
            steps in prop::collection::vec((-5_000_000i64..5_000_000, -5_000i64..5_000, any::<bool>()), 0..12),
        ) {
            let mut s = schedule(plan, date(2027, 1, 1), Money::from_cents(premium), Money::from_cents(8_000), &InstallmentFees::default()).unwrap();
            let mut owed = (premium, 3_000i64);
            for (n, (p, t, pay)) in steps.into_iter().enumerate() {
                if pay && let Some(k) = s.next_due().map(|i| i.number) {
                    s.record_payment(k, Uuid::from_u128(100 + n as u128)).unwrap();
                }
                let c = BillingChange { refund_id: Uuid::from_u128(n as u128), ..change(p, t) };
                let before = s.clone();
                match s.apply_change(&c) {
                    Ok(_) => { owed = (owed.0 + p, owed.1 + t); }
                    Err(BillingError::RefundExceedsCollected { .. }) => prop_assert_eq!(&s, &before),
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
                let (rp, rt) = s.refunded().unwrap();
                prop_assert_eq!(s.billed_premium().unwrap().cents() - rp.cents(), owed.0);
                prop_assert_eq!(s.billed_fees_and_taxes().unwrap().cents() - rt.cents(), owed.1 + 5_000);
                for i in &s.installments {
                    prop_assert!(!i.premium.is_negative() && !i.fees_and_taxes.is_negative());
                    prop_assert_eq!(i.total, i.premium.checked_add(i.fees_and_taxes).unwrap().checked_add(i.installment_fee).unwrap());
                }
                let (hp, ht) = s.held(Money::from_cents(5_000)).unwrap();
                prop_assert!(!hp.is_negative() && !ht.is_negative(), "never refunds more than collected");
            }
        }
    }
}
