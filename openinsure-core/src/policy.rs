//! Policies: what a bind creates, and its lifecycle states.
//!
//! The lifecycle transitions (issue, activate, endorse, cancel, reinstate, expire, non-renew,
//! renew) are in [`lifecycle`], as methods on [`Policy`].

pub mod endorsement;
pub mod lifecycle;
pub mod renewal;
pub mod short_rate;
pub mod tick;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::billing::BillingSchedule;
use crate::geo::{Naics, UsState};
use crate::ids::{DaAgreementId, OrgId, PolicyId, ProgramId, QuoteId, ReferralId, SubmissionId, UserId};
use crate::money::{Factor, Money};
use crate::submission::LineOfBusiness;

/// Where a policy stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyStatus {
    /// Bound: coverage is agreed, documents not yet issued.
    Bound,
    /// Documents issued, the period has not begun.
    Issued,
    /// In force.
    Active,
    /// Cancelled (may be reinstated).
    Cancelled,
    /// Ran to its expiration date.
    Expired,
    /// Will not be (or was not) renewed.
    NonRenewed,
}

impl PolicyStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyStatus::Bound => "bound",
            PolicyStatus::Issued => "issued",
            PolicyStatus::Active => "active",
            PolicyStatus::Cancelled => "cancelled",
            PolicyStatus::Expired => "expired",
            PolicyStatus::NonRenewed => "non_renewed",
        }
    }
}

/// A piece of the term's premium: the original premium, or an endorsement's change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PremiumSegment {
    /// From when it applies.
    pub effective_date: NaiveDate,
    /// The premium it adds (negative for a return), already pro-rated.
    #[serde(rename = "premiumCents")]
    pub premium: Money,
    /// The annual rate of premium it represents before pro-rating.
    #[serde(rename = "annualPremiumCents")]
    pub annual_premium: Money,
    /// The taxes it adds (negative for a return), already pro-rated: the original segment's are
    /// the quote's taxes.
    #[serde(default, rename = "taxesCents")]
    pub taxes: Money,
    /// The annual rate of taxes it represents before pro-rating.
    #[serde(default, rename = "annualTaxesCents")]
    pub annual_taxes: Money,
    /// The changes it made to the risk (an endorsement's).
    #[serde(default, skip_serializing_if = "endorsement::RiskChange::is_empty")]
    pub changes: endorsement::RiskChange,
    /// How a rated endorsement's premium was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worksheet: Option<endorsement::EndorsementWorksheet>,
    /// What it is (`original`, or the endorsement's description).
    pub description: String,
}

/// How a cancellation computed the return premium.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancellationMethod {
    /// Unearned premium by days in force.
    ProRata,
    /// Pro-rata less a penalty, from the short-rate table (insured-requested cancellations).
    ShortRate,
    /// Flat: cancelled at inception, everything returned.
    Flat,
}

/// A cancellation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cancellation {
    /// From when coverage ends.
    pub effective_date: NaiveDate,
    /// How the return premium was computed.
    pub method: CancellationMethod,
    /// Premium returned.
    #[serde(rename = "returnPremiumCents")]
    pub return_premium: Money,
    /// Taxes returned: the written taxes in the proportion of the return premium to the written
    /// premium, rounded half-even (all of them on a flat cancellation).
    #[serde(default, rename = "returnTaxesCents")]
    pub return_taxes: Money,
    /// Why.
    pub reason: String,
    /// The installments the cancellation changed, as they were: reinstatement puts them back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub installments_before: Vec<crate::billing::Installment>,
    /// The refund it made of what was over-collected, if any (in the schedule's refunds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<uuid::Uuid>,
}

/// A policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// Its id.
    pub id: PolicyId,
    /// The org it belongs to.
    pub org_id: OrgId,
    /// Its number, unique in the org (`GL-2026-000001`).
    pub number: String,
    /// Where it stands.
    pub status: PolicyStatus,
    /// The store's revision counter, for optimistic concurrency.
    pub revision: u64,
    /// The submission it came from.
    pub submission_id: SubmissionId,
    /// The quote bound.
    pub quote_id: QuoteId,
    /// The program.
    pub program_id: ProgramId,
    /// The DA agreement it was bound under, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub da_agreement_id: Option<DaAgreementId>,
    /// The approved referral it was bound on, if the binder lacked the authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_id: Option<ReferralId>,
    /// The line of business.
    pub line_of_business: LineOfBusiness,
    /// The insured.
    pub insured_name: String,
    /// The rated state.
    pub risk_state: UsState,
    /// The insured's NAICS code.
    pub naics_code: Naics,
    /// Each-occurrence limit.
    #[serde(rename = "occurrenceLimitCents")]
    pub occurrence_limit: Money,
    /// Aggregate limit.
    #[serde(rename = "aggregateLimitCents")]
    pub aggregate_limit: Money,
    /// Deductible.
    #[serde(rename = "deductibleCents")]
    pub deductible: Money,
    /// First day of coverage.
    pub effective_date: NaiveDate,
    /// The day coverage ends (exclusive).
    pub expiration_date: NaiveDate,
    /// The annual gross premium as quoted.
    #[serde(rename = "annualPremiumCents")]
    pub annual_premium: Money,
    /// Producer commission rate of the quote.
    pub commission_rate: Factor,
    /// The MGA's commission rate from its DA agreement.
    #[serde(default)]
    pub mga_commission_rate: Factor,
    /// Policy fees of the quote.
    #[serde(rename = "feesCents")]
    pub fees: Money,
    /// Taxes of the quote.
    #[serde(rename = "taxesCents")]
    pub taxes: Money,
    /// Premium segments: the original premium, then each endorsement.
    pub segments: Vec<PremiumSegment>,
    /// The billing schedule.
    pub billing: BillingSchedule,
    /// Every change endorsements made to the submission's risk, the later winning: the risk in
    /// force is the submission with these applied.
    #[serde(default, skip_serializing_if = "endorsement::RiskChange::is_empty")]
    pub risk_changes: endorsement::RiskChange,
    /// The cancellation, while cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
    /// A pending notice of cancellation for non-payment (see [`tick`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_payment_notice: Option<tick::NonPaymentNotice>,
    /// When a renewal offer was made for this term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_offered_on: Option<NaiveDate>,
    /// The policy this one renews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_of: Option<PolicyId>,
    /// Who bound it.
    pub bound_by: UserId,
    /// When it was bound.
    pub bound_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A policy number: `{sequence key}-{n:06}` (`GL-2027-000001`), the key being the line's code and
