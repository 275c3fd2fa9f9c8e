//! Delegated-authority (DA) agreements and the checks they impose.
//!
//! A DA agreement binds an MGA's program to a carrier: the period, per-policy maxima, where and
//! what may be written, how much premium per agreement year (and quarter), and the risks that
//! must be referred even within limits. [`check`] runs every rule against a risk and returns one
//! [`Flag`] per failure; it never stops at the first.
//!
//! Capacity is counted per agreement year (year 1 starts on the agreement's effective date) by the
//! policy's effective date, and quarters are the four three-month spans of that year.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::FieldErrors;
use crate::geo::{Naics, UsState};
use crate::ids::{CarrierId, DaAgreementId, OrgId, ProgramId};
use crate::money::Money;
use crate::submission::Submission;
use crate::underwriting::checks::Flag;

/// Where an agreement stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DaStatus {
    /// Binding is allowed.
    Active,
    /// Temporarily not allowed (carrier audit, breach).
    Suspended,
    /// Ended.
    Expired,
}

/// A set of states: all of them, or a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateSet {
    /// Every state.
    All,
    /// Only these.
    Only(Vec<UsState>),
}

impl StateSet {
    /// True when `state` is in the set.
    pub fn contains(&self, state: UsState) -> bool {
        match self {
            StateSet::All => true,
            StateSet::Only(list) => list.contains(&state),
        }
    }
}

/// Risks to refer even within limits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferralTriggers {
    /// Refer when annual revenue is above this.
    #[serde(rename = "revenueAboveCents", default, skip_serializing_if = "Option::is_none")]
    pub revenue_above: Option<Money>,
    /// Refer when the loss ratio over the submitted history is above this (`"0.60"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_ratio_above: Option<Decimal>,
    /// Refer when the submitted history has more than this many claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_count_above: Option<u32>,
    /// Refer these classes (NAICS prefixes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub naics_prefixes: Vec<Naics>,
    /// Refer these states.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<UsState>,
}

/// A delegated-authority agreement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DaAgreement {
    /// Its id.
    pub id: DaAgreementId,
    /// The MGA's org.
    pub org_id: OrgId,
    /// The program it covers.
    pub program_id: ProgramId,
    /// The carrier.
    pub carrier_id: CarrierId,
    /// A name for people.
    #[schemars(length(min = 1, max = 200), pattern(crate::text::LINE_PATTERN))]
    pub name: String,
    /// Where it stands.
    pub status: DaStatus,
    /// First day policies may be effective.
    #[serde(deserialize_with = "crate::text::strict_date")]
    pub effective_date: NaiveDate,
    /// Policies must be effective before this day.
    #[serde(deserialize_with = "crate::text::strict_date")]
    pub expiration_date: NaiveDate,
    /// Per-policy maximum each-occurrence limit.
    #[serde(rename = "maxOccurrenceLimitCents")]
    pub max_occurrence_limit: Money,
    /// Per-policy maximum aggregate limit.
    #[serde(rename = "maxAggregateLimitCents")]
    pub max_aggregate_limit: Money,
    /// Per-policy maximum gross premium.
    #[serde(rename = "maxPremiumCents")]
    pub max_premium: Money,
    /// Authorized states.
    pub authorized_states: StateSet,
    /// Excluded states (win over authorized).
    #[serde(default)]
    pub excluded_states: Vec<UsState>,
    /// Authorized NAICS prefixes; empty allows every class.
    #[serde(default)]
    pub authorized_naics: Vec<Naics>,
    /// Excluded NAICS prefixes.
    #[serde(default)]
    pub excluded_naics: Vec<Naics>,
    /// Gross written premium allowed per agreement year.
    #[serde(rename = "annualPremiumLimitCents")]
    pub annual_premium_limit: Money,
    /// Optional quarterly sub-limit.
    #[serde(rename = "quarterlyPremiumLimitCents", default, skip_serializing_if = "Option::is_none")]
    pub quarterly_premium_limit: Option<Money>,
    /// Optional maximum number of policies per insured per agreement year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_policies_per_insured: Option<u32>,
    /// Optional maximum insured annual revenue.
    #[serde(rename = "maxInsuredRevenueCents", default, skip_serializing_if = "Option::is_none")]
    pub max_insured_revenue: Option<Money>,
    /// Allowed policy terms in months.
    pub allowed_terms_months: Vec<u32>,
    /// Optional minimum years in business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_years_in_business: Option<u32>,
    /// Risks to refer even within limits.
    #[serde(default)]
    pub referral_triggers: ReferralTriggers,
    /// The MGA's commission from the carrier, a rate of premium (the producer's is on the quote).
    #[serde(default)]
    pub mga_commission_rate: crate::money::Factor,
    /// The store's revision counter.
    #[serde(default)]
    pub revision: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A DA agreement as a client writes it: every field of [`DaAgreement`] but those the server
