//! The policy lifecycle: the state machine of a [`Policy`], as methods on it.
//!
//! ```text
//!  bound --issue--> issued --activate--> active --expire--> expired
//!    |                 |                   |
//!    +-----------------+---- cancel -------+--> cancelled --reinstate--> issued (period not begun)
//!                      |                   |                          or active (period begun)
//!                      +---- non_renew ----+--> non_renewed (terminal)
//!
//!  endorse: on bound, issued or active, the status does not change
//!  renew:   from active or expired, makes a new bound policy for the next term
//! ```
//!
//! Every transition is a method that takes the date or time it happens as arguments (domain code
//! reads no clock), checks the transition and its inputs, and only then changes the policy: on an
//! error the policy is exactly as it was. On success it sets `updated_at` to `now` and returns the
//! [`DomainEvent`] to publish. A transition the state machine does not allow is
//! [`LifecycleError::InvalidTransition`], whatever its other arguments.
//!
//! The rules where there was a choice:
//! - **Dates.** `today` arguments are calendar dates in the policy's own time zone (the caller
//!   derives them); `now` is the instant recorded in `updated_at`. The period runs from
//!   `effective_date` (inclusive) to `expiration_date` (exclusive).
//! - **Endorsements** ([`Policy::endorse`]) add a [`PremiumSegment`] whose premium is the annual
//!   change pro-rated by days remaining: `annual_change * (expiration - date) / (expiration -
//!   effective)`, rounded half-even in exact integer arithmetic. The premium figures of a policy
//!   ("annual") are per term; for a one-year term that is the same thing. The written premium may
//!   not become negative, and an endorsement is not dated before the last one. The change (and the
//!   taxes change, pro-rated the same way) is billed by the rule of [`crate::billing::adjust`].
//! - **Cancellations** ([`Policy::cancel`]) return premium computed by [`Policy::return_premium`]:
//!   flat at inception, pro-rata by days unexpired per premium segment, or short-rate by the
//!   customary one-year table ([`short_rate_earned_percent`]). See those for the exact rules. The
//!   taxes are returned in the same proportion as the premium (half-even; all of them when flat);
//!   policy fees are fully earned at bind and installment fees when charged, so neither is
//!   returned. The return is billed by the rule of [`crate::billing::adjust`]: installments still
//!   due are reduced, latest first, and voided when nothing is left on them; what was collected
//!   beyond what is now owed is refunded.
//! - **Reinstatement** ([`Policy::reinstate`]) restores the state the policy would be in had it not
//!   been cancelled (the installments back as they were, a refund billed again): `issued` when the period has not begun, `active` once it has (also after the
//!   expiration date, so that [`Policy::expire`] then ends it as usual). A policy cancelled while
//!   `bound` is reinstated by the same rule (the policy record does not say whether documents had
//!   been issued).
//! - **Non-renewal** ([`Policy::non_renew`]) is a notice on an issued or active policy. The status
//!   `non_renewed` is terminal and covers both "will not be" and "was not" renewed: coverage still
//!   ends at the expiration date (see [`Policy::in_force_on`]), but the record no longer changes
//!   state: it cannot be expired (it would lose the notice and become renewable), endorsed,
//!   cancelled or renewed.
//! - **Renewal** ([`Policy::renew`]) is allowed from `active` (the expiring term) or `expired`, never
//!   from `non_renewed` or `cancelled`. The caller makes sure a policy is renewed only once (the
//!   store's uniqueness of `renewal_of`).

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};

use crate::billing::adjust::BillingChange;
use crate::billing::{BillingError, BillingPlan, BillingSchedule, InstallmentFees};
use crate::events::DomainEvent;
use crate::ids::{PolicyId, QuoteId, SubmissionId, UserId};
use crate::money::{Money, MoneyError, Rounding};
use crate::policy::endorsement::{EndorsementWorksheet, RiskChange};
use crate::policy::short_rate::short_rate_earned_percent;
use crate::policy::{Cancellation, CancellationMethod, Policy, PolicyStatus, PremiumSegment};

/// A lifecycle transition that was refused; the policy is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The state machine does not allow `action` from status `from`.
    #[error("cannot {action} a policy in status `{}`", from.as_str())]
    InvalidTransition {
        /// The policy's status.
        from: PolicyStatus,
        /// The transition asked for (`issue`, `activate`, `endorse`, `cancel`, `reinstate`,
        /// `expire`, `non_renew`, `renew`).
        action: &'static str,
    },
    /// Activation before the policy period begins.
    #[error("cannot activate on `{today}`, before the effective date `{effective_date}`")]
    BeforeEffectiveDate {
        /// The date asked for.
        today: NaiveDate,
        /// The policy's effective date.
        effective_date: NaiveDate,
    },
    /// Expiration before the policy period ends.
    #[error("cannot expire on `{today}`, before the expiration date `{expiration_date}`")]
    BeforeExpirationDate {
        /// The date asked for.
        today: NaiveDate,
        /// The policy's expiration date.
        expiration_date: NaiveDate,
    },
    /// An endorsement effective outside `[effective_date, expiration_date)`.
    #[error("endorsement date `{date}` is outside the policy period from `{effective_date}` to `{expiration_date}`")]
    EndorsementDateOutsidePeriod {
        /// The endorsement's effective date.
        date: NaiveDate,
        /// The policy's effective date.
        effective_date: NaiveDate,
        /// The policy's expiration date.
        expiration_date: NaiveDate,
    },
    /// A cancellation effective outside `[effective_date, expiration_date)`.
    #[error("cancellation date `{date}` is outside the policy period from `{effective_date}` to `{expiration_date}`")]
    CancellationDateOutsidePeriod {
        /// The cancellation's effective date.
        date: NaiveDate,
        /// The policy's effective date.
        effective_date: NaiveDate,
        /// The policy's expiration date.
        expiration_date: NaiveDate,
    },
    /// A flat cancellation was asked for with an effective date after inception.
    #[error("a flat cancellation is effective at inception `{effective_date}`, not `{date}`")]
    FlatCancellationAfterInception {
        /// The cancellation date asked for.
        date: NaiveDate,
        /// The policy's effective date.
        effective_date: NaiveDate,
    },
    /// The policy period is empty (expiration on or before the effective date), or the next term's
    /// dates are past the calendar's end.
    #[error("invalid policy period from `{effective_date}` to `{expiration_date}`")]
    InvalidPeriod {
        /// The period's effective date.
        effective_date: NaiveDate,
        /// The period's expiration date.
        expiration_date: NaiveDate,
    },
    /// An endorsement dated before the last endorsement's date.
    #[error("endorsement date `{date}` is before the last endorsement's `{last}`")]
    EndorsementBeforeLast {
        /// The endorsement's effective date.
        date: NaiveDate,
        /// The last endorsement's.
        last: NaiveDate,
    },
    /// An endorsement would make the written premium negative.
    #[error("the endorsement would make the written premium `{written}` negative")]
    NegativeWrittenPremium {
        /// The written premium the endorsement would leave.
        written: Money,
    },
    /// A renewal premium below zero.
    #[error("renewal premium `{0}` must not be negative")]
    NegativePremium(Money),
    /// A renewal's billing schedule does not bill the renewal premium.
    #[error("the billing schedule bills `{billed}` of premium, the renewal premium is `{premium}`")]
    BillingMismatch {
        /// The schedule's premium total.
        billed: Money,
        /// The renewal premium.
        premium: Money,
    },
    /// A premium computation overflowed.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// The renewal's billing schedule could not be built.
    #[error(transparent)]
    Billing(#[from] BillingError),
}

impl LifecycleError {
    /// A stable machine-readable code (`invalid_transition`, `date_outside_period`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            LifecycleError::InvalidTransition { .. } => "invalid_transition",
            LifecycleError::BeforeEffectiveDate { .. } => "before_effective_date",
            LifecycleError::BeforeExpirationDate { .. } => "before_expiration_date",
            LifecycleError::EndorsementDateOutsidePeriod { .. }
            | LifecycleError::CancellationDateOutsidePeriod { .. } => "date_outside_period",
            LifecycleError::FlatCancellationAfterInception { .. } => "flat_after_inception",
            LifecycleError::EndorsementBeforeLast { .. } => "endorsement_before_last",
            LifecycleError::InvalidPeriod { .. } => "invalid_period",
            LifecycleError::NegativeWrittenPremium { .. } | LifecycleError::NegativePremium(_) => "negative_premium",
            LifecycleError::BillingMismatch { .. } => "billing_mismatch",
            LifecycleError::Money(_) => "money_overflow",
            LifecycleError::Billing(_) => "billing",
        }
    }
}

impl From<LifecycleError> for crate::error::Error {
    /// Money overflow stays [`Error::Money`](crate::error::Error::Money), billing errors convert as
    /// [`BillingError`] does, every other refusal is an
    /// [`Error::Rule`](crate::error::Error::Rule) with [`LifecycleError::code`].
    fn from(e: LifecycleError) -> Self {
        match e {
            LifecycleError::Money(m) => crate::error::Error::Money(m),
            LifecycleError::Billing(b) => b.into(),
            other => crate::error::Error::Rule { code: other.code(), message: other.to_string() },
        }
    }
}

