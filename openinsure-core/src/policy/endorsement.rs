//! Rated endorsements: the caller changes the risk, the rating engine prices the changed risk,
//! and the policy bills the difference for the days remaining.
//!
//! - **What can change** ([`RiskChange`]): the limits, the deductible, the exposures the rate
//!   tables price (revenue, payroll, insured value, employees) and the named insured. The changed
//!   risk must pass the same field rules as a submission.
//! - **Which rate table**: the one the policy was written on (the quote's table id and version).
//!   A term is priced on one rate basis: an endorsement changes the risk within a term whose rates
//!   were agreed at bind, and a newer table applies from the next renewal.
//! - **The change**: the changed risk's annual premium (and taxes) less the policy's current annual
//!   premium (the original premium plus every earlier endorsement's annual change), pro-rated by
//!   actual days remaining, `annual change * (expiration - endorsement date) / (expiration -
//!   effective date)`, the endorsement date counted and the expiration date not, rounded half-even
//!   to the cent. The [`EndorsementWorksheet`] records every figure.
//! - The changed risk goes through the same DA and authority checks as new business (the caller
//!   does that with the context; see the application's `endorse_policy`).

use serde::{Deserialize, Serialize};

use crate::error::FieldErrors;
use crate::money::Money;
use crate::quote::RateTableRef;
use crate::submission::Submission;

/// The changes an endorsement makes to the risk; a field left out keeps its value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RiskChange {
    /// The named insured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub insured_name: Option<String>,
    /// Each-occurrence limit.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "occurrenceLimitCents")]
    pub occurrence_limit: Option<Money>,
    /// Aggregate limit.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "aggregateLimitCents")]
    pub aggregate_limit: Option<Money>,
    /// Deductible.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "deductibleCents")]
    pub deductible: Option<Money>,
    /// Annual revenue.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "annualRevenueCents")]
    pub annual_revenue: Option<Money>,
    /// Annual payroll.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "annualPayrollCents")]
    pub annual_payroll: Option<Money>,
    /// Total insured value.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "totalInsuredValueCents")]
    pub total_insured_value: Option<Money>,
    /// Employees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 10_000_000))]
    pub employee_count: Option<u32>,
}

impl RiskChange {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == RiskChange::default()
    }

    /// `later` on top of `self`: each field `later` sets wins.
    pub fn then(&self, later: &RiskChange) -> RiskChange {
        RiskChange {
            insured_name: later.insured_name.clone().or_else(|| self.insured_name.clone()),
            occurrence_limit: later.occurrence_limit.or(self.occurrence_limit),
            aggregate_limit: later.aggregate_limit.or(self.aggregate_limit),
            deductible: later.deductible.or(self.deductible),
            annual_revenue: later.annual_revenue.or(self.annual_revenue),
            annual_payroll: later.annual_payroll.or(self.annual_payroll),
            total_insured_value: later.total_insured_value.or(self.total_insured_value),
            employee_count: later.employee_count.or(self.employee_count),
        }
    }

    /// The risk with the changes made, checked by the submission's own field rules; every error at
    /// once, each under `prefix` (`changes.occurrenceLimitCents`). No change is the same risk.
    pub fn apply(&self, risk: &Submission, prefix: &str) -> Result<Submission, FieldErrors> {
        let mut e = FieldErrors::default();
        let path = |name: &str| format!("{prefix}.{name}");
        let mut s = risk.clone();
        if let Some(name) = &self.insured_name {
            match crate::text::check_line(name, 200) {
                Ok(()) if !name.trim().is_empty() => s.insured_name = name.clone(),
                Ok(()) => e.push(path("insuredName"), "must not be empty"),
                Err(reason) => e.push(path("insuredName"), reason.to_string()),
            }
        }
        let not_negative = |e: &mut FieldErrors, name: &str, m: Money| {
            if m.is_negative() {
                e.push(path(name), "must not be negative");
            }
        };
        for (name, value, target) in [
            ("annualRevenueCents", self.annual_revenue, Some(&mut s.annual_revenue)),
            ("deductibleCents", self.deductible, Some(&mut s.deductible)),
        ] {
            if let (Some(v), Some(t)) = (value, target) {
                not_negative(&mut e, name, v);
                *t = v;
            }
        }
        for (name, value, target) in [
            ("annualPayrollCents", self.annual_payroll, &mut s.annual_payroll),
            ("totalInsuredValueCents", self.total_insured_value, &mut s.total_insured_value),
        ] {
            if let Some(v) = value {
                not_negative(&mut e, name, v);
                *target = Some(v);
            }
        }
        for (name, value, target) in [
            ("occurrenceLimitCents", self.occurrence_limit, &mut s.requested_occurrence_limit),
            ("aggregateLimitCents", self.aggregate_limit, &mut s.requested_aggregate_limit),
        ] {
            if let Some(v) = value {
                if v.cents() < 1 {
                    e.push(path(name), "must be at least 1");
                }
                *target = v;
            }
        }
        if let Some(n) = self.employee_count {
            if n > 10_000_000 {
                e.push(path("employeeCount"), "must be at most 10000000");
            }
            s.employee_count = Some(n);
        }
        if s.requested_aggregate_limit < s.requested_occurrence_limit {
            e.push(path("aggregateLimitCents"), "must be at least the occurrence limit");
        }
        if s.deductible >= s.requested_occurrence_limit {
            e.push(path("deductibleCents"), "must be less than the occurrence limit");
        }
        e.into_result(|| s)
    }
}