/// sets (`id`, `orgId`, `revision`, `createdAt`). [`NewDaAgreement::into_agreement`] checks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewDaAgreement {
    /// The program it covers.
    pub program_id: ProgramId,
    /// The carrier.
    pub carrier_id: CarrierId,
    /// A name for people.
    #[schemars(length(min = 1, max = 200), pattern(crate::text::LINE_PATTERN))]
    pub name: String,
    /// Where it stands.
    pub status: DaStatus,
    /// First day policies may be effective.
    #[serde(deserialize_with = "crate::text::strict_date")]
    pub effective_date: NaiveDate,
    /// Policies must be effective before this day.
    #[serde(deserialize_with = "crate::text::strict_date")]
    pub expiration_date: NaiveDate,
    /// Per-policy maximum each-occurrence limit.
    #[serde(rename = "maxOccurrenceLimitCents")]
    pub max_occurrence_limit: Money,
    /// Per-policy maximum aggregate limit.
    #[serde(rename = "maxAggregateLimitCents")]
    pub max_aggregate_limit: Money,
    /// Per-policy maximum gross premium.
    #[serde(rename = "maxPremiumCents")]
    pub max_premium: Money,
    /// Authorized states.
    pub authorized_states: StateSet,
    /// Excluded states (win over authorized).
    #[serde(default)]
    pub excluded_states: Vec<UsState>,
    /// Authorized NAICS prefixes; empty allows every class.
    #[serde(default)]
    pub authorized_naics: Vec<Naics>,
    /// Excluded NAICS prefixes.
    #[serde(default)]
    pub excluded_naics: Vec<Naics>,
    /// Gross written premium allowed per agreement year.
    #[serde(rename = "annualPremiumLimitCents")]
    pub annual_premium_limit: Money,
    /// Optional quarterly sub-limit.
    #[serde(rename = "quarterlyPremiumLimitCents", default, skip_serializing_if = "Option::is_none")]
    pub quarterly_premium_limit: Option<Money>,
    /// Optional maximum number of policies per insured per agreement year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_policies_per_insured: Option<u32>,
    /// Optional maximum insured annual revenue.
    #[serde(rename = "maxInsuredRevenueCents", default, skip_serializing_if = "Option::is_none")]
    pub max_insured_revenue: Option<Money>,
    /// Allowed policy terms in months.
    pub allowed_terms_months: Vec<u32>,
    /// Optional minimum years in business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_years_in_business: Option<u32>,
    /// Risks to refer even within limits.
    #[serde(default)]
    pub referral_triggers: ReferralTriggers,
    /// The MGA's commission from the carrier, a rate of premium (the producer's is on the quote).
    #[serde(default)]
    pub mga_commission_rate: crate::money::Factor,
}

impl NewDaAgreement {
    /// The agreement `id` of `org_id`, created at `now`, after [`DaAgreement::validate`]: every
    /// field error at once.
    pub fn into_agreement(
        self,
        id: DaAgreementId,
        org_id: OrgId,
        now: DateTime<Utc>,
    ) -> Result<DaAgreement, FieldErrors> {
        let NewDaAgreement {
            program_id,
            carrier_id,
            name,
            status,
            effective_date,
            expiration_date,
            max_occurrence_limit,
            max_aggregate_limit,
            max_premium,
            authorized_states,
            excluded_states,
            authorized_naics,
            excluded_naics,
            annual_premium_limit,
            quarterly_premium_limit,
            max_policies_per_insured,
            max_insured_revenue,
            allowed_terms_months,
            min_years_in_business,
            referral_triggers,
            mga_commission_rate,
        } = self;
        let agreement = DaAgreement {
            id,
            org_id,
            program_id,
            carrier_id,
            name,
            status,
            effective_date,
            expiration_date,
            max_occurrence_limit,
            max_aggregate_limit,
            max_premium,
            authorized_states,
            excluded_states,
            authorized_naics,
            excluded_naics,
            annual_premium_limit,
            quarterly_premium_limit,
            max_policies_per_insured,
            max_insured_revenue,
            allowed_terms_months,
            min_years_in_business,
            referral_triggers,
            mga_commission_rate,
            revision: 0,
            created_at: now,
        };
        agreement.validate()?;
        Ok(agreement)
    }
}