/// How a renewal term is billed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenewalBilling {
    /// A schedule the caller built; its premium total must equal the renewal premium.
    Schedule(BillingSchedule),
    /// Build the schedule with [`crate::billing::schedule`] from the renewal's effective date,
    /// premium, and fees plus taxes.
    Plan {
        /// The payment plan.
        plan: BillingPlan,
        /// The installment fees.
        installment_fees: InstallmentFees,
    },
}

/// What the caller decides for a renewal term (see [`Policy::renew`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenewalTerms {
    /// The new policy's id.
    pub policy_id: PolicyId,
    /// The new policy's number.
    pub number: String,
    /// The renewal quote bound; `None` keeps the expiring term's.
    pub quote_id: Option<QuoteId>,
    /// The renewal submission; `None` keeps the expiring term's.
    pub submission_id: Option<SubmissionId>,
    /// The renewal term's premium (the "annual" premium of the new policy).
    pub annual_premium: Money,
    /// The renewal term's policy fees.
    pub fees: Money,
    /// The renewal term's taxes.
    pub taxes: Money,
    /// How the renewal term is billed.
    pub billing: RenewalBilling,
    /// The DA agreement the renewal is written under (the one in force on its dates).
    pub da_agreement_id: Option<crate::ids::DaAgreementId>,
    /// The producer commission rate of the renewal's rating.
    pub commission_rate: crate::money::Factor,
    /// The MGA's commission rate of that agreement.
    pub mga_commission_rate: crate::money::Factor,
    /// Who bound the renewal.
    pub bound_by: UserId,
}

/// An endorsement's change of premium and taxes (see [`Policy::endorse_with`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndorsementChange {
    /// From when it applies.
    pub effective_date: NaiveDate,
    /// The change of the annual premium (negative for a return).
    pub annual_premium_change: Money,
    /// The change of the annual taxes.
    pub annual_taxes_change: Money,
    /// What it is.
    pub description: String,
    /// The changes to the risk it makes (limits, deductible and named insured are the policy's
    /// own fields and change with it).
    pub changes: RiskChange,
    /// How the premium change was rated, when it was.
    pub worksheet: Option<EndorsementWorksheet>,
}

/// The segment description of a term's original premium.
pub const ORIGINAL_SEGMENT: &str = "original";

impl Policy {
    /// Issues the documents of a bound policy: `bound` -> `issued`.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::InvalidTransition`] unless the policy is bound.
    pub fn issue(&mut self, now: DateTime<Utc>) -> Result<DomainEvent, LifecycleError> {
        self.require("issue", &[PolicyStatus::Bound])?;
        self.status = PolicyStatus::Issued;
        self.updated_at = now;
        Ok(DomainEvent::PolicyIssued { policy_id: self.id })
    }

    /// Starts the policy period: `issued` -> `active`, on or after the effective date.
    ///
    /// A policy issued late may be activated after its expiration date; [`Policy::expire`] then
    /// ends it.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::InvalidTransition`] unless the policy is issued,
    /// [`LifecycleError::BeforeEffectiveDate`] when `today` is before the effective date.
    pub fn activate(&mut self, today: NaiveDate, now: DateTime<Utc>) -> Result<DomainEvent, LifecycleError> {
        self.require("activate", &[PolicyStatus::Issued])?;
        if today < self.effective_date {
            return Err(LifecycleError::BeforeEffectiveDate { today, effective_date: self.effective_date });
        }
        self.status = PolicyStatus::Active;
        self.updated_at = now;
        Ok(DomainEvent::PolicyActivated { policy_id: self.id })
    }

    /// The premium an endorsement of `annual_change` effective `effective_date` adds: the change
    /// pro-rated by days remaining, `annual_change * (expiration - effective_date) / (expiration -
    /// policy effective date)`, rounded half-even. Does not change the policy.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::EndorsementDateOutsidePeriod`] unless `effective_date` is in
    /// `[effective_date, expiration_date)` of the policy.
    pub fn endorsement_premium(
        &self,
        effective_date: NaiveDate,
        annual_change: Money,
    ) -> Result<Money, LifecycleError> {
        if effective_date < self.effective_date || effective_date >= self.expiration_date {
            return Err(LifecycleError::EndorsementDateOutsidePeriod {
                date: effective_date,
                effective_date: self.effective_date,
                expiration_date: self.expiration_date,
            });
        }
        let days_remaining = days_between(effective_date, self.expiration_date);
        let days_in_term = self.days_in_term()?;
        pro_rate(annual_change, days_remaining, days_in_term)
    }