/// How an endorsement's premium was found: every figure, the basis and the rounding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndorsementWorksheet {
    /// The rate table the changed risk was rated on (the policy's own).
    pub rate_table: RateTableRef,
    /// Why that table.
    pub rate_table_basis: String,
    /// The annual premium before the endorsement.
    #[serde(rename = "annualPremiumBeforeCents")]
    pub annual_premium_before: Money,
    /// The changed risk's annual premium.
    #[serde(rename = "annualPremiumAfterCents")]
    pub annual_premium_after: Money,
    /// The annual taxes before.
    #[serde(rename = "annualTaxesBeforeCents")]
    pub annual_taxes_before: Money,
    /// The changed risk's annual taxes.
    #[serde(rename = "annualTaxesAfterCents")]
    pub annual_taxes_after: Money,
    /// Days from the endorsement date to the expiration date.
    pub days_remaining: i64,
    /// Days in the term.
    pub days_in_term: i64,
    /// The day count.
    pub day_count: String,
    /// The rounding.
    pub rounding: String,
    /// The premium change billed.
    #[serde(rename = "premiumChangeCents")]
    pub premium_change: Money,
    /// The taxes change billed.
    #[serde(rename = "taxesChangeCents")]
    pub taxes_change: Money,
}

/// The day count of every pro-rating.
pub const DAY_COUNT: &str =
    "actual days: the endorsement date counted, the expiration date not, over the term's actual days";

/// The rounding of every pro-rating.
pub const ROUNDING: &str = "half-even to the cent, once, on the exact product";

/// Why an endorsement rates on the policy's own table.
pub const RATE_TABLE_BASIS: &str = "the table the policy was written on: a term keeps the rates agreed at bind; a newer table applies from the renewal";

impl crate::policy::Policy {
    /// Prices an endorsement from `effective_date` whose changed risk rated at `rating` (on the
    /// policy's own table, see the module docs): the annual premium and taxes changes against
    /// those in force, pro-rated, with the worksheet. Does not change the policy; pass the result
    /// to [`Policy::endorse_with`](crate::policy::Policy::endorse_with).
    ///
    /// # Errors
    ///
    /// [`LifecycleError::EndorsementDateOutsidePeriod`](crate::policy::lifecycle::LifecycleError::EndorsementDateOutsidePeriod)
    /// for a date outside the term, [`LifecycleError::Money`](crate::policy::lifecycle::LifecycleError::Money) on overflow.
    pub fn price_endorsement(
        &self,
        effective_date: chrono::NaiveDate,
        changes: &RiskChange,
        rating: &crate::quote::Rating,
        description: impl Into<String>,
    ) -> Result<crate::policy::lifecycle::EndorsementChange, crate::policy::lifecycle::LifecycleError> {
        let annual_premium_before = self.current_annual_premium()?;
        let annual_taxes_before = self.current_annual_taxes()?;
        let annual_premium_after = rating.totals.gross_premium;
        let annual_taxes_after = rating.totals.taxes;
        let annual_premium_change = annual_premium_after.checked_sub(annual_premium_before)?;
        let annual_taxes_change = annual_taxes_after.checked_sub(annual_taxes_before)?;
        let premium_change = self.endorsement_premium(effective_date, annual_premium_change)?;
        let taxes_change = self.endorsement_premium(effective_date, annual_taxes_change)?;
        let worksheet = EndorsementWorksheet {
            rate_table: rating.rate_table.clone(),
            rate_table_basis: RATE_TABLE_BASIS.to_owned(),
            annual_premium_before,
            annual_premium_after,
            annual_taxes_before,
            annual_taxes_after,
            days_remaining: (self.expiration_date - effective_date).num_days(),
            days_in_term: (self.expiration_date - self.effective_date).num_days(),
            day_count: DAY_COUNT.to_owned(),
            rounding: ROUNDING.to_owned(),
            premium_change,
            taxes_change,
        };
        Ok(crate::policy::lifecycle::EndorsementChange {
            effective_date,
            annual_premium_change,
            annual_taxes_change,
            description: description.into(),
            changes: changes.clone(),
            worksheet: Some(worksheet),
        })
    }
}

