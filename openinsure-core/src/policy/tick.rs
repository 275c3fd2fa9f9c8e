//! What the clock does to a policy: the transitions that happen because a date came.
//!
//! [`Policy::tick`] runs them for one policy on `today`, in this order:
//! 1. an issued policy whose effective date has come becomes active;
//! 2. **non-payment**: a due installment unpaid more than [`TickRules::grace_days`] after its due
//!    date raises a notice of cancellation ([`NonPaymentNotice`], event
//!    `policy.cancellation_noticed`) that cancels the policy [`TickRules::notice_days`] later;
//!    on that date, if the installment is still unpaid, the policy is cancelled pro rata for
//!    non-payment effective on it (at inception, flat, when it falls before the period); if the
//!    installment was paid (or voided) meanwhile, the notice is withdrawn
//!    (`policy.cancellation_notice_withdrawn`);
//! 3. an active policy whose expiration date has come expires;
//! 4. a renewal offer is due [`TickRules::renewal_offer_days`] before the expiration of an issued
//!    or active policy not yet offered ([`TickOutcome::renewal_offer_due`]; the application rates
//!    the offer and records it with [`Policy::record_renewal_offer`]).
//!
//! Ticking is idempotent: a second tick on the same day changes nothing and returns no event,
//! because every step is guarded by the state it creates.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::billing::InstallmentStatus;
use crate::events::DomainEvent;
use crate::money::Money;
use crate::policy::lifecycle::LifecycleError;
use crate::policy::{CancellationMethod, Policy, PolicyStatus};

/// The clock's rules, per deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickRules {
    /// Days after its due date an installment may stay unpaid before a notice of cancellation.
    pub grace_days: u32,
    /// Days from the notice to the cancellation.
    pub notice_days: u32,
    /// Days before expiration a renewal offer is made.
    pub renewal_offer_days: u32,
}

impl Default for TickRules {
    /// 15 days of grace, 10 days of notice, offers 60 days ahead.
    fn default() -> Self {
        TickRules { grace_days: 15, notice_days: 10, renewal_offer_days: 60 }
    }
}

/// A notice of cancellation for non-payment, pending.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NonPaymentNotice {
    /// The installment unpaid.
    pub installment_number: u32,
    /// What it bills.
    #[serde(rename = "amountDueCents")]
    pub amount_due: Money,
    /// When the notice was given.
    pub notice_date: NaiveDate,
    /// When the policy is cancelled if still unpaid.
    pub cancel_on: NaiveDate,
}

/// What one tick did to a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickOutcome {
    /// The events of the transitions made (empty: nothing changed).
    pub events: Vec<DomainEvent>,
    /// A renewal offer should be made now.
    pub renewal_offer_due: bool,
}

impl Policy {
    /// Runs the clock's transitions on `today` (see the module docs). On an error the policy is
    /// as it was.
    ///
    /// # Errors
    ///
    /// The [`LifecycleError`] of a transition that could not be made (a cancellation's billing).
    pub fn tick(
        &mut self,
        today: NaiveDate,
        now: DateTime<Utc>,
        rules: &TickRules,
    ) -> Result<TickOutcome, LifecycleError> {
        let mut next = self.clone();
        let mut out = TickOutcome::default();
        if next.status == PolicyStatus::Issued && today >= next.effective_date {
            out.events.push(next.activate(today, now)?);
        }
        if matches!(next.status, PolicyStatus::Bound | PolicyStatus::Issued | PolicyStatus::Active) {
            next.non_payment(today, now, rules, &mut out)?;
        }
        if next.status == PolicyStatus::Active && today >= next.expiration_date {
            out.events.push(next.expire(today, now)?);
        }
        let offer_from = next
            .expiration_date
            .checked_sub_days(Days::new(u64::from(rules.renewal_offer_days)))
            .unwrap_or(next.expiration_date);
        out.renewal_offer_due = matches!(next.status, PolicyStatus::Issued | PolicyStatus::Active)
            && next.renewal_offered_on.is_none()
            && today >= offer_from
            && today < next.expiration_date;
        *self = next;
        Ok(out)
    }

    /// Records that a renewal offer was made on `today` (so it is made once).
    pub fn record_renewal_offer(&mut self, today: NaiveDate, now: DateTime<Utc>) {
        self.renewal_offered_on = Some(today);
        self.updated_at = now;
    }

    fn non_payment(
        &mut self,
        today: NaiveDate,
        now: DateTime<Utc>,
        rules: &TickRules,
        out: &mut TickOutcome,
    ) -> Result<(), LifecycleError> {
        if let Some(notice) = self.non_payment_notice.clone() {
            let still_due = self
                .billing
                .installments
                .iter()
                .any(|i| i.number == notice.installment_number && i.status == InstallmentStatus::Due);
            if !still_due {
                self.non_payment_notice = None;
                self.updated_at = now;
                out.events.push(DomainEvent::PolicyCancellationNoticeWithdrawn {
                    policy_id: self.id,
                    installment_number: notice.installment_number,
                });
            } else if today >= notice.cancel_on {
                let date = notice.cancel_on.max(self.effective_date);
                if date < self.expiration_date {
                    let reason = format!("non-payment of installment {}", notice.installment_number);
                    out.events.push(self.cancel(date, CancellationMethod::ProRata, reason, now)?);
                }
                self.non_payment_notice = None;
            }
            return Ok(());
        }
        let grace = Days::new(u64::from(rules.grace_days));
        let late = self.billing.installments.iter().find(|i| {
            i.status == InstallmentStatus::Due
                && !i.total.is_zero()
                && i.due_date.checked_add_days(grace).is_some_and(|end| today > end)
        });
        if let Some(i) = late {
            let cancel_on = today.checked_add_days(Days::new(u64::from(rules.notice_days))).unwrap_or(today);
            let notice =
                NonPaymentNotice { installment_number: i.number, amount_due: i.total, notice_date: today, cancel_on };
            out.events.push(DomainEvent::PolicyCancellationNoticed {
                policy_id: self.id,
                installment_number: i.number,
                amount_due: i.total,
                cancel_on,
            });
            self.non_payment_notice = Some(notice);
            self.updated_at = now;
        }
        Ok(())
    }
}