    /// Endorses the policy from `effective_date` with an annual premium change and no change of
    /// taxes: [`Policy::endorse_with`] of an [`EndorsementChange`].
    ///
    /// # Errors
    ///
    /// Those of [`Policy::endorse_with`].
    pub fn endorse(
        &mut self,
        effective_date: NaiveDate,
        annual_premium_change: Money,
        description: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Result<DomainEvent, LifecycleError> {
        let change = EndorsementChange {
            effective_date,
            annual_premium_change,
            annual_taxes_change: Money::ZERO,
            description: description.into(),
            changes: RiskChange::default(),
            worksheet: None,
        };
        self.endorse_with(&change, now)
    }

    /// Endorses the policy: adds a [`PremiumSegment`] with the premium and taxes changes
    /// pro-rated by days remaining ([`Policy::endorsement_premium`]), and bills them by the rule of
    /// [`crate::billing::adjust`]: additional premium over the installments still due, return
    /// premium off them, latest first, and a [`Refund`](crate::billing::adjust::Refund) of what
    /// was over-collected (its id is [`Policy::refund_id`]). The status does not change.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::InvalidTransition`] unless the policy is bound, issued or active,
    /// [`LifecycleError::EndorsementDateOutsidePeriod`] for a date outside the period,
    /// [`LifecycleError::EndorsementBeforeLast`] for a date before the last endorsement's,
    /// [`LifecycleError::NegativeWrittenPremium`] when the written premium would drop below zero,
    /// [`LifecycleError::Billing`] when the schedule cannot bill it, [`LifecycleError::Money`] on
    /// overflow.
    pub fn endorse_with(
        &mut self,
        change: &EndorsementChange,
        now: DateTime<Utc>,
    ) -> Result<DomainEvent, LifecycleError> {
        self.require("endorse", &[PolicyStatus::Bound, PolicyStatus::Issued, PolicyStatus::Active])?;
        let effective_date = change.effective_date;
        let premium = self.endorsement_premium(effective_date, change.annual_premium_change)?;
        let taxes = self.endorsement_premium(effective_date, change.annual_taxes_change)?;
        if let Some(last) = self.segments.iter().skip(1).map(|s| s.effective_date).max()
            && effective_date < last
        {
            return Err(LifecycleError::EndorsementBeforeLast { date: effective_date, last });
        }
        let written = self.written_premium()?.checked_add(premium)?;
        if written.is_negative() {
            return Err(LifecycleError::NegativeWrittenPremium { written });
        }
        let written_taxes = self.written_taxes()?.checked_add(taxes)?;
        if written_taxes.is_negative() {
            return Err(LifecycleError::NegativeWrittenPremium { written: written_taxes });
        }
        let mut billing = self.billing.clone();
        billing.apply_change(&BillingChange {
            date: effective_date,
            premium,
            taxes,
            policy_fees: self.fees,
            refund_id: self.refund_id(),
            reason: change.description.clone(),
        })?;
        self.billing = billing;
        self.segments.push(PremiumSegment {
            effective_date,
            premium,
            annual_premium: change.annual_premium_change,
            taxes,
            annual_taxes: change.annual_taxes_change,
            changes: change.changes.clone(),
            worksheet: change.worksheet.clone(),
            description: change.description.clone(),
        });
        let c = &change.changes;
        self.occurrence_limit = c.occurrence_limit.unwrap_or(self.occurrence_limit);
        self.aggregate_limit = c.aggregate_limit.unwrap_or(self.aggregate_limit);
        self.deductible = c.deductible.unwrap_or(self.deductible);
        if let Some(name) = &c.insured_name {
            self.insured_name.clone_from(name);
        }
        self.risk_changes = self.risk_changes.then(c);
        self.updated_at = now;
        Ok(DomainEvent::PolicyEndorsed {
            policy_id: self.id,
            effective_date,
            premium_change: premium,
            taxes_change: taxes,
        })
    }

    /// The method and return premium of a cancellation effective `effective_date`, asked for with
    /// `method_requested`. Does not change the policy.
    ///
    /// - A cancellation effective on the effective date (at inception) is always
    ///   [`CancellationMethod::Flat`] and returns the whole written premium, whatever was asked.
    /// - [`CancellationMethod::ProRata`]: the unearned premium by days, per premium segment:
    ///   a segment effective on or after the cancellation date is returned whole; any other returns
    ///   `premium * (expiration - cancellation date) / (expiration - segment date)`, rounded
    ///   half-even, and the returns are summed. With the original segment alone (no endorsements)
    ///   this is `written * days_unexpired / days_in_term`.
    /// - [`CancellationMethod::ShortRate`]: the earned premium is the written premium times
    ///   [`short_rate_earned_percent`] of the days in force (cancellation date - effective date)
    ///   over the term's days, rounded half-even; the return is the written premium less that,
    ///   never below zero and never more than the pro-rata return.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::CancellationDateOutsidePeriod`] unless `effective_date` is in
    /// `[effective_date, expiration_date)` of the policy,
    /// [`LifecycleError::FlatCancellationAfterInception`] for a flat cancellation after inception,
    /// [`LifecycleError::Money`] on overflow.
    pub fn return_premium(
        &self,
        effective_date: NaiveDate,
        method_requested: CancellationMethod,
    ) -> Result<(CancellationMethod, Money), LifecycleError> {
        if effective_date < self.effective_date || effective_date >= self.expiration_date {
            return Err(LifecycleError::CancellationDateOutsidePeriod {
                date: effective_date,
                effective_date: self.effective_date,
                expiration_date: self.expiration_date,
            });
        }
        let written = self.written_premium()?;
        if effective_date == self.effective_date {
            return Ok((CancellationMethod::Flat, written));
        }
        let pro_rata = self.pro_rata_return(effective_date)?;
        match method_requested {
            CancellationMethod::Flat => Err(LifecycleError::FlatCancellationAfterInception {
                date: effective_date,
                effective_date: self.effective_date,
            }),
            CancellationMethod::ProRata => Ok((CancellationMethod::ProRata, pro_rata)),
            CancellationMethod::ShortRate => {
                let days_in_term = self.days_in_term()?;
                let percent =
                    short_rate_earned_percent(days_between(self.effective_date, effective_date), days_in_term);
                let earned = to_money(
                    Rounding::HalfEven.div_round(i128::from(written.cents()) * i128::from(percent), 100),
                    "mul",
                )?;
                let cap = pro_rata.max(Money::ZERO);
                let returned = written.checked_sub(earned)?.max(Money::ZERO).min(cap);
                Ok((CancellationMethod::ShortRate, returned))
            }
        }
    }

    /// Cancels the policy from `effective_date` with the return premium of
    /// [`Policy::return_premium`]; records the [`Cancellation`] on the policy.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::InvalidTransition`] unless the policy is bound, issued or active, and the
    /// errors of [`Policy::return_premium`].
    pub fn cancel(
        &mut self,
        effective_date: NaiveDate,
        method_requested: CancellationMethod,
        reason: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Result<DomainEvent, LifecycleError> {
        self.require("cancel", &[PolicyStatus::Bound, PolicyStatus::Issued, PolicyStatus::Active])?;
        let (method, return_premium) = self.return_premium(effective_date, method_requested)?;
        let written = self.written_premium()?;
        let written_taxes = self.written_taxes()?;
        let return_taxes = if method == CancellationMethod::Flat || return_premium == written {
            written_taxes
        } else if written.is_zero() {
            Money::ZERO
        } else {
            to_money(
                Rounding::HalfEven.div_round(
                    i128::from(written_taxes.cents()) * i128::from(return_premium.cents()),
                    i128::from(written.cents()),
                ),
                "mul",
            )?
        };
        let reason = reason.into();
        let mut billing = self.billing.clone();
        let applied = billing.apply_change(&BillingChange {
            date: effective_date,
            premium: Money::ZERO.checked_sub(return_premium)?,
            taxes: Money::ZERO.checked_sub(return_taxes)?,
            policy_fees: self.fees,
            refund_id: self.refund_id(),
            reason: format!("cancellation: {reason}"),
        })?;
        self.billing = billing;
        self.cancellation = Some(Cancellation {
            effective_date,
            method,
            return_premium,
            return_taxes,
            reason,
            installments_before: applied.before,
            refund_id: applied.refund.map(|r| r.id),
        });
        self.status = PolicyStatus::Cancelled;
        self.updated_at = now;
        Ok(DomainEvent::PolicyCancelled {
            policy_id: self.id,
            effective_date,
            return_premium,
            return_taxes,
            method: method_name(method).to_owned(),
        })
    }

    /// Reinstates a cancelled policy: restores the status it would have had (`issued` when
    /// `today` is before the effective date, `active` otherwise, also on or after the expiration
    /// date; [`Policy::expire`] then ends it) and what the cancellation undid in billing: the
    /// installments it voided or reduced are put back, and what the insured was refunded (or an
    /// installment lacks because it was paid since at its reduced amount) is billed again by the
    /// rule of [`crate::billing::adjust`], dated `today`.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::InvalidTransition`] unless the policy is cancelled,
    /// [`LifecycleError::Billing`] or [`LifecycleError::Money`] when the schedule cannot bill it.
    pub fn reinstate(&mut self, today: NaiveDate, now: DateTime<Utc>) -> Result<DomainEvent, LifecycleError> {
        self.require("reinstate", &[PolicyStatus::Cancelled])?;
        let restored =
            self.cancellation.as_ref().map_or((Money::ZERO, Money::ZERO), |c| (c.return_premium, c.return_taxes));
        let mut billing = self.billing.clone();
        if let Some(c) = &self.cancellation {
            let (mut premium, mut taxes) = billing.restore(&c.installments_before)?;
            if let Some(r) = c.refund_id.and_then(|id| billing.refunds.iter().find(|r| r.id == id)) {
                premium = premium.checked_add(r.premium)?;
                taxes = taxes.checked_add(r.taxes)?;
            }
            billing.apply_change(&BillingChange {
                date: today,
                premium,
                taxes,
                policy_fees: self.fees,
                refund_id: self.refund_id(),
                reason: "reinstatement".into(),
            })?;
        }
        self.billing = billing;
        self.status = if today < self.effective_date { PolicyStatus::Issued } else { PolicyStatus::Active };
        self.cancellation = None;
        self.updated_at = now;
        Ok(DomainEvent::PolicyReinstated {
            policy_id: self.id,
            restored_premium: restored.0,
            restored_taxes: restored.1,
        })
    }

    /// Ends an active policy at its expiration date: `active` -> `expired`.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::InvalidTransition`] unless the policy is active (a non-renewed policy
    /// keeps its status, see the module docs), [`LifecycleError::BeforeExpirationDate`] when
    /// `today` is before the expiration date.
    pub fn expire(&mut self, today: NaiveDate, now: DateTime<Utc>) -> Result<DomainEvent, LifecycleError> {
        self.require("expire", &[PolicyStatus::Active])?;
        if today < self.expiration_date {
            return Err(LifecycleError::BeforeExpirationDate { today, expiration_date: self.expiration_date });
        }
        self.status = PolicyStatus::Expired;
        self.updated_at = now;
        Ok(DomainEvent::PolicyExpired { policy_id: self.id })
    }

    /// Records a notice of non-renewal: `issued` or `active` -> `non_renewed`. The policy stays in
    /// force to its expiration date and can then not be renewed.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::InvalidTransition`] unless the policy is issued or active.
    pub fn non_renew(&mut self, reason: impl Into<String>, now: DateTime<Utc>) -> Result<DomainEvent, LifecycleError> {
        self.require("non_renew", &[PolicyStatus::Issued, PolicyStatus::Active])?;
        self.status = PolicyStatus::NonRenewed;
        self.updated_at = now;
        Ok(DomainEvent::PolicyNonRenewed { policy_id: self.id, reason: reason.into() })
    }

    /// The next term's `(effective_date, expiration_date)`: it starts at this term's expiration
    /// date and lasts as long. A term of a whole number of calendar months (`effective + n months
    /// == expiration`, month ends clamped) lasts the same number of months; any other term lasts
    /// the same number of days.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::InvalidPeriod`] when this term is empty or the next ends past the
    /// calendar's end.
    pub fn next_term(&self) -> Result<(NaiveDate, NaiveDate), LifecycleError> {
        let invalid = LifecycleError::InvalidPeriod {
            effective_date: self.effective_date,
            expiration_date: self.expiration_date,
        };
        let days = self.days_in_term()?;
        let start = self.expiration_date;
        let end = match whole_months_between(self.effective_date, self.expiration_date) {
            Some(months) => start.checked_add_months(Months::new(months)),
            None => u64::try_from(days).ok().and_then(|d| start.checked_add_days(Days::new(d))),
        };
        end.map(|end| (start, end)).ok_or(invalid)
    }

    /// Creates the renewal: a new policy for the next term ([`Policy::next_term`]), `bound`, with
    /// `renewal_of` set to this policy. It keeps this policy's org, program, line, insured, risk
    /// (with the endorsements' changes), limits and deductible; takes its id, number, premium,
    /// fees, taxes, billing, DA agreement, commission rates and binder from `terms` (and the quote and submission when given); has one
    /// premium segment, [`ORIGINAL_SEGMENT`], for the whole premium; no referral and no
    /// cancellation. `bound_at` and `updated_at` are `now`. This policy is not changed.
    ///
    /// Returns the new policy and the [`DomainEvent::PolicyRenewed`] event.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::InvalidTransition`] unless this policy is active or expired,
    /// [`LifecycleError::InvalidPeriod`] when the next term's dates cannot be computed,
    /// [`LifecycleError::NegativePremium`] for a premium below zero,
    /// [`LifecycleError::BillingMismatch`] when a given schedule does not bill the premium,
    /// [`LifecycleError::Billing`] when the schedule cannot be built or fees or taxes are negative.
    pub fn renew(&self, terms: RenewalTerms, now: DateTime<Utc>) -> Result<(Policy, DomainEvent), LifecycleError> {
        self.require_renewable()?;
        let (effective_date, expiration_date) = self.next_term()?;
        if terms.annual_premium.is_negative() {
            return Err(LifecycleError::NegativePremium(terms.annual_premium));
        }
        for amount in [terms.fees, terms.taxes] {
            if amount.is_negative() {
                return Err(BillingError::NegativeFeesAndTaxes(amount).into());
            }
        }
        let fees_and_taxes = terms.fees.checked_add(terms.taxes)?;
        let billing = match terms.billing {
            RenewalBilling::Schedule(schedule) => {
                let billed = schedule.premium_total()?;
                if billed != terms.annual_premium {
                    return Err(LifecycleError::BillingMismatch { billed, premium: terms.annual_premium });
                }
                schedule
            }
            RenewalBilling::Plan { plan, installment_fees } => {
                crate::billing::schedule(plan, effective_date, terms.annual_premium, fees_and_taxes, &installment_fees)?
            }
        };
        let renewal = Policy {
            id: terms.policy_id,
            org_id: self.org_id,
            number: terms.number,
            status: PolicyStatus::Bound,
            revision: 0,
            submission_id: terms.submission_id.unwrap_or(self.submission_id),
            quote_id: terms.quote_id.unwrap_or(self.quote_id),
            program_id: self.program_id,
            da_agreement_id: terms.da_agreement_id,
            referral_id: None,
            line_of_business: self.line_of_business,
            insured_name: self.insured_name.clone(),
            risk_state: self.risk_state,
            naics_code: self.naics_code,
            occurrence_limit: self.occurrence_limit,
            aggregate_limit: self.aggregate_limit,
            deductible: self.deductible,
            effective_date,
            expiration_date,
            annual_premium: terms.annual_premium,
            commission_rate: terms.commission_rate,
            mga_commission_rate: terms.mga_commission_rate,
            fees: terms.fees,
            taxes: terms.taxes,
            segments: vec![PremiumSegment {
                effective_date,
                premium: terms.annual_premium,
                annual_premium: terms.annual_premium,
                taxes: terms.taxes,
                annual_taxes: terms.taxes,
                changes: RiskChange::default(),
                worksheet: None,
                description: ORIGINAL_SEGMENT.to_owned(),
            }],
            risk_changes: self.risk_changes.clone(),
            billing,
            cancellation: None,
            non_payment_notice: None,
            renewal_offered_on: None,
            renewal_of: Some(self.id),
            bound_by: terms.bound_by,
            bound_at: now,
            updated_at: now,
        };
        let event = DomainEvent::PolicyRenewed { policy_id: self.id, renewal_policy_id: renewal.id };
        Ok((renewal, event))
    }

    /// Whether the state machine lets the policy renew (active or expired).
    ///
    /// # Errors
    ///
    /// [`LifecycleError::InvalidTransition`] otherwise.
    pub fn require_renewable(&self) -> Result<(), LifecycleError> {
        self.require("renew", &[PolicyStatus::Active, PolicyStatus::Expired])
    }

    /// Whether the policy provides coverage on `date`: within `[effective_date, expiration_date)`
    /// and, when cancelled, before the cancellation's effective date. Every other status
    /// (including `bound`, `non_renewed` and `expired`) covers its period.
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        let end = match (&self.status, &self.cancellation) {
            (PolicyStatus::Cancelled, Some(c)) => c.effective_date.min(self.expiration_date),
            (PolicyStatus::Cancelled, None) => self.effective_date,
            _ => self.expiration_date,
        };
        self.effective_date <= date && date < end
    }

    /// The term's length in days, positive.
    fn days_in_term(&self) -> Result<i64, LifecycleError> {
        let days = days_between(self.effective_date, self.expiration_date);
        if days <= 0 {
            return Err(LifecycleError::InvalidPeriod {
                effective_date: self.effective_date,
                expiration_date: self.expiration_date,
            });
        }
        Ok(days)
    }

    /// The pro-rata return premium of a cancellation on `date` (in the period), per segment.
    fn pro_rata_return(&self, date: NaiveDate) -> Result<Money, LifecycleError> {
        let days_unexpired = days_between(date, self.expiration_date);
        let mut total = Money::ZERO;
        for segment in &self.segments {
            let returned = if segment.effective_date >= date {
                segment.premium
            } else {
                pro_rate(segment.premium, days_unexpired, days_between(segment.effective_date, self.expiration_date))?
            };
            total = total.checked_add(returned)?;
        }
        Ok(total)
    }

    fn require(&self, action: &'static str, allowed: &[PolicyStatus]) -> Result<(), LifecycleError> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(LifecycleError::InvalidTransition { from: self.status, action })
        }
    }
}