/// What an agreement has used in one agreement year.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DaUsage {
    /// The agreement year (1 = the first).
    pub agreement_year: u32,
    /// Premium written in the year.
    #[serde(rename = "writtenPremiumCents")]
    pub written_premium: Money,
    /// Premium written in each quarter of the year.
    #[serde(rename = "quarterPremiumCents")]
    pub quarter_premium: [Money; 4],
    /// Policies bound in the year.
    pub policy_count: u32,
    /// Policies bound per insured key (see [`insured_key`]).
    pub policies_by_insured: std::collections::BTreeMap<String, u32>,
}

impl DaUsage {
    /// The usage with the policy count of one insured only (what a decision about that insured
    /// needs; a year's usage counts every insured of the book).
    pub fn for_insured(&self, insured_key: &str) -> DaUsage {
        DaUsage {
            agreement_year: self.agreement_year,
            written_premium: self.written_premium,
            quarter_premium: self.quarter_premium,
            policy_count: self.policy_count,
            policies_by_insured: self
                .policies_by_insured
                .get_key_value(insured_key)
                .map(|(k, v)| (k.clone(), *v))
                .into_iter()
                .collect(),
        }
    }
}

/// A claim on an agreement's capacity: what a bind adds to its usage. The store applies it
/// atomically, refusing it when a limit would be passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityClaim {
    /// The agreement.
    pub agreement_id: DaAgreementId,
    /// The agreement year.
    pub agreement_year: u32,
    /// The quarter of that year, 0 to 3.
    pub quarter: u8,
    /// Premium to add.
    #[serde(rename = "premiumCents")]
    pub premium: Money,
    /// The insured.
    pub insured_key: String,
    /// The annual limit.
    #[serde(rename = "annualLimitCents")]
    pub annual_limit: Money,
    /// The quarterly sub-limit.
    #[serde(rename = "quarterlyLimitCents")]
    pub quarterly_limit: Option<Money>,
    /// The per-insured policy limit.
    pub max_policies_per_insured: Option<u32>,
}

/// Why an agreement's usage cannot take a [`CapacityClaim`]: the limit passed, in words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapacityExceeded {
    /// The agreement year's premium capacity.
    #[error("agreement year {year} capacity {limit} has {left} left; this policy needs {needed}")]
    Annual {
        /// The agreement year.
        year: u32,
        /// The annual limit.
        limit: Money,
        /// What is left of it.
        left: Money,
        /// What the bind needs.
        needed: Money,
    },
    /// A quarter's sub-limit.
    #[error("quarter {quarter} sub-limit {limit} would be passed")]
    Quarterly {
        /// The quarter, 1 to 4.
        quarter: u8,
        /// Its sub-limit.
        limit: Money,
    },
    /// The policies one insured may have under the agreement in a year.
    #[error("the insured already has {max} policies under this agreement this year")]
    PoliciesPerInsured {
        /// The maximum.
        max: u32,
    },
    /// The usage's totals would overflow.
    #[error(transparent)]
    Money(#[from] crate::money::MoneyError),
}

impl CapacityExceeded {
    /// The pre-bind flag and store error code of every capacity refusal.
    pub const CODE: &'static str = "da_capacity_exceeded";
}

impl From<CapacityExceeded> for crate::Error {
    fn from(e: CapacityExceeded) -> Self {
        match e {
            CapacityExceeded::Money(m) => crate::Error::Money(m),
            other => crate::Error::Rule { code: CapacityExceeded::CODE, message: other.to_string() },
        }
    }
}