/// The underwriting context an endorsement is checked in: `ctx` with the changed risk, and the
/// agreement usage without the policy itself (its premium and its count for the insured), so the
/// changed risk is checked as if it were written new, by the same rules as new business.
pub fn endorsement_context(
    mut ctx: crate::underwriting::decision::UnderwritingContext,
    policy: &crate::policy::Policy,
    changed: Submission,
) -> Result<crate::underwriting::decision::UnderwritingContext, crate::money::MoneyError> {
    let net = policy.net_written_premium()?;
    let insured = crate::underwriting::da::insured_key(&ctx.submission);
    if let Some(agreement) = policy.da_agreement_id
        && let Some(year) =
            ctx.agreements.iter().find(|a| a.id == agreement).and_then(|a| a.year_and_quarter(policy.effective_date))
    {
        for (id, usage) in &mut ctx.usage {
            if *id == agreement && usage.agreement_year == year.0 {
                usage.written_premium = usage.written_premium.checked_sub(net)?.max(Money::ZERO);
                let q = usize::from(year.1.min(3));
                usage.quarter_premium[q] = usage.quarter_premium[q].checked_sub(net)?.max(Money::ZERO);
                usage.policy_count = usage.policy_count.saturating_sub(1);
                if let Some(n) = usage.policies_by_insured.get_mut(&insured) {
                    *n = n.saturating_sub(1);
                }
            }
        }
    }
    ctx.submission = changed;
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{OrgId, SubmissionId};
    use crate::samples;

    #[test]
    fn changes_are_checked_by_the_submission_rules_every_error_at_once() {
        let s = samples::sample_submission(
            SubmissionId::from_uuid(uuid::Uuid::from_u128(1)),
            OrgId::from_uuid(uuid::Uuid::from_u128(2)),
        );
        let bad = RiskChange {
            occurrence_limit: Some(Money::from_cents(0)),
            deductible: Some(Money::from_cents(-1)),
            annual_revenue: Some(Money::from_cents(-5)),
            ..RiskChange::default()
        };
        let e = bad.apply(&s, "changes").unwrap_err();
        let fields: Vec<&str> = e.iter().map(|f| f.path.as_str()).collect();
        assert!(fields.contains(&"changes.occurrenceLimitCents"), "{fields:?}");
        assert!(fields.contains(&"changes.deductibleCents"), "{fields:?}");
        assert!(fields.contains(&"changes.annualRevenueCents"), "{fields:?}");
        assert_eq!(RiskChange::default().apply(&s, "changes").unwrap(), s, "no change is the same risk");
        let raised = RiskChange {
            occurrence_limit: Some(Money::from_cents(200_000_000)),
            aggregate_limit: Some(Money::from_cents(400_000_000)),
            ..RiskChange::default()
        };
        let r = raised.apply(&s, "changes").unwrap();
        assert_eq!(r.requested_occurrence_limit.cents(), 200_000_000);
        let only_occurrence = RiskChange { aggregate_limit: None, ..raised.clone() };
        let s2 = RiskChange { occurrence_limit: Some(Money::from_cents(900_000_000)), ..only_occurrence };
        let e = s2.apply(&s, "changes").unwrap_err();
        assert!(e.iter().any(|f| f.path == "changes.aggregateLimitCents"));
    }

    #[test]
    fn later_changes_win() {
        let a =
            RiskChange { employee_count: Some(3), deductible: Some(Money::from_cents(10)), ..RiskChange::default() };
        let b = RiskChange { employee_count: Some(5), ..RiskChange::default() };
        let c = a.then(&b);
        assert_eq!((c.employee_count, c.deductible), (Some(5), Some(Money::from_cents(10))));
    }
}