/// `amount * days / of_days`, rounded half-even, exact in 128 bits; `of_days` must be positive.
fn pro_rate(amount: Money, days: i64, of_days: i64) -> Result<Money, LifecycleError> {
    if of_days <= 0 {
        return Err(MoneyError::Overflow { op: "div" }.into());
    }
    to_money(Rounding::HalfEven.div_round(i128::from(amount.cents()) * i128::from(days), i128::from(of_days)), "mul")
}

fn to_money(cents: i128, op: &'static str) -> Result<Money, LifecycleError> {
    i64::try_from(cents).map(Money::from_cents).map_err(|_| MoneyError::Overflow { op }.into())
}

/// Days from `from` to `to` (negative when `to` is earlier).
fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    to.signed_duration_since(from).num_days()
}

/// `n` when `from + n months == to` for some `n >= 1` (month ends clamped).
fn whole_months_between(from: NaiveDate, to: NaiveDate) -> Option<u32> {
    let months = (i64::from(to.year()) - i64::from(from.year())) * 12 + i64::from(to.month()) - i64::from(from.month());
    let months = u32::try_from(months).ok().filter(|m| *m > 0)?;
    (from.checked_add_months(Months::new(months)) == Some(to)).then_some(months)
}

/// The wire name of a cancellation method, as in [`DomainEvent::PolicyCancelled`].
fn method_name(method: CancellationMethod) -> &'static str {
    match method {
        CancellationMethod::ProRata => "pro_rata",
        CancellationMethod::ShortRate => "short_rate",
        CancellationMethod::Flat => "flat",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::{BillingPlan, InstallmentFees, schedule};
    use crate::ids::{OrgId, ProgramId};
    use crate::money::Factor;
    use crate::submission::LineOfBusiness;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, 12, 0, 0).single().unwrap()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    /// A bound one-year GL policy, 2027-01-01 to 2028-01-01 (365 days), $1,000.00 premium,
    /// $25.00 fees, $30.00 taxes, paid in full.
    fn sample_policy() -> Policy {
        let effective_date = date(2027, 1, 1);
        let premium = Money::from_cents(100_000);
        let (fees, taxes) = (Money::from_cents(2_500), Money::from_cents(3_000));
        Policy {
            id: PolicyId::from_uuid(id(1)),
            org_id: OrgId::from_uuid(id(2)),
            number: "GL-2027-000001".into(),
            status: PolicyStatus::Bound,
            revision: 1,
            submission_id: SubmissionId::from_uuid(id(3)),
            quote_id: QuoteId::from_uuid(id(4)),
            program_id: ProgramId::from_uuid(id(5)),
            da_agreement_id: None,
            referral_id: None,
            line_of_business: LineOfBusiness::GeneralLiability,
            insured_name: "Acme Manufacturing Co.".into(),
            risk_state: "OH".parse().unwrap(),
            naics_code: "332710".parse().unwrap(),
            occurrence_limit: Money::from_cents(100_000_000),
            aggregate_limit: Money::from_cents(200_000_000),
            deductible: Money::from_cents(500_000),
            effective_date,
            expiration_date: date(2028, 1, 1),
            annual_premium: premium,
            commission_rate: Factor::new(rust_decimal::Decimal::new(15, 2)),
            mga_commission_rate: Factor::default(),
            fees,
            taxes,
            segments: vec![PremiumSegment {
                effective_date,
                premium,
                annual_premium: premium,
                taxes,
                annual_taxes: taxes,
                changes: RiskChange::default(),
                worksheet: None,
                description: ORIGINAL_SEGMENT.into(),
            }],
            risk_changes: RiskChange::default(),
            billing: schedule(
                BillingPlan::PaidInFull,
                effective_date,
                premium,
                Money::from_cents(5_500),
                &InstallmentFees::default(),
            )
            .unwrap(),
            cancellation: None,
            non_payment_notice: None,
            renewal_offered_on: None,
            renewal_of: None,
            bound_by: UserId::from_uuid(id(6)),
            bound_at: at(1),
            updated_at: at(1),
        }
    }

    fn in_status(status: PolicyStatus) -> Policy {
        let mut p = sample_policy();
        p.status = status;
        if status == PolicyStatus::Cancelled {
            p.cancellation = Some(Cancellation {
                effective_date: date(2027, 6, 1),
                method: CancellationMethod::ProRata,
                return_premium: Money::from_cents(58_630),
                return_taxes: Money::ZERO,
                reason: "insured request".into(),
                installments_before: Vec::new(),
                refund_id: None,
            });
        }
        p
    }

    fn terms() -> RenewalTerms {
        RenewalTerms {
            policy_id: PolicyId::from_uuid(id(100)),
            number: "GL-2028-000001".into(),
            quote_id: Some(QuoteId::from_uuid(id(101))),
            submission_id: None,
            annual_premium: Money::from_cents(110_000),
            fees: Money::from_cents(2_500),
            taxes: Money::from_cents(3_300),
            billing: RenewalBilling::Plan {
                plan: BillingPlan::Quarterly,
                installment_fees: InstallmentFees::default(),
            },
            da_agreement_id: None,
            commission_rate: Factor::new(rust_decimal::Decimal::new(15, 2)),
            mga_commission_rate: Factor::default(),
            bound_by: UserId::from_uuid(id(7)),
        }
    }

    const ALL_STATUSES: [PolicyStatus; 6] = [
        PolicyStatus::Bound,
        PolicyStatus::Issued,
        PolicyStatus::Active,
        PolicyStatus::Cancelled,
        PolicyStatus::Expired,
        PolicyStatus::NonRenewed,
    ];

    /// Runs `action` with arguments that are valid apart from the transition itself, and returns
    /// the events (a renewal's new policy is checked separately).
    fn run(p: &mut Policy, action: &str) -> Result<DomainEvent, LifecycleError> {
        let now = at(20);
        match action {
            "issue" => p.issue(now),
            "activate" => p.activate(p.effective_date, now),
            "endorse" => p.endorse(date(2027, 7, 1), Money::from_cents(36_500), "add location", now),
            "cancel" => p.cancel(date(2027, 7, 1), CancellationMethod::ProRata, "insured request", now),
            "reinstate" => p.reinstate(date(2027, 7, 15), now),
            "expire" => p.expire(p.expiration_date, now),
            "non_renew" => p.non_renew("loss experience", now),
            "renew" => p.renew(terms(), now).map(|(_, e)| e),
            other => unreachable!("no action {other}"),
        }
    }

    #[test]
    fn every_state_and_action() {
        use PolicyStatus::*;
        // (action, the states it is allowed from, the status it leads to from each; None = unchanged)
        let table: [(&str, &[PolicyStatus], Option<PolicyStatus>); 8] = [
            ("issue", &[Bound], Some(Issued)),
            ("activate", &[Issued], Some(Active)),
            ("endorse", &[Bound, Issued, Active], None),
            ("cancel", &[Bound, Issued, Active], Some(Cancelled)),
            ("reinstate", &[Cancelled], Some(Active)),
            ("expire", &[Active], Some(Expired)),
            ("non_renew", &[Issued, Active], Some(NonRenewed)),
            ("renew", &[Active, Expired], None),
        ];
        let mut checked = 0;
        for (action, allowed, leads_to) in table {
            for from in ALL_STATUSES {
                let mut p = in_status(from);
                let before = p.clone();
                let result = run(&mut p, action);
                if allowed.contains(&from) {
                    let event = result.unwrap_or_else(|e| panic!("{action} from {from:?}: {e}"));
                    assert!(event.name().starts_with("policy."), "{action}");
                    assert_eq!(p.status, leads_to.unwrap_or(from), "{action} from {from:?}");
                    if action != "renew" {
                        assert_eq!(p.updated_at, at(20), "{action} updates updated_at");
                    } else {
                        assert_eq!(p, before, "renew does not change the expiring policy");
                    }
                } else {
                    assert_eq!(
                        result,
                        Err(LifecycleError::InvalidTransition { from, action }),
                        "{action} from {from:?}"
                    );
                    assert_eq!(p, before, "a refused {action} from {from:?} changes nothing");
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 48);
    }

    #[test]
    fn events_match_transitions() {
        let mut p = sample_policy();
        let pid = p.id;
        assert_eq!(p.issue(at(2)).unwrap(), DomainEvent::PolicyIssued { policy_id: pid });
        assert_eq!(p.activate(date(2027, 1, 1), at(3)).unwrap(), DomainEvent::PolicyActivated { policy_id: pid });
        assert_eq!(
            p.endorse(date(2027, 9, 23), Money::from_cents(100_000), "add location", at(4)).unwrap(),
            DomainEvent::PolicyEndorsed {
                policy_id: pid,
                effective_date: date(2027, 9, 23),
                premium_change: Money::from_cents(27_397),
                taxes_change: Money::ZERO,
            }
        );
        let mut c = p.clone();
        assert_eq!(
            c.cancel(date(2027, 10, 1), CancellationMethod::ShortRate, "insured request", at(5)).unwrap().name(),
            "policy.cancelled"
        );
        assert!(
            matches!(c.reinstate(date(2027, 10, 5), at(6)).unwrap(), DomainEvent::PolicyReinstated { policy_id, .. } if policy_id == pid)
        );
        assert_eq!(
            p.non_renew("loss experience", at(7)).unwrap(),
            DomainEvent::PolicyNonRenewed { policy_id: pid, reason: "loss experience".into() }
        );
        let mut e = sample_policy();
        e.status = PolicyStatus::Active;
        assert_eq!(e.expire(date(2028, 1, 1), at(8)).unwrap(), DomainEvent::PolicyExpired { policy_id: pid });
        assert_eq!(e.updated_at, at(8));
        let (renewal, event) = e.renew(terms(), at(9)).unwrap();
        assert_eq!(event, DomainEvent::PolicyRenewed { policy_id: pid, renewal_policy_id: renewal.id });
    }

    #[test]
    fn full_lifecycle() {
        let mut p = sample_policy();
        p.issue(at(2)).unwrap();
        p.activate(date(2027, 3, 1), at(3)).unwrap();
        assert!(p.in_force_on(date(2027, 3, 1)));
        p.expire(date(2028, 1, 2), at(4)).unwrap();
        assert_eq!(p.status, PolicyStatus::Expired);
        assert!(!p.in_force_on(date(2028, 1, 1)));
        assert!(p.in_force_on(date(2027, 12, 31)), "coverage is by dates");
    }

    #[test]
    fn date_checks() {
        let mut p = in_status(PolicyStatus::Issued);
        let before = p.clone();
        assert_eq!(
            p.activate(date(2026, 12, 31), at(2)),
            Err(LifecycleError::BeforeEffectiveDate { today: date(2026, 12, 31), effective_date: date(2027, 1, 1) })
        );
        assert_eq!(p, before);

        let mut p = in_status(PolicyStatus::Active);
        let before = p.clone();
        let e = p.expire(date(2027, 12, 31), at(2)).unwrap_err();
        assert_eq!(
            e,
            LifecycleError::BeforeExpirationDate { today: date(2027, 12, 31), expiration_date: date(2028, 1, 1) }
        );
        assert_eq!(e.to_string(), "cannot expire on `2027-12-31`, before the expiration date `2028-01-01`");
        for bad in [date(2026, 12, 31), date(2028, 1, 1), date(2030, 1, 1)] {
            assert_eq!(
                p.endorse(bad, Money::from_cents(1_000), "x", at(2)),
                Err(LifecycleError::EndorsementDateOutsidePeriod {
                    date: bad,
                    effective_date: date(2027, 1, 1),
                    expiration_date: date(2028, 1, 1)
                })
            );
            let e = p.cancel(bad, CancellationMethod::ProRata, "x", at(2)).unwrap_err();
            assert_eq!(e.code(), "date_outside_period");
            assert!(matches!(e, LifecycleError::CancellationDateOutsidePeriod { .. }));
        }
        assert_eq!(
            p.cancel(date(2027, 2, 1), CancellationMethod::Flat, "x", at(2)),
            Err(LifecycleError::FlatCancellationAfterInception {
                date: date(2027, 2, 1),
                effective_date: date(2027, 1, 1)
            })
        );
        assert_eq!(p, before);
    }

    #[test]
    fn error_messages_and_codes() {
        let e = LifecycleError::InvalidTransition { from: PolicyStatus::NonRenewed, action: "renew" };
        assert_eq!(e.to_string(), "cannot renew a policy in status `non_renewed`");
        assert_eq!(e.code(), "invalid_transition");
        match crate::error::Error::from(e) {
            crate::error::Error::Rule { code, message } => {
                assert_eq!(code, "invalid_transition");
                assert_eq!(message, "cannot renew a policy in status `non_renewed`");
            }
            other => panic!("{other:?}"),
        }
        let e = LifecycleError::Money(MoneyError::Overflow { op: "add" });
        assert!(matches!(crate::error::Error::from(e), crate::error::Error::Money(_)));
        let e = LifecycleError::EndorsementDateOutsidePeriod {
            date: date(2028, 1, 1),
            effective_date: date(2027, 1, 1),
            expiration_date: date(2028, 1, 1),
        };
        assert_eq!(
            e.to_string(),
            "endorsement date `2028-01-01` is outside the policy period from `2027-01-01` to `2028-01-01`"
        );
    }

    #[test]
    fn endorsement_pro_rates_by_days_remaining() {
        let mut p = in_status(PolicyStatus::Active);
        let date_100_days_left = p.expiration_date - Days::new(100);
        assert_eq!(date_100_days_left, date(2027, 9, 23));
        // 100000 * 100 / 365 = 27397.26 -> $273.97
        p.endorse(date_100_days_left, Money::from_cents(100_000), "add location", at(2)).unwrap();
        let seg = p.segments.last().unwrap();
        assert_eq!(
            (seg.effective_date, seg.premium.cents(), seg.annual_premium.cents(), seg.description.as_str()),
            (date(2027, 9, 23), 27_397, 100_000, "add location")
        );
        assert_eq!(p.written_premium().unwrap().cents(), 127_397);
        assert_eq!(p.status, PolicyStatus::Active);
        // At inception the whole annual change applies; a return premium is negative.
        assert_eq!(p.endorsement_premium(date(2027, 1, 1), Money::from_cents(-36_500)).unwrap().cents(), -36_500);
        // -36500 * 182 / 365 = -18200 exactly (2027-07-03 leaves 182 days)
        assert_eq!(p.endorsement_premium(date(2027, 7, 3), Money::from_cents(-36_500)).unwrap().cents(), -18_200);
        // Last day: 1/365 of the change.
        assert_eq!(p.endorsement_premium(date(2027, 12, 31), Money::from_cents(100_000)).unwrap().cents(), 274);
    }

    #[test]
    fn endorsement_rounds_half_even() {
        // A 366-day term (2028 is a leap year): 183 * 1 / 366 = 0.5 -> 0, 549 / 366 = 1.5 -> 2.
        let mut p = sample_policy();
        p.effective_date = date(2028, 1, 1);
        p.expiration_date = date(2029, 1, 1);
        let last = date(2028, 12, 31);
        assert_eq!(p.endorsement_premium(last, Money::from_cents(183)).unwrap().cents(), 0);
        assert_eq!(p.endorsement_premium(last, Money::from_cents(549)).unwrap().cents(), 2);
        assert_eq!(p.endorsement_premium(last, Money::from_cents(-549)).unwrap().cents(), -2);
    }

    #[test]
    fn endorsement_cannot_make_written_premium_negative() {
        let mut p = in_status(PolicyStatus::Active);
        let before = p.clone();
        assert_eq!(
            p.endorse(date(2027, 1, 1), Money::from_cents(-100_001), "remove everything", at(2)),
            Err(LifecycleError::NegativeWrittenPremium { written: Money::from_cents(-1) })
        );
        assert_eq!(p, before);
        p.endorse(date(2027, 1, 1), Money::from_cents(-100_000), "remove everything", at(2)).unwrap();
        assert_eq!(p.written_premium().unwrap(), Money::ZERO);
    }

    #[test]
    fn endorsement_overflow_is_an_error() {
        let mut p = in_status(PolicyStatus::Active);
        p.segments[0].premium = Money::from_cents(i64::MAX);
        let before = p.clone();
        let e = p.endorse(date(2027, 1, 1), Money::from_cents(1), "x", at(2)).unwrap_err();
        assert_eq!(e, LifecycleError::Money(MoneyError::Overflow { op: "add" }));
        assert_eq!(p, before);
    }

    #[test]
    fn pro_rata_cancellation() {
        let mut p = in_status(PolicyStatus::Active);
        let before = p.clone();
        // 2027-04-11: 100 days in force, 265 unexpired. 100000 * 265 / 365 = 72602.74 -> 72603.
        let event = p.cancel(date(2027, 4, 11), CancellationMethod::ProRata, "sold the business", at(2)).unwrap();
        assert_eq!(
            event,
            DomainEvent::PolicyCancelled {
                policy_id: p.id,
                effective_date: date(2027, 4, 11),
                return_premium: Money::from_cents(72_603),
                // 3000 * 72603 / 100000 = 2178.09 -> 2178
                return_taxes: Money::from_cents(2_178),
                method: "pro_rata".into()
            }
        );
        assert_eq!(
            p.cancellation,
            Some(Cancellation {
                effective_date: date(2027, 4, 11),
                method: CancellationMethod::ProRata,
                return_premium: Money::from_cents(72_603),
                return_taxes: Money::from_cents(2_178),
                reason: "sold the business".into(),
                installments_before: before.billing.installments.clone(),
                refund_id: None,
            })
        );
        assert_eq!(p.status, PolicyStatus::Cancelled);
        assert!(p.in_force_on(date(2027, 4, 10)));
        assert!(!p.in_force_on(date(2027, 4, 11)));
        // Half-way through a 365-day term: 100000 * 183 / 365 = 50136.99 -> 50137.
        let q = in_status(PolicyStatus::Active);
        assert_eq!(
            q.return_premium(date(2027, 7, 2), CancellationMethod::ProRata).unwrap(),
            (CancellationMethod::ProRata, Money::from_cents(50_137))
        );
        // Last day: 1/365 returned.
        assert_eq!(q.return_premium(date(2027, 12, 31), CancellationMethod::ProRata).unwrap().1.cents(), 274);
    }

    #[test]
    fn pro_rata_cancellation_of_an_endorsed_policy_is_per_segment() {
        let mut p = in_status(PolicyStatus::Active);
        p.endorse(date(2027, 9, 23), Money::from_cents(100_000), "add location", at(2)).unwrap();
        // Cancel 2027-10-28: 65 days unexpired. Original: 100000 * 65/365 = 17808.22 -> 17808;
        // endorsement (100 days, 27397): 27397 * 65/100 = 17808.05 -> 17808. Total 35616.
        assert_eq!(p.return_premium(date(2027, 10, 28), CancellationMethod::ProRata).unwrap().1.cents(), 35_616);
        // Before the endorsement's date, its premium comes back whole: 100000 * 200/365 = 54794.52
        // -> 54795, plus 27397.
        assert_eq!(p.return_premium(date(2027, 6, 15), CancellationMethod::ProRata).unwrap().1.cents(), 82_192);
    }

    #[test]
    fn short_rate_cancellation() {
        let mut p = in_status(PolicyStatus::Active);
        // 100 days in force: 38% earned (99-102 days) -> 38000 earned, 62000 returned (pro-rata 72603).
        p.cancel(date(2027, 4, 11), CancellationMethod::ShortRate, "insured request", at(2)).unwrap();
        let c = p.cancellation.clone().unwrap();
        assert_eq!((c.method, c.return_premium.cents()), (CancellationMethod::ShortRate, 62_000));
        let q = in_status(PolicyStatus::Active);
        let short = |d: NaiveDate| q.return_premium(d, CancellationMethod::ShortRate).unwrap().1.cents();
        // 1 day in force: 5% earned.
        assert_eq!(short(date(2027, 1, 2)), 95_000);
        // 30 days: 19%; 182 days (2027-07-02): 60%; 273 days (2027-10-01): 80%.
        assert_eq!(short(date(2027, 1, 31)), 81_000);
        assert_eq!(short(date(2027, 7, 2)), 40_000);
        assert_eq!(short(date(2027, 10, 1)), 20_000);
        // 361 days (2027-12-28): 100% earned, nothing back.
        assert_eq!(short(date(2027, 12, 28)), 0);
        // Odd cents round half-even: 100001 * 38% = 38000.38 -> 38000 earned, 62001 returned.
        let mut r = in_status(PolicyStatus::Active);
        r.segments[0].premium = Money::from_cents(100_001);
        assert_eq!(r.return_premium(date(2027, 4, 11), CancellationMethod::ShortRate).unwrap().1.cents(), 62_001);
    }

    #[test]
    fn short_rate_never_exceeds_pro_rata_nor_goes_below_zero() {
        let mut p = in_status(PolicyStatus::Active);
        // An additional-premium endorsement late in the term: pro-rata per segment is the cap.
        p.endorse(date(2027, 12, 1), Money::from_cents(3_650_000), "big add", at(2)).unwrap();
        let (_, pro_rata) = p.return_premium(date(2027, 12, 15), CancellationMethod::ProRata).unwrap();
        let (_, short) = p.return_premium(date(2027, 12, 15), CancellationMethod::ShortRate).unwrap();
        assert!(short <= pro_rata && !short.is_negative(), "{short} <= {pro_rata}");
    }

    #[test]
    fn flat_cancellation_at_inception_whatever_was_asked() {
        for requested in [CancellationMethod::ProRata, CancellationMethod::ShortRate, CancellationMethod::Flat] {
            for from in [PolicyStatus::Bound, PolicyStatus::Issued, PolicyStatus::Active] {
                let mut p = in_status(from);
                p.endorse(date(2027, 1, 1), Money::from_cents(5_000), "add", at(2)).unwrap();
                let event = p.cancel(date(2027, 1, 1), requested, "not taken up", at(3)).unwrap();
                let c = p.cancellation.clone().unwrap();
                assert_eq!((c.method, c.return_premium.cents()), (CancellationMethod::Flat, 105_000));
                assert!(matches!(event, DomainEvent::PolicyCancelled { ref method, .. } if method == "flat"));
                assert!(!p.in_force_on(date(2027, 1, 1)));
            }
        }
    }

    #[test]
    fn reinstatement_restores_the_status() {
        // Active, cancelled mid-term, reinstated mid-term: active again, cancellation cleared.
        let mut p = in_status(PolicyStatus::Active);
        let before = p.clone();
        p.cancel(date(2027, 5, 1), CancellationMethod::ProRata, "non-payment", at(2)).unwrap();
        p.reinstate(date(2027, 5, 20), at(3)).unwrap();
        assert_eq!(p.status, PolicyStatus::Active);
        assert_eq!(p.cancellation, None);
        assert_eq!(Policy { updated_at: before.updated_at, ..p.clone() }, before);
        assert!(p.in_force_on(date(2027, 6, 1)));

        // Issued, cancelled before inception, reinstated before inception: issued.
        let mut p = in_status(PolicyStatus::Issued);
        p.cancel(date(2027, 1, 1), CancellationMethod::ProRata, "not taken up", at(2)).unwrap();
        p.reinstate(date(2026, 12, 28), at(3)).unwrap();
        assert_eq!(p.status, PolicyStatus::Issued);
        // ... reinstated once the period has begun: active (where activation would have put it).
        let mut p = in_status(PolicyStatus::Issued);
        p.cancel(date(2027, 1, 1), CancellationMethod::ProRata, "not taken up", at(2)).unwrap();
        p.reinstate(date(2027, 1, 10), at(3)).unwrap();
        assert_eq!(p.status, PolicyStatus::Active);
        // ... reinstated after the period: active, and then it expires as usual.
        let mut p = in_status(PolicyStatus::Active);
        p.cancel(date(2027, 11, 1), CancellationMethod::ProRata, "non-payment", at(2)).unwrap();
        p.reinstate(date(2028, 1, 5), at(3)).unwrap();
        assert_eq!(p.status, PolicyStatus::Active);
        p.expire(date(2028, 1, 5), at(4)).unwrap();
        assert_eq!(p.status, PolicyStatus::Expired);
    }

    #[test]
    fn non_renewed_is_terminal_and_still_ends_at_expiration() {
        let mut p = in_status(PolicyStatus::Active);
        p.non_renew("loss experience", at(2)).unwrap();
        assert!(p.in_force_on(date(2027, 12, 31)));
        assert!(!p.in_force_on(date(2028, 1, 1)));
        let before = p.clone();
        assert_eq!(
            p.expire(date(2028, 1, 1), at(3)),
            Err(LifecycleError::InvalidTransition { from: PolicyStatus::NonRenewed, action: "expire" })
        );
        assert_eq!(
            p.renew(terms(), at(3)).map(|(_, e)| e),
            Err(LifecycleError::InvalidTransition { from: PolicyStatus::NonRenewed, action: "renew" })
        );
        assert_eq!(p, before);
    }

    #[test]
    fn renewal_creates_the_next_term() {
        let mut p = in_status(PolicyStatus::Active);
        p.endorse(date(2027, 7, 1), Money::from_cents(10_000), "add vehicle", at(2)).unwrap();
        let before = p.clone();
        let (r, event) = p.renew(terms(), at(9)).unwrap();
        assert_eq!(p, before, "the expiring policy is not changed");
        assert_eq!(event, DomainEvent::PolicyRenewed { policy_id: p.id, renewal_policy_id: r.id });
        assert_eq!((r.id, r.number.as_str()), (PolicyId::from_uuid(id(100)), "GL-2028-000001"));
        assert_eq!((r.status, r.revision), (PolicyStatus::Bound, 0));
        assert_eq!((r.effective_date, r.expiration_date), (date(2028, 1, 1), date(2029, 1, 1)));
        assert_eq!(r.renewal_of, Some(p.id));
        assert_eq!(r.quote_id, QuoteId::from_uuid(id(101)));
        assert_eq!(r.submission_id, p.submission_id);
        assert_eq!(
            (r.org_id, r.program_id, r.insured_name.as_str()),
            (p.org_id, p.program_id, p.insured_name.as_str())
        );
        assert_eq!(
            (r.occurrence_limit, r.aggregate_limit, r.deductible),
            (p.occurrence_limit, p.aggregate_limit, p.deductible)
        );
        assert_eq!((r.annual_premium.cents(), r.fees.cents(), r.taxes.cents()), (110_000, 2_500, 3_300));
        assert_eq!(r.written_premium().unwrap().cents(), 110_000);
        assert_eq!(r.segments.len(), 1);
        assert_eq!(r.segments[0].effective_date, date(2028, 1, 1));
        assert_eq!(r.billing.plan, BillingPlan::Quarterly);
        assert_eq!(r.billing.installments[0].due_date, date(2028, 1, 1));
        assert_eq!(r.billing.premium_total().unwrap().cents(), 110_000);
        assert_eq!(r.billing.installments[0].fees_and_taxes.cents(), 5_800);
        assert_eq!((r.bound_by, r.bound_at, r.updated_at), (UserId::from_uuid(id(7)), at(9), at(9)));
        assert_eq!((r.cancellation.clone(), r.referral_id), (None, None));
        // The renewal then runs its own lifecycle.
        let mut r = r;
        r.issue(at(10)).unwrap();
        r.activate(date(2028, 1, 1), at(11)).unwrap();
        assert_eq!(r.status, PolicyStatus::Active);
    }

    #[test]
    fn renewal_term_lengths() {
        let mut p = in_status(PolicyStatus::Expired);
        // A leap-day inception: 2028-02-29 + 12 months = 2029-02-28, renewed to 2030-02-28.
        p.effective_date = date(2028, 2, 29);
        p.expiration_date = date(2029, 2, 28);
        assert_eq!(p.next_term().unwrap(), (date(2029, 2, 28), date(2030, 2, 28)));
        // Six months.
        p.effective_date = date(2027, 1, 31);
        p.expiration_date = date(2027, 7, 31);
        assert_eq!(p.next_term().unwrap(), (date(2027, 7, 31), date(2028, 1, 31)));
        // Three months.
        p.effective_date = date(2027, 1, 1);
        p.expiration_date = date(2027, 4, 1);
        assert_eq!(p.next_term().unwrap(), (date(2027, 4, 1), date(2027, 7, 1)));
        // Not whole months: the same number of days (73).
        p.expiration_date = date(2027, 3, 15);
        assert_eq!(p.next_term().unwrap(), (date(2027, 3, 15), date(2027, 5, 27)));
        p.expiration_date = date(2027, 1, 15);
        assert_eq!(p.next_term().unwrap(), (date(2027, 1, 15), date(2027, 1, 29)));
        // An empty period.
        p.expiration_date = p.effective_date;
        assert!(matches!(p.next_term(), Err(LifecycleError::InvalidPeriod { .. })));
        assert!(matches!(p.renew(terms(), at(2)), Err(LifecycleError::InvalidPeriod { .. })));
    }

    #[test]
    fn renewal_with_a_given_schedule_and_bad_terms() {
        let p = in_status(PolicyStatus::Active);
        let good = schedule(
            BillingPlan::TwelvePay,
            date(2028, 1, 1),
            Money::from_cents(110_000),
            Money::from_cents(5_800),
            &InstallmentFees::default(),
        )
        .unwrap();
        let (r, _) =
            p.renew(RenewalTerms { billing: RenewalBilling::Schedule(good.clone()), ..terms() }, at(2)).unwrap();
        assert_eq!(r.billing, good);

        let mismatched = RenewalTerms {
            annual_premium: Money::from_cents(120_000),
            billing: RenewalBilling::Schedule(good),
            ..terms()
        };
        assert_eq!(
            p.renew(mismatched, at(2)).map(|(_, e)| e),
            Err(LifecycleError::BillingMismatch {
                billed: Money::from_cents(110_000),
                premium: Money::from_cents(120_000)
            })
        );
        assert_eq!(
            p.renew(RenewalTerms { annual_premium: Money::from_cents(-1), ..terms() }, at(2)).map(|(_, e)| e),
            Err(LifecycleError::NegativePremium(Money::from_cents(-1)))
        );
        assert_eq!(
            p.renew(RenewalTerms { taxes: Money::from_cents(-1), ..terms() }, at(2)).map(|(_, e)| e),
            Err(LifecycleError::Billing(BillingError::NegativeFeesAndTaxes(Money::from_cents(-1))))
        );
    }

    #[test]
    fn empty_period_is_an_error_not_a_panic() {
        let mut p = in_status(PolicyStatus::Active);
        p.expiration_date = p.effective_date;
        assert!(matches!(
            p.return_premium(p.effective_date, CancellationMethod::ProRata),
            Err(LifecycleError::CancellationDateOutsidePeriod { .. })
        ));
        assert!(matches!(
            p.endorsement_premium(p.effective_date, Money::from_cents(1)),
            Err(LifecycleError::EndorsementDateOutsidePeriod { .. })
        ));
    }

    proptest! {
        #[test]
        fn cancellation_returns_are_bounded(premium in 0i64..10_000_000_000_000, day in 0u64..365,
                                            method in proptest::sample::select(vec![CancellationMethod::ProRata, CancellationMethod::ShortRate])) {
            let mut p = in_status(PolicyStatus::Active);
            p.segments[0].premium = Money::from_cents(premium);
            let d = p.effective_date + Days::new(day);
            let (_, pro_rata) = p.return_premium(d, CancellationMethod::ProRata).unwrap();
            let (used, returned) = p.return_premium(d, method).unwrap();
            prop_assert!(!returned.is_negative());
            prop_assert!(returned <= pro_rata);
            prop_assert!(pro_rata.cents() <= premium);
            if day == 0 {
                prop_assert_eq!((used, returned.cents()), (CancellationMethod::Flat, premium));
            } else {
                prop_assert_eq!(used, method);
            }
        }

        #[test]
        fn endorsement_premium_is_exact_half_even(change in -10_000_000_000_000i64..10_000_000_000_000, day in 0u64..365) {
            let p = in_status(PolicyStatus::Active);
            let d = p.effective_date + Days::new(day);
            let got = p.endorsement_premium(d, Money::from_cents(change)).unwrap().cents();
            let remaining = 365 - i128::from(day);
            // |got - change * remaining / 365| <= 1/2
            let diff = i128::from(got) * 365 - i128::from(change) * remaining;
            prop_assert!(diff.abs() * 2 <= 365);
            prop_assert!(got.abs() <= change.abs());
        }
    }
}

#[cfg(test)]
mod billing_tests {
    use super::*;
    use crate::billing::InstallmentStatus;
    use crate::ids::{OrgId, ProgramId};
    use crate::money::Factor;
    use crate::submission::LineOfBusiness;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).single().unwrap()
    }

    /// A quarterly policy of $10,000.00 premium, $100.00 fees, $400.00 taxes, 2027-01-01 for a year.
    fn quarterly() -> Policy {
        let e = date(2027, 1, 1);
        let premium = Money::from_cents(1_000_000);
        let (fees, taxes) = (Money::from_cents(10_000), Money::from_cents(40_000));
        Policy {
            id: PolicyId::from_uuid(Uuid::from_u128(1)),
            org_id: OrgId::from_uuid(Uuid::from_u128(2)),
            number: "GL-2027-000001".into(),
            status: PolicyStatus::Active,
            revision: 3,
            submission_id: SubmissionId::from_uuid(Uuid::from_u128(3)),
            quote_id: QuoteId::from_uuid(Uuid::from_u128(4)),
            program_id: ProgramId::from_uuid(Uuid::from_u128(5)),
            da_agreement_id: None,
            referral_id: None,
            line_of_business: LineOfBusiness::GeneralLiability,
            insured_name: "Acme".into(),
            risk_state: "OH".parse().unwrap(),
            naics_code: "332710".parse().unwrap(),
            occurrence_limit: Money::from_cents(100_000_000),
            aggregate_limit: Money::from_cents(200_000_000),
            deductible: Money::ZERO,
            effective_date: e,
            expiration_date: date(2028, 1, 1),
            annual_premium: premium,
            commission_rate: Factor::new(rust_decimal::Decimal::new(15, 2)),
            mga_commission_rate: Factor::default(),
            fees,
            taxes,
            segments: vec![PremiumSegment {
                effective_date: e,
                premium,
                annual_premium: premium,
                taxes,
                annual_taxes: taxes,
                changes: RiskChange::default(),
                worksheet: None,
                description: ORIGINAL_SEGMENT.into(),
            }],
            risk_changes: RiskChange::default(),
            billing: crate::billing::schedule(
                BillingPlan::Quarterly,
                e,
                premium,
                fees.checked_add(taxes).unwrap(),
                &InstallmentFees::default(),
            )
            .unwrap(),
            cancellation: None,
            non_payment_notice: None,
            renewal_offered_on: None,
            renewal_of: None,
            bound_by: UserId::from_uuid(Uuid::from_u128(6)),
            bound_at: now(),
            updated_at: now(),
        }
    }

    fn statuses(p: &Policy) -> Vec<InstallmentStatus> {
        p.billing.installments.iter().map(|i| i.status).collect()
    }

    /// `billed not voided - refunded = written net of returns`, for premium and for taxes.
    fn reconciles(p: &Policy) {
        let (rp, rt) = p.billing.refunded().unwrap();
        let returned =
            p.cancellation.as_ref().map_or((Money::ZERO, Money::ZERO), |c| (c.return_premium, c.return_taxes));
        assert_eq!(
            p.billing.billed_premium().unwrap().checked_sub(rp).unwrap(),
            p.written_premium().unwrap().checked_sub(returned.0).unwrap()
        );
        assert_eq!(
            p.billing.billed_fees_and_taxes().unwrap().checked_sub(rt).unwrap(),
            p.written_taxes().unwrap().checked_sub(returned.1).unwrap().checked_add(p.fees).unwrap()
        );
    }

    #[test]
    fn a_cancellation_voids_the_unearned_installments_and_refunds_the_over_collected() {
        let mut p = quarterly();
        for n in 1..=2 {
            p.billing.record_payment(n, Uuid::from_u128(100 + u128::from(n))).unwrap();
        }
        // 2027-05-01: 120 days in force, 245 unexpired; 1000000 * 245 / 365 = 671232.88 -> 671233
        let event = p.cancel(date(2027, 5, 1), CancellationMethod::ProRata, "sold", now()).unwrap();
        let c = p.cancellation.clone().unwrap();
        assert_eq!(c.return_premium.cents(), 671_233);
        // 40000 * 671233 / 1000000 = 26849.32 -> 26849
        assert_eq!(c.return_taxes.cents(), 26_849);
        use InstallmentStatus::{Paid, Voided};
        assert_eq!(statuses(&p), vec![Paid, Paid, Voided, Voided]);
        // collected 500000 of premium, earned 328767: 171233 refunded, with 26849 of taxes
        let r = p.billing.refunds.last().unwrap().clone();
        assert_eq!((r.premium.cents(), r.taxes.cents(), r.id), (171_233, 26_849, quarterly().refund_id()));
        assert_eq!(c.refund_id, Some(r.id));
        assert!(matches!(event, DomainEvent::PolicyCancelled { return_taxes, .. } if return_taxes.cents() == 26_849));
        reconciles(&p);

        // reinstatement puts the installments back and bills the refund again
        p.revision += 1;
        p.reinstate(date(2027, 5, 20), now()).unwrap();
        use InstallmentStatus::Due;
        assert_eq!(statuses(&p), vec![Paid, Paid, Due, Due]);
        let premiums: Vec<i64> = p.billing.installments.iter().map(|i| i.premium.cents()).collect();
        assert_eq!(premiums, vec![250_000, 250_000, 250_000 + 85_617, 250_000 + 85_616], "the refund over what is due");
        assert_eq!(p.billing.installments[2].fees_and_taxes.cents(), 26_849);
        reconciles(&p);
    }

    #[test]
    fn an_endorsement_bills_additional_premium_over_the_remaining_installments() {
        let mut p = quarterly();
        p.billing.record_payment(1, Uuid::from_u128(101)).unwrap();
        // +$1,000.00 a year from 2027-07-02: 183 days of 365 -> 50136.99 -> 50137
        p.endorse_with(
            &EndorsementChange {
                effective_date: date(2027, 7, 2),
                annual_premium_change: Money::from_cents(100_000),
                annual_taxes_change: Money::from_cents(4_000),
                description: "add location".into(),
                changes: RiskChange::default(),
                worksheet: None,
            },
            now(),
        )
        .unwrap();
        let premiums: Vec<i64> = p.billing.installments.iter().map(|i| i.premium.cents()).collect();
        assert_eq!(premiums, vec![250_000, 250_000 + 16_713, 250_000 + 16_712, 250_000 + 16_712]);
        // taxes 4000 * 183 / 365 = 2005.48 -> 2005, on the next installment
        assert_eq!(p.billing.installments[1].fees_and_taxes.cents(), 2_005);
        reconciles(&p);
        // an endorsement dated before it is refused, and changes nothing
        let before = p.clone();
        let e = p.endorse(date(2027, 7, 1), Money::from_cents(-1_000), "earlier", now()).unwrap_err();
        assert_eq!(e.code(), "endorsement_before_last");
        assert_eq!(p, before);
    }

    #[test]
    fn a_return_endorsement_on_a_paid_policy_refunds() {
        let mut p = quarterly();
        for n in 1..=4 {
            p.billing.record_payment(n, Uuid::from_u128(100 + u128::from(n))).unwrap();
        }
        p.endorse(date(2027, 7, 2), Money::from_cents(-100_000), "remove location", now()).unwrap();
        assert_eq!(p.billing.refunds.last().map(|r| r.premium.cents()), Some(50_137));
        reconciles(&p);
    }
}