/// the term's first year; the store's per-org sequence gives `n`.
pub fn policy_number(key: &str, n: u64) -> String {
    format!("{key}-{n:06}")
}

impl Policy {
    /// The term's written premium: the sum of its segments.
    pub fn written_premium(&self) -> Result<Money, crate::money::MoneyError> {
        Money::checked_sum(self.segments.iter().map(|s| s.premium))
    }

    /// The term's written taxes: the sum of its segments' taxes.
    pub fn written_taxes(&self) -> Result<Money, crate::money::MoneyError> {
        Money::checked_sum(self.segments.iter().map(|s| s.taxes))
    }

    /// The annual premium in force: the original premium and every endorsement's annual change.
    pub fn current_annual_premium(&self) -> Result<Money, crate::money::MoneyError> {
        Money::checked_sum(self.segments.iter().map(|s| s.annual_premium))
    }

    /// The annual taxes in force, the same way.
    pub fn current_annual_taxes(&self) -> Result<Money, crate::money::MoneyError> {
        Money::checked_sum(self.segments.iter().map(|s| s.annual_taxes))
    }

    /// The premium written net of the return premium of a cancellation in effect.
    pub fn net_written_premium(&self) -> Result<Money, crate::money::MoneyError> {
        let returned = self.cancellation.as_ref().map_or(Money::ZERO, |c| c.return_premium);
        self.written_premium()?.checked_sub(returned)
    }

    /// The id of the refund a change made at the policy's current revision would get: derived
    /// from the policy and its revision, so a retried change books its refund once.
    pub fn refund_id(&self) -> uuid::Uuid {
        uuid::Uuid::new_v5(&self.id.as_uuid(), format!("refund/{}", self.revision).as_bytes())
    }
}

/// What a bind decides beyond the quote: ids, number, billing, and on what authority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindTerms {
    /// The new policy's id.
    pub id: PolicyId,
    /// Its number.
    pub number: String,
    /// The billing schedule.
    pub billing: BillingSchedule,
    /// The DA agreement it is bound under.
    pub da_agreement_id: Option<DaAgreementId>,
    /// The approved referral it relies on.
    pub referral_id: Option<ReferralId>,
    /// The MGA's commission rate (from the DA agreement).
    pub mga_commission_rate: Factor,
    /// Who binds.
    pub bound_by: UserId,
    /// When.
    pub now: DateTime<Utc>,
}

impl Policy {
    /// A bound policy from a quote that was checked fresh, for its submission. Only a
    /// [`FreshQuote`](crate::underwriting::checks::FreshQuote) binds: an expired quote cannot reach this function.
    pub fn from_quote(
        quote: &crate::underwriting::checks::FreshQuote,
        submission: &crate::submission::Submission,
        terms: BindTerms,
    ) -> Option<Policy> {
        let q = quote.quote();
        if q.submission_id != submission.id || q.org_id != submission.org_id {
            return None;
        }
        let premium = q.rating.totals.gross_premium;
        Some(Policy {
            id: terms.id,
            org_id: q.org_id,
            number: terms.number,
            status: PolicyStatus::Bound,
            revision: 0,
            submission_id: submission.id,
            quote_id: q.id,
            program_id: q.program_id,
            da_agreement_id: terms.da_agreement_id,
            referral_id: terms.referral_id,
            line_of_business: q.line_of_business,
            insured_name: submission.insured_name.clone(),
            risk_state: submission.risk_state,
            naics_code: submission.naics_code,
            occurrence_limit: submission.requested_occurrence_limit,
            aggregate_limit: submission.requested_aggregate_limit,
            deductible: submission.deductible,
            effective_date: submission.effective_date,
            expiration_date: submission.expiration_date()?,
            annual_premium: premium,
            commission_rate: q.rating.commission_rate,
            mga_commission_rate: terms.mga_commission_rate,
            fees: q.rating.totals.fees,
            taxes: q.rating.totals.taxes,
            segments: vec![PremiumSegment {
                effective_date: submission.effective_date,
                premium,
                annual_premium: premium,
                taxes: q.rating.totals.taxes,
                annual_taxes: q.rating.totals.taxes,
                changes: endorsement::RiskChange::default(),
                worksheet: None,
                description: "original".into(),
            }],
            risk_changes: endorsement::RiskChange::default(),
            billing: terms.billing,
            cancellation: None,
            non_payment_notice: None,
            renewal_offered_on: None,
            renewal_of: None,
            bound_by: terms.bound_by,
            bound_at: terms.now,
            updated_at: terms.now,
        })
    }
}