impl CapacityClaim {
    /// Adds the claim to `usage` if it fits, or says which limit it would pass and leaves `usage`
    /// as it was. Stores call this under the lock or transaction in which they then write the
    /// usage, so two racing binds cannot both pass.
    pub fn take(&self, usage: &mut DaUsage) -> Result<(), CapacityExceeded> {
        let (after, quarter_after, of_insured) = self.fits(usage)?;
        let q = usize::from(self.quarter.min(3));
        usage.agreement_year = self.agreement_year;
        usage.written_premium = after;
        usage.quarter_premium[q] = quarter_after;
        usage.policy_count += 1;
        usage.policies_by_insured.insert(self.insured_key.clone(), of_insured + 1);
        Ok(())
    }

    /// Whether `usage` could take the claim, without taking it (the pre-bind flag).
    pub fn check(&self, usage: &DaUsage) -> Result<(), CapacityExceeded> {
        self.fits(usage).map(|_| ())
    }

    /// The usage's premium, quarter premium and policies of the insured after the claim, if every
    /// limit holds.
    fn fits(&self, usage: &DaUsage) -> Result<(Money, Money, u32), CapacityExceeded> {
        let after = usage.written_premium.checked_add(self.premium)?;
        if after > self.annual_limit {
            return Err(CapacityExceeded::Annual {
                year: self.agreement_year,
                limit: self.annual_limit,
                left: self.annual_limit.checked_sub(usage.written_premium).unwrap_or(Money::ZERO),
                needed: self.premium,
            });
        }
        let q = usize::from(self.quarter.min(3));
        let quarter_after = usage.quarter_premium[q].checked_add(self.premium)?;
        if let Some(limit) = self.quarterly_limit
            && quarter_after > limit
        {
            return Err(CapacityExceeded::Quarterly { quarter: self.quarter.min(3) + 1, limit });
        }
        let of_insured = usage.policies_by_insured.get(&self.insured_key).copied().unwrap_or(0);
        if let Some(max) = self.max_policies_per_insured
            && of_insured >= max
        {
            return Err(CapacityExceeded::PoliciesPerInsured { max });
        }
        Ok((after, quarter_after, of_insured))
    }
}

/// A change of a year's written premium after bind: an endorsement's premium change, a
/// cancellation's return premium (negative), a reinstatement's. The policy count does not move.
/// The store applies it with [`UsageChange::apply`] in the same atomic step as the policy change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageChange {
    /// The agreement.
    pub agreement_id: DaAgreementId,
    /// The agreement year.
    pub agreement_year: u32,
    /// The quarter of that year, 0 to 3.
    pub quarter: u8,
    /// Premium to add (negative to release).
    #[serde(rename = "premiumCents")]
    pub premium: Money,
    /// The annual limit, checked when premium is added.
    #[serde(rename = "annualLimitCents")]
    pub annual_limit: Money,
    /// The quarterly sub-limit, checked when premium is added.
    #[serde(rename = "quarterlyLimitCents")]
    pub quarterly_limit: Option<Money>,
}

impl UsageChange {
    /// Applies the change to `usage` if it fits: added premium must stay within the annual limit
    /// and the quarter's sub-limit, as at bind; a release always fits (never below zero). On an
    /// error `usage` is as it was.
    pub fn apply(&self, usage: &mut DaUsage) -> Result<(), CapacityExceeded> {
        let q = usize::from(self.quarter.min(3));
        let after = usage.written_premium.checked_add(self.premium)?.max(Money::ZERO);
        let quarter_after = usage.quarter_premium[q].checked_add(self.premium)?.max(Money::ZERO);
        if self.premium.cents() > 0 {
            if after > self.annual_limit {
                return Err(CapacityExceeded::Annual {
                    year: self.agreement_year,
                    limit: self.annual_limit,
                    left: self.annual_limit.checked_sub(usage.written_premium).unwrap_or(Money::ZERO),
                    needed: self.premium,
                });
            }
            if let Some(limit) = self.quarterly_limit
                && quarter_after > limit
            {
                return Err(CapacityExceeded::Quarterly { quarter: self.quarter.min(3) + 1, limit });
            }
        }
        usage.agreement_year = self.agreement_year;
        usage.written_premium = after;
        usage.quarter_premium[q] = quarter_after;
        Ok(())
    }
}

/// The key that identifies an insured across submissions: the FEIN when given, else the name
/// lowercased with everything but letters and digits removed.
pub fn insured_key(submission: &Submission) -> String {
    match &submission.fein {
        Some(fein) => format!("fein:{fein}"),
        None => format!(
            "name:{}",
            submission
                .insured_name
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        ),
    }
}

impl DaAgreement {
    /// The agreement year (1-based) and quarter (0-3) a policy effective on `date` counts in, or
    /// `None` before the agreement starts.
    pub fn year_and_quarter(&self, date: NaiveDate) -> Option<(u32, u8)> {
        if date < self.effective_date {
            return None;
        }
        let months = (date.year() - self.effective_date.year()) * 12 + date.month() as i32
            - self.effective_date.month() as i32
            - i32::from(date.day() < self.effective_date.day());
        let months = u32::try_from(months.max(0)).ok()?;
        Some((months / 12 + 1, ((months % 12) / 3) as u8))
    }

    /// The capacity claim a bind of `premium` for `submission` makes.
    pub fn claim(&self, submission: &Submission, premium: Money) -> Option<CapacityClaim> {
        let (agreement_year, quarter) = self.year_and_quarter(submission.effective_date)?;
        Some(CapacityClaim {
            agreement_id: self.id,
            agreement_year,
            quarter,
            premium,
            insured_key: insured_key(submission),
            annual_limit: self.annual_premium_limit,
            quarterly_limit: self.quarterly_premium_limit,
            max_policies_per_insured: self.max_policies_per_insured,
        })
    }

    /// The usage change a policy change of `premium` (signed) makes: it moves the agreement year
    /// and quarter the policy counted in at bind (by its effective date). `None` when the policy's
    /// date is before the agreement.
    pub fn usage_change(&self, policy_effective_date: NaiveDate, premium: Money) -> Option<UsageChange> {
        let (agreement_year, quarter) = self.year_and_quarter(policy_effective_date)?;
        Some(UsageChange {
            agreement_id: self.id,
            agreement_year,
            quarter,
            premium,
            annual_limit: self.annual_premium_limit,
            quarterly_limit: self.quarterly_premium_limit,
        })
    }

    /// Moves the agreement to `to`: active and suspended go back and forth; expired is final (an
    /// expired agreement is replaced by a new one, never revived). Setting the status it has is
    /// a no-op. A refused move is [`crate::Error::Rule`] `invalid_transition`.
    pub fn set_status(&mut self, to: DaStatus) -> Result<(), crate::Error> {
        match (self.status, to) {
            (from, to) if from == to => Ok(()),
            (DaStatus::Expired, _) => Err(crate::Error::Rule {
                code: "invalid_transition",
                message: format!("DA agreement `{}` has expired; an expired agreement cannot be {:?}", self.name, to)
                    .to_lowercase(),
            }),
            (_, to) => {
                self.status = to;
                Ok(())
            }
        }
    }

    /// True when the agreement is active and `date` is within its period.
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.status == DaStatus::Active && date >= self.effective_date && date < self.expiration_date
    }

    /// Checks what the types cannot; every problem is listed.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        if let Err(reason) = crate::text::check_line(&self.name, 200) {
            e.push("name", reason);
        }
        if self.expiration_date <= self.effective_date {
            e.push("expirationDate", "must be after effectiveDate");
        }
        for (field, m) in [
            ("maxOccurrenceLimitCents", self.max_occurrence_limit),
            ("maxAggregateLimitCents", self.max_aggregate_limit),
            ("maxPremiumCents", self.max_premium),
            ("annualPremiumLimitCents", self.annual_premium_limit),
        ] {
            if m.cents() <= 0 {
                e.push(field, "must be positive");
            }
        }
        if self.quarterly_premium_limit.is_some_and(|q| q.cents() <= 0) {
            e.push("quarterlyPremiumLimitCents", "must be positive");
        }
        let mga = self.mga_commission_rate.value();
        if mga.is_sign_negative() || mga >= Decimal::ONE {
            e.push("mgaCommissionRate", "must be at least 0 and below 1");
        }
        if self.allowed_terms_months.is_empty() {
            e.push("allowedTermsMonths", "must list at least one term");
        }
        if self.allowed_terms_months.iter().any(|t| !(1..=36).contains(t)) {
            e.push("allowedTermsMonths", "terms must be 1 to 36 months");
        }
        if let StateSet::Only(list) = &self.authorized_states
            && list.is_empty()
        {
            e.push("authorizedStates", "an empty list authorizes nothing; use `all` or list states");
        }
        e.into_result(|| ())
    }
}

fn covered_by(code: Naics, prefixes: &[Naics]) -> Option<Naics> {
    prefixes.iter().copied().find(|p| code.starts_with(p))
}

/// The loss ratio of a submission's whole loss history, `None` without earned premium.
pub fn history_loss_ratio(submission: &Submission) -> Option<Decimal> {
    let earned = Money::checked_sum(submission.loss_history.iter().map(|l| l.earned_premium)).ok()?;
    let losses = Money::checked_sum(submission.loss_history.iter().flat_map(|l| [l.paid, l.reserved])).ok()?;
    if earned.cents() <= 0 {
        return None;
    }
    Some(crate::money::Rounding::HalfEven.round_dp(losses.to_decimal_cents() / earned.to_decimal_cents(), 4))
}

/// Every DA rule against a risk: `premium` is the quote's gross premium, `usage` the agreement's
/// usage in the year the policy would count in. Returns one flag per failed rule.
pub fn check(agreement: &DaAgreement, submission: &Submission, premium: Money, usage: &DaUsage) -> Vec<Flag> {
    let mut flags = Vec::new();
    let a = agreement;
    match a.status {
        DaStatus::Active => {}
        DaStatus::Suspended => {
            flags.push(Flag::block("da_suspended", format!("DA agreement `{}` is suspended", a.name)))
        }
        DaStatus::Expired => flags.push(Flag::block("da_expired", format!("DA agreement `{}` has expired", a.name))),
    }
    if submission.effective_date < a.effective_date || submission.effective_date >= a.expiration_date {
        flags.push(Flag::block(
            "da_outside_period",
            format!(
                "effective date {} is outside the agreement period {} to {}",
                submission.effective_date, a.effective_date, a.expiration_date
            ),
        ));
    }
    if submission.requested_occurrence_limit > a.max_occurrence_limit {
        flags.push(Flag::block(
            "da_occurrence_limit_exceeded",
            format!(
                "occurrence limit {} exceeds the agreement's {}",
                submission.requested_occurrence_limit, a.max_occurrence_limit
            ),
        ));
    }
    if submission.requested_aggregate_limit > a.max_aggregate_limit {
        flags.push(Flag::block(
            "da_aggregate_limit_exceeded",
            format!(
                "aggregate limit {} exceeds the agreement's {}",
                submission.requested_aggregate_limit, a.max_aggregate_limit
            ),
        ));
    }
    if premium > a.max_premium {
        flags.push(Flag::block(
            "da_premium_exceeded",
            format!("premium {premium} exceeds the agreement's per-policy maximum {}", a.max_premium),
        ));
    }
    let state = submission.risk_state;
    if a.excluded_states.contains(&state) {
        flags.push(Flag::block("da_state_excluded", format!("state `{state}` is excluded by the agreement")));
    } else if !a.authorized_states.contains(state) {
        flags.push(Flag::block(
            "da_state_not_authorized",
            format!("state `{state}` is not authorized by the agreement"),
        ));
    }
    let code = submission.naics_code;
    if let Some(p) = covered_by(code, &a.excluded_naics) {
        flags.push(Flag::block("da_class_excluded", format!("NAICS `{code}` is excluded (prefix `{p}`)")));
    } else if !a.authorized_naics.is_empty() && covered_by(code, &a.authorized_naics).is_none() {
        flags.push(Flag::block("da_class_not_authorized", format!("NAICS `{code}` is not an authorized class")));
    }
    if let Some(max) = a.max_insured_revenue
        && submission.annual_revenue > max
    {
        flags.push(Flag::block(
            "da_revenue_exceeded",
            format!("annual revenue {} exceeds the agreement's maximum {max}", submission.annual_revenue),
        ));
    }
    if !a.allowed_terms_months.contains(&submission.term_months) {
        flags.push(Flag::block(
            "da_term_not_allowed",
            format!("a {}-month term is not allowed; allowed: {:?}", submission.term_months, a.allowed_terms_months),
        ));
    }
    if let Some(min) = a.min_years_in_business
        && submission.years_in_business < min
    {
        flags.push(Flag::block(
            "da_years_in_business",
            format!("{} years in business is below the minimum of {min}", submission.years_in_business),
        ));
    }
    if let Some(claim) = a.claim(submission, premium)
        && let Err(exceeded) = claim.check(usage)
    {
        flags.push(Flag::block(CapacityExceeded::CODE, exceeded.to_string()));
    }

    let t = &a.referral_triggers;
    if let Some(r) = t.revenue_above
        && submission.annual_revenue > r
    {
        flags.push(Flag::refer(
            "refer_revenue",
            format!("annual revenue {} is above the referral threshold {r}", submission.annual_revenue),
        ));
    }
    if let (Some(limit), Some(ratio)) = (t.loss_ratio_above, history_loss_ratio(submission))
        && ratio > limit
    {
        flags.push(Flag::refer(
            "refer_loss_history",
            format!("loss ratio {ratio} is above the referral threshold {limit}"),
        ));
    }
    if let Some(max) = t.claim_count_above {
        let claims: u32 = submission.loss_history.iter().map(|l| l.claim_count).sum();
        if claims > max {
            flags.push(Flag::refer(
                "refer_claim_count",
                format!("{claims} claims is above the referral threshold {max}"),
            ));
        }
    }
    if let Some(p) = covered_by(code, &t.naics_prefixes) {
        flags.push(Flag::refer("refer_class", format!("NAICS `{code}` (prefix `{p}`) must be referred")));
    }
    if t.states.contains(&state) {
        flags.push(Flag::refer("refer_state", format!("risks in `{state}` must be referred")));
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SubmissionId;
    use crate::samples::{sample_agreement, sample_submission};

    fn sub() -> Submission {
        sample_submission(SubmissionId::from_uuid(uuid::Uuid::from_u128(5)), OrgId::from_uuid(uuid::Uuid::from_u128(2)))
    }

    fn codes(flags: &[Flag]) -> Vec<&str> {
        flags.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn clean_risk_passes() {
        assert!(check(&sample_agreement(), &sub(), Money::from_cents(1_000_000), &DaUsage::default()).is_empty());
    }

    #[test]
    fn each_rule_fails_alone() {
        let a = sample_agreement();
        let p = Money::from_cents(1_000_000);
        let u = DaUsage::default();
        type Mutation = Box<dyn Fn(&mut DaAgreement, &mut Submission, &mut Money, &mut DaUsage)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("da_suspended", Box::new(|a, _, _, _| a.status = DaStatus::Suspended)),
            ("da_expired", Box::new(|a, _, _, _| a.status = DaStatus::Expired)),
            (
                "da_outside_period",
                Box::new(|_, s, _, _| s.effective_date = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap_or_default()),
            ),
            ("da_occurrence_limit_exceeded", Box::new(|a, _, _, _| a.max_occurrence_limit = Money::from_cents(1))),
            (
                "da_aggregate_limit_exceeded",
                Box::new(|a, _, _, _| a.max_aggregate_limit = Money::from_cents(150_000_000)),
            ),
            ("da_premium_exceeded", Box::new(|_, _, p, _| *p = Money::from_cents(30_000_000))),
            (
                "da_state_excluded",
                Box::new(|a, _, _, _| a.excluded_states = vec!["OH".parse().unwrap_or_else(|_| unreachable!())]),
            ),
            (
                "da_state_not_authorized",
                Box::new(|a, _, _, _| {
                    a.authorized_states = StateSet::Only(vec!["CA".parse().unwrap_or_else(|_| unreachable!())])
                }),
            ),
            (
                "da_class_excluded",
                Box::new(|a, _, _, _| a.excluded_naics = vec!["3327".parse().unwrap_or_else(|_| unreachable!())]),
            ),
            (
                "da_class_not_authorized",
                Box::new(|a, _, _, _| a.authorized_naics = vec!["54".parse().unwrap_or_else(|_| unreachable!())]),
            ),
            ("da_revenue_exceeded", Box::new(|a, _, _, _| a.max_insured_revenue = Some(Money::from_cents(1)))),
            ("da_term_not_allowed", Box::new(|a, _, _, _| a.allowed_terms_months = vec![6])),
            ("da_years_in_business", Box::new(|a, _, _, _| a.min_years_in_business = Some(50))),
            ("da_capacity_exceeded", Box::new(|_, _, _, u| u.written_premium = Money::from_cents(499_500_000))),
            ("refer_revenue", Box::new(|a, _, _, _| a.referral_triggers.revenue_above = Some(Money::from_cents(1)))),
            (
                "refer_class",
                Box::new(|a, _, _, _| {
                    a.referral_triggers.naics_prefixes = vec!["33".parse().unwrap_or_else(|_| unreachable!())]
                }),
            ),
            (
                "refer_state",
                Box::new(|a, _, _, _| {
                    a.referral_triggers.states = vec!["OH".parse().unwrap_or_else(|_| unreachable!())]
                }),
            ),
        ];
        for (code, mutate) in cases {
            let (mut a, mut s, mut p, mut u) = (a.clone(), sub(), p, u.clone());
            mutate(&mut a, &mut s, &mut p, &mut u);
            assert_eq!(codes(&check(&a, &s, p, &u)), vec![code], "{code}");
        }
    }

    #[test]
    fn all_failing_together_are_all_reported() {
        let mut a = sample_agreement();
        a.status = DaStatus::Suspended;
        a.max_occurrence_limit = Money::from_cents(1);
        a.excluded_states = vec!["OH".parse().unwrap()];
        a.excluded_naics = vec!["33".parse().unwrap()];
        a.allowed_terms_months = vec![6];
        let flags = check(&a, &sub(), Money::from_cents(1_000_000), &DaUsage::default());
        assert_eq!(
            codes(&flags),
            vec![
                "da_suspended",
                "da_occurrence_limit_exceeded",
                "da_state_excluded",
                "da_class_excluded",
                "da_term_not_allowed"
            ]
        );
    }

    #[test]
    fn capacity_claims() {
        let a = sample_agreement();
        let claim = a.claim(&sub(), Money::from_cents(400_000_000)).unwrap();
        assert_eq!(
            (claim.agreement_year, claim.quarter),
            (1, 2),
            "2027-01-01 is in the third quarter of a year from 2026-07-01"
        );
        let mut usage = DaUsage::default();
        claim.take(&mut usage).unwrap();
        let before = usage.clone();
        assert!(
            matches!(claim.take(&mut usage), Err(CapacityExceeded::Annual { .. })),
            "a second one passes the annual limit"
        );
        assert_eq!(usage, before, "a refused claim changes nothing");
        assert_eq!(usage.policy_count, 1);
    }

    #[test]
    fn agreement_years() {
        let a = sample_agreement(); // from 2026-07-01
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(a.year_and_quarter(d(2026, 6, 30)), None);
        assert_eq!(a.year_and_quarter(d(2026, 7, 1)), Some((1, 0)));
        assert_eq!(a.year_and_quarter(d(2026, 9, 30)), Some((1, 0)));
        assert_eq!(a.year_and_quarter(d(2026, 10, 1)), Some((1, 1)));
        assert_eq!(a.year_and_quarter(d(2027, 6, 30)), Some((1, 3)));
        assert_eq!(a.year_and_quarter(d(2027, 7, 1)), Some((2, 0)));
    }

    #[test]
    fn validation_lists_every_problem() {
        let mut a = sample_agreement();
        a.name = " ".into();
        a.expiration_date = a.effective_date;
        a.max_premium = Money::ZERO;
        a.allowed_terms_months = vec![];
        let e = a.validate().unwrap_err();
        assert_eq!(e.0.len(), 4, "{e}");
        let mut a = sample_agreement();
        a.mga_commission_rate = crate::money::Factor::new(Decimal::ONE);
        assert_eq!(a.validate().unwrap_err().0[0].path, "mgaCommissionRate");
    }
}
