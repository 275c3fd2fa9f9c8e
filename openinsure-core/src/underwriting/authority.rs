//! The underwriting authority matrix and referrals.
//!
//! An [`AuthorityProfile`] caps what its holders may write in one line of business: limits,
//! premium, revenue, classes. Profiles have a level (1 underwriter, 2 senior underwriter,
//! 3 chief underwriter, or whatever ladder the org uses). Users are assigned profiles.
//! [`ReferralRule`]s escalate risks to a minimum level even within a profile's caps.
//!
//! [`evaluate`] decides whether a user may write a risk, and if not, which level it must be
//! referred to: the lowest level at or above what the rules require that has a profile covering
//! the risk and may approve referrals. A [`Referral`] then waits in a queue (pending, approved,
//! declined, withdrawn), every change recorded as a [`ReferralActivity`]. An approved referral lets
//! its submission bind within what was approved, and nothing else.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::FieldErrors;
use crate::geo::{Naics, UsState};
use crate::ids::{AuthorityProfileId, OrgId, QuoteId, ReferralId, ReferralRuleId, SubmissionId, UserId};
use crate::money::Money;
use crate::submission::LineOfBusiness;
use crate::underwriting::checks::Flag;

/// What a profile's holders may write in one line of business.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorityProfile {
    /// Its id.
    pub id: AuthorityProfileId,
    /// The org.
    pub org_id: OrgId,
    /// A name (`GL underwriter tier 1`).
    #[schemars(length(min = 1, max = 200), pattern(crate::text::LINE_PATTERN))]
    pub name: String,
    /// The authority level: higher levels may approve what lower ones refer.
    pub level: u8,
    /// The line of business.
    pub line_of_business: LineOfBusiness,
    /// Highest each-occurrence limit.
    #[serde(rename = "maxOccurrenceLimitCents")]
    pub max_occurrence_limit: Money,
    /// Highest aggregate limit.
    #[serde(rename = "maxAggregateLimitCents")]
    pub max_aggregate_limit: Money,
    /// Highest gross premium.
    #[serde(rename = "maxPremiumCents")]
    pub max_premium: Money,
    /// Highest insured revenue, if capped.
    #[serde(rename = "maxAnnualRevenueCents", default, skip_serializing_if = "Option::is_none")]
    pub max_annual_revenue: Option<Money>,
    /// Classes the profile may not write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_naics: Vec<Naics>,
    /// Whether holders may approve referrals.
    pub can_approve_referrals: bool,
}

/// An authority profile as a client writes it: every field of [`AuthorityProfile`] but `id` and
/// `orgId`, which the server sets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAuthorityProfile {
    /// A name (`GL underwriter tier 1`).
    #[schemars(length(min = 1, max = 200), pattern(crate::text::LINE_PATTERN))]
    pub name: String,
    /// The authority level: higher levels may approve what lower ones refer.
    pub level: u8,
    /// The line of business.
    pub line_of_business: LineOfBusiness,
    /// Highest each-occurrence limit.
    #[serde(rename = "maxOccurrenceLimitCents")]
    pub max_occurrence_limit: Money,
    /// Highest aggregate limit.
    #[serde(rename = "maxAggregateLimitCents")]
    pub max_aggregate_limit: Money,
    /// Highest gross premium.
    #[serde(rename = "maxPremiumCents")]
    pub max_premium: Money,
    /// Highest insured revenue, if capped.
    #[serde(rename = "maxAnnualRevenueCents", default, skip_serializing_if = "Option::is_none")]
    pub max_annual_revenue: Option<Money>,
    /// Classes the profile may not write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_naics: Vec<Naics>,
    /// Whether holders may approve referrals.
    pub can_approve_referrals: bool,
}

impl NewAuthorityProfile {
    /// The profile `id` of `org_id`, after [`AuthorityProfile::validate`]: every field error at once.
    pub fn into_profile(self, id: AuthorityProfileId, org_id: OrgId) -> Result<AuthorityProfile, FieldErrors> {
        let NewAuthorityProfile {
            name,
            level,
            line_of_business,
            max_occurrence_limit,
            max_aggregate_limit,
            max_premium,
            max_annual_revenue,
            excluded_naics,
            can_approve_referrals,
        } = self;
        let record = AuthorityProfile {
            id,
            org_id,
            name,
            level,
            line_of_business,
            max_occurrence_limit,
            max_aggregate_limit,
            max_premium,
            max_annual_revenue,
            excluded_naics,
            can_approve_referrals,
        };
        record.validate()?;
        Ok(record)
    }
}

/// A user's assignment to a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorityAssignment {
    /// The org.
    pub org_id: OrgId,
    /// The user.
    pub user_id: UserId,
    /// The profile.
    pub profile_id: AuthorityProfileId,
    /// When it was made.
    pub assigned_at: DateTime<Utc>,
}

/// What a referral rule looks at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum ReferralTrigger {
    /// Gross premium above an amount.
    PremiumAbove {
        /// The threshold.
        #[serde(rename = "premiumCents")]
        premium: Money,
    },
    /// Each-occurrence limit above an amount.
    OccurrenceLimitAbove {
        /// The threshold.
        #[serde(rename = "limitCents")]
        limit: Money,
    },
    /// Annual revenue above an amount.
    RevenueAbove {
        /// The threshold.
        #[serde(rename = "revenueCents")]
        revenue: Money,
    },
    /// Loss ratio of the submitted history above a ratio.
    LossRatioAbove {
        /// The threshold (`"0.60"`).
        ratio: Decimal,
    },
    /// The submission needs manual review (low extraction confidence).
    ManualReview,
    /// The class is under a NAICS prefix.
    NaicsPrefix {
        /// The prefix.
        prefix: Naics,
    },
    /// The risk is in a state.
    State {
        /// The state.
        state: UsState,
    },
}

/// An auto-escalation rule: a risk that meets the trigger needs at least `min_level`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferralRule {
    /// Its id.
    pub id: ReferralRuleId,
    /// The org.
    pub org_id: OrgId,
    /// The line it applies to, or every line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_of_business: Option<LineOfBusiness>,
    /// What it looks at.
    pub trigger: ReferralTrigger,
    /// The lowest level that may write a risk it triggers on.
    pub min_level: u8,
    /// A description for people.
    #[schemars(length(min = 1, max = 1000), pattern(crate::text::TEXT_PATTERN))]
    pub description: String,
}

/// A referral rule as a client writes it: every field of [`ReferralRule`] but `id` and `orgId`,
/// which the server sets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewReferralRule {
    /// The line it applies to, or every line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_of_business: Option<LineOfBusiness>,
    /// What it looks at.
    pub trigger: ReferralTrigger,
    /// The lowest level that may write a risk it triggers on.
    pub min_level: u8,
    /// A description for people.
    #[schemars(length(min = 1, max = 1000), pattern(crate::text::TEXT_PATTERN))]
    pub description: String,
}

impl NewReferralRule {
    /// The rule `id` of `org_id`, after [`ReferralRule::validate`]: every field error at once.
    pub fn into_rule(self, id: ReferralRuleId, org_id: OrgId) -> Result<ReferralRule, FieldErrors> {
        let NewReferralRule { line_of_business, trigger, min_level, description } = self;
        let record = ReferralRule { id, org_id, line_of_business, trigger, min_level, description };
        record.validate()?;
        Ok(record)
    }
}

/// The facts about a risk that authority is decided on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RiskSummary {
    /// The line.
    pub line_of_business: LineOfBusiness,
    /// Gross premium.
    #[serde(rename = "premiumCents")]
    pub premium: Money,
    /// Each-occurrence limit.
    #[serde(rename = "occurrenceLimitCents")]
    pub occurrence_limit: Money,
    /// Aggregate limit.
    #[serde(rename = "aggregateLimitCents")]
    pub aggregate_limit: Money,
    /// Annual revenue.
    #[serde(rename = "annualRevenueCents")]
    pub annual_revenue: Money,
    /// Class.
    pub naics_code: Naics,
    /// State.
    pub risk_state: UsState,
    /// Whether manual review is required.
    pub needs_manual_review: bool,
    /// Loss ratio of the submitted history, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_ratio: Option<Decimal>,
}

impl AuthorityProfile {
    /// Checks what the types cannot; every problem is listed: a level of at least 1, a name,
    /// limits and caps that are not negative.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        if self.level == 0 {
            e.push("level", "must be at least 1");
        }
        if let Err(reason) = crate::text::check_line(&self.name, 200) {
            e.push("name", reason);
        }
        for (field, m) in [
            ("maxOccurrenceLimitCents", Some(self.max_occurrence_limit)),
            ("maxAggregateLimitCents", Some(self.max_aggregate_limit)),
            ("maxPremiumCents", Some(self.max_premium)),
            ("maxAnnualRevenueCents", self.max_annual_revenue),
        ] {
            if m.is_some_and(Money::is_negative) {
                e.push(field, "must not be negative");
            }
        }
        e.into_result(|| ())
    }

    /// Every reason this profile does not cover `risk` (empty when it does).
    pub fn shortfalls(&self, risk: &RiskSummary) -> Vec<String> {
        let mut out = Vec::new();
        if self.line_of_business != risk.line_of_business {
            out.push(format!("profile `{}` is for `{}`", self.name, self.line_of_business));
            return out;
        }
        if risk.occurrence_limit > self.max_occurrence_limit {
            out.push(format!("occurrence limit {} is above {}", risk.occurrence_limit, self.max_occurrence_limit));
        }
        if risk.aggregate_limit > self.max_aggregate_limit {
            out.push(format!("aggregate limit {} is above {}", risk.aggregate_limit, self.max_aggregate_limit));
        }
        if risk.premium > self.max_premium {
            out.push(format!("premium {} is above {}", risk.premium, self.max_premium));
        }
        if let Some(max) = self.max_annual_revenue
            && risk.annual_revenue > max
        {
            out.push(format!("annual revenue {} is above {max}", risk.annual_revenue));
        }
        if let Some(p) = self.excluded_naics.iter().find(|p| risk.naics_code.starts_with(p)) {
            out.push(format!("class `{}` is excluded from the profile (prefix `{p}`)", risk.naics_code));
        }
        out
    }

    /// True when the profile covers the risk.
    pub fn covers(&self, risk: &RiskSummary) -> bool {
        self.shortfalls(risk).is_empty()
    }
}

impl ReferralRule {
    /// Checks what the types cannot; every problem is listed: a level of at least 1, a
    /// description, thresholds that are not negative (a negative one would refer every risk).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        if self.min_level == 0 {
            e.push("minLevel", "must be at least 1");
        }
        if let Err(reason) = crate::text::check_text(&self.description, 1000) {
            e.push("description", reason);
        }
        let negative = match &self.trigger {
            ReferralTrigger::PremiumAbove { premium } => premium.is_negative().then_some("trigger.premiumCents"),
            ReferralTrigger::OccurrenceLimitAbove { limit } => limit.is_negative().then_some("trigger.limitCents"),
            ReferralTrigger::RevenueAbove { revenue } => revenue.is_negative().then_some("trigger.revenueCents"),
            ReferralTrigger::LossRatioAbove { ratio } => ratio.is_sign_negative().then_some("trigger.ratio"),
            ReferralTrigger::ManualReview | ReferralTrigger::NaicsPrefix { .. } | ReferralTrigger::State { .. } => None,
        };
        if let Some(field) = negative {
            e.push(field, "must not be negative");
        }
        e.into_result(|| ())
    }

    /// True when the rule applies to the risk.
    pub fn triggers(&self, risk: &RiskSummary) -> bool {
        if self.line_of_business.is_some_and(|l| l != risk.line_of_business) {
            return false;
        }
        match &self.trigger {
            ReferralTrigger::PremiumAbove { premium } => risk.premium > *premium,
            ReferralTrigger::OccurrenceLimitAbove { limit } => risk.occurrence_limit > *limit,
            ReferralTrigger::RevenueAbove { revenue } => risk.annual_revenue > *revenue,
            ReferralTrigger::LossRatioAbove { ratio } => risk.loss_ratio.is_some_and(|r| r > *ratio),
            ReferralTrigger::ManualReview => risk.needs_manual_review,
            ReferralTrigger::NaicsPrefix { prefix } => risk.naics_code.starts_with(prefix),
            ReferralTrigger::State { state } => risk.risk_state == *state,
        }
    }
}

/// The outcome of [`evaluate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum AuthorityDecision {
    /// The user may write it, under this profile.
    Within {
        /// The profile that covers it.
        profile_id: AuthorityProfileId,
        /// Its level.
        level: u8,
    },
    /// It must be referred.
    Refer {
        /// The lowest level that may write it.
        required_level: u8,
        /// The level it is routed to: the lowest at or above `required_level` with an approving
        /// profile that covers it; `None` when nobody in the org has the authority.
        routed_to_level: Option<u8>,
        /// Why, one flag per reason.
        reasons: Vec<Flag>,
    },
}

/// Decides whether a user holding `user_profiles` may write `risk`, given the org's rules and all
/// of its profiles.
pub fn evaluate(
    user_profiles: &[AuthorityProfile],
    rules: &[ReferralRule],
    org_profiles: &[AuthorityProfile],
    risk: &RiskSummary,
) -> AuthorityDecision {
    let mut reasons = Vec::new();
    let rule_level = rules
        .iter()
        .filter(|r| r.triggers(risk))
        .inspect(|r| {
            reasons
                .push(Flag::refer("referral_rule", format!("{} (needs level {} or above)", r.description, r.min_level)))
        })
        .map(|r| r.min_level)
        .max()
        .unwrap_or(0);
    let own = user_profiles.iter().filter(|p| p.level >= rule_level && p.covers(risk)).min_by_key(|p| p.level);
    if let Some(p) = own {
        return AuthorityDecision::Within { profile_id: p.id, level: p.level };
    }
    match user_profiles.iter().find(|p| p.line_of_business == risk.line_of_business) {
        None => reasons.push(Flag::refer(
            "no_authority_profile",
            format!("no authority profile for `{}` is assigned to the user", risk.line_of_business),
        )),
        Some(p) => {
            for s in p.shortfalls(risk) {
                reasons.push(Flag::refer("authority_exceeded", s));
            }
        }
    }
    let covering_level =
        org_profiles.iter().filter(|p| p.covers(risk)).map(|p| p.level).filter(|l| *l >= rule_level).min();
    let required_level = covering_level.unwrap_or(u8::MAX).max(rule_level.max(1));
    let routed_to_level = org_profiles
        .iter()
        .filter(|p| p.can_approve_referrals && p.level >= required_level && p.covers(risk))
        .map(|p| p.level)
        .min();
    AuthorityDecision::Refer { required_level, routed_to_level, reasons }
}

/// Where a referral stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved: the submission may bind within the approved terms.
    Approved,
    /// Declined.
    Declined,
    /// Withdrawn by the requester.
    Withdrawn,
}

/// The decision on a referral.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReferralDecision {
    /// Who decided.
    pub decided_by: UserId,
    /// Their level.
    pub level: u8,
    /// A reason code (`within_appetite`, `adequate_pricing`, `outside_appetite`, ...).
    pub reason_code: String,
    /// The written rationale.
    pub rationale: String,
    /// When.
    pub decided_at: DateTime<Utc>,
}

/// A referral of a risk to a higher authority.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Referral {
    /// Its id.
    pub id: ReferralId,
    /// The org.
    pub org_id: OrgId,
    /// The submission.
    pub submission_id: SubmissionId,
    /// The quote that triggered it.
    pub quote_id: QuoteId,
    /// Who raised it (the user whose authority was exceeded).
    pub requested_by: UserId,
    /// The level that must decide.
    pub routed_to_level: u8,
    /// Why it was raised.
    pub reasons: Vec<Flag>,
    /// The risk as referred: an approval covers at most this.
    pub risk: RiskSummary,
    /// Where it stands.
    pub status: ReferralStatus,
    /// The decision, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<ReferralDecision>,
    /// The store's revision counter.
    pub revision: u64,
    /// When it was raised.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// What happened to a referral.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferralAction {
    /// Raised.
    Created,
    /// Approved.
    Approved,
    /// Declined.
    Declined,
    /// Withdrawn.
    Withdrawn,
}

/// One entry of a referral's append-only activity trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReferralActivity {
    /// Its id.
    pub id: Uuid,
    /// The org.
    pub org_id: OrgId,
    /// The referral.
    pub referral_id: ReferralId,
    /// Who acted.
    pub actor: UserId,
    /// What they did.
    pub action: ReferralAction,
    /// A reason code, for decisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// A note or rationale.
    pub note: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Why a referral cannot change as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferralError {
    /// It is no longer pending.
    #[error("referral is {0:?}, not pending")]
    NotPending(ReferralStatus),
    /// The decider's authority is too low or does not cover the risk.
    #[error("insufficient authority: {0}")]
    InsufficientAuthority(String),
    /// The requester may not decide their own referral.
    #[error("the requester may not decide their own referral")]
    OwnReferral,
    /// Only the requester may withdraw.
    #[error("only the requester may withdraw a referral")]
    NotRequester,
    /// A required field is missing.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

impl Referral {
    /// The profile of `profiles` (a user's) that may decide this referral: one that approves
    /// referrals, at the routed level or above, covering the risk (the highest such).
    pub fn approving_profile<'a>(&self, profiles: &'a [AuthorityProfile]) -> Option<&'a AuthorityProfile> {
        profiles
            .iter()
            .filter(|p| p.can_approve_referrals && p.level >= self.routed_to_level && p.covers(&self.risk))
            .max_by_key(|p| p.level)
    }

    /// Whether `user`, with `profiles`, may decide this referral: not its requester, and with an
    /// [approving profile](Referral::approving_profile).
    pub fn may_be_decided_by(&self, user: UserId, profiles: &[AuthorityProfile]) -> bool {
        user != self.requested_by && self.approving_profile(profiles).is_some()
    }

    /// A new pending referral and its `created` activity.
    #[allow(clippy::too_many_arguments, reason = "a referral is made of exactly these facts")]
    pub fn raise(
        id: ReferralId,
        activity_id: Uuid,
        org_id: OrgId,
        submission_id: SubmissionId,
        quote_id: QuoteId,
        requested_by: UserId,
        routed_to_level: u8,
        reasons: Vec<Flag>,
        risk: RiskSummary,
        now: DateTime<Utc>,
    ) -> (Referral, ReferralActivity) {
        let note = reasons.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join("; ");
        let referral = Referral {
            id,
            org_id,
            submission_id,
            quote_id,
            requested_by,
            routed_to_level,
            reasons,
            risk,
            status: ReferralStatus::Pending,
            decision: None,
            revision: 0,
            created_at: now,
            updated_at: now,
        };
        let activity = ReferralActivity {
            id: activity_id,
            org_id,
            referral_id: id,
            actor: requested_by,
            action: ReferralAction::Created,
            reason_code: None,
            note,
            at: now,
        };
        (referral, activity)
    }

    #[allow(clippy::too_many_arguments, reason = "approve and decline share this body")]
    fn decide(
        &mut self,
        approve: bool,
        decider: UserId,
        decider_profiles: &[AuthorityProfile],
        reason_code: &str,
        rationale: &str,
        activity_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ReferralActivity, ReferralError> {
        if self.status != ReferralStatus::Pending {
            return Err(ReferralError::NotPending(self.status));
        }
        if decider == self.requested_by {
            return Err(ReferralError::OwnReferral);
        }
        if reason_code.trim().is_empty() {
            return Err(ReferralError::Invalid { field: "reasonCode", reason: "must not be empty" });
        }
        if rationale.trim().is_empty() {
            return Err(ReferralError::Invalid { field: "rationale", reason: "a written rationale is required" });
        }
        let profile = self.approving_profile(decider_profiles).ok_or_else(|| {
            ReferralError::InsufficientAuthority(format!(
                "deciding needs an approving profile of level {} or above covering the risk",
                self.routed_to_level
            ))
        })?;
        let (status, action) = if approve {
            (ReferralStatus::Approved, ReferralAction::Approved)
        } else {
            (ReferralStatus::Declined, ReferralAction::Declined)
        };
        self.status = status;
        self.decision = Some(ReferralDecision {
            decided_by: decider,
            level: profile.level,
            reason_code: reason_code.to_owned(),
            rationale: rationale.to_owned(),
            decided_at: now,
        });
        self.updated_at = now;
        Ok(ReferralActivity {
            id: activity_id,
            org_id: self.org_id,
            referral_id: self.id,
            actor: decider,
            action,
            reason_code: Some(reason_code.to_owned()),
            note: rationale.to_owned(),
            at: now,
        })
    }

    /// Approves: the decider needs an approving profile at the routed level or above that covers
    /// the risk, may not be the requester, and must give a reason code and a rationale.
    #[allow(clippy::too_many_arguments, reason = "a decision is made of exactly these facts")]
    pub fn approve(
        &mut self,
        decider: UserId,
        decider_profiles: &[AuthorityProfile],
        reason_code: &str,
        rationale: &str,
        activity_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ReferralActivity, ReferralError> {
        self.decide(true, decider, decider_profiles, reason_code, rationale, activity_id, now)
    }

    /// Declines, with the same requirements as [`Referral::approve`].
    pub fn decline(
        &mut self,
        decider: UserId,
        decider_profiles: &[AuthorityProfile],
        reason_code: &str,
        rationale: &str,
        activity_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ReferralActivity, ReferralError> {
        self.decide(false, decider, decider_profiles, reason_code, rationale, activity_id, now)
    }

    /// Withdraws a pending referral; only its requester may.
    pub fn withdraw(
        &mut self,
        actor: UserId,
        note: &str,
        activity_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ReferralActivity, ReferralError> {
        if self.status != ReferralStatus::Pending {
            return Err(ReferralError::NotPending(self.status));
        }
        if actor != self.requested_by {
            return Err(ReferralError::NotRequester);
        }
        self.status = ReferralStatus::Withdrawn;
        self.updated_at = now;
        Ok(ReferralActivity {
            id: activity_id,
            org_id: self.org_id,
            referral_id: self.id,
            actor,
            action: ReferralAction::Withdrawn,
            reason_code: None,
            note: note.to_owned(),
            at: now,
        })
    }

    /// True when the referral is approved and `risk` is within what was approved: same line,
    /// premium and limits no higher, same class and state.
    pub fn approves(&self, risk: &RiskSummary) -> bool {
        self.status == ReferralStatus::Approved
            && risk.line_of_business == self.risk.line_of_business
            && risk.premium <= self.risk.premium
            && risk.occurrence_limit <= self.risk.occurrence_limit
            && risk.aggregate_limit <= self.risk.aggregate_limit
            && risk.annual_revenue <= self.risk.annual_revenue
            && risk.naics_code == self.risk.naics_code
            && risk.risk_state == self.risk.risk_state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(n: u128, level: u8, max_premium: i64, approve: bool) -> AuthorityProfile {
        AuthorityProfile {
            id: AuthorityProfileId::from_uuid(Uuid::from_u128(n)),
            org_id: OrgId::from_uuid(Uuid::from_u128(1)),
            name: format!("level {level}"),
            level,
            line_of_business: LineOfBusiness::GeneralLiability,
            max_occurrence_limit: Money::from_cents(100_000_000 * i64::from(level)),
            max_aggregate_limit: Money::from_cents(200_000_000 * i64::from(level)),
            max_premium: Money::from_cents(max_premium),
            max_annual_revenue: None,
            excluded_naics: vec![],
            can_approve_referrals: approve,
        }
    }

    fn ladder() -> Vec<AuthorityProfile> {
        vec![profile(1, 1, 2_500_000, false), profile(2, 2, 10_000_000, true), profile(3, 3, 50_000_000, true)]
    }

    fn risk(premium: i64, limit: i64) -> RiskSummary {
        RiskSummary {
            line_of_business: LineOfBusiness::GeneralLiability,
            premium: Money::from_cents(premium),
            occurrence_limit: Money::from_cents(limit),
            aggregate_limit: Money::from_cents(limit * 2),
            annual_revenue: Money::from_cents(450_000_000),
            naics_code: "332710".parse().unwrap(),
            risk_state: "OH".parse().unwrap(),
            needs_manual_review: false,
            loss_ratio: None,
        }
    }

    #[test]
    fn within_authority() {
        let p = ladder();
        assert!(matches!(
            evaluate(&p[..1], &[], &p, &risk(1_000_000, 100_000_000)),
            AuthorityDecision::Within { level: 1, .. }
        ));
    }

    #[test]
    fn beyond_authority_routes_to_the_next_level_that_has_it() {
        let p = ladder();
        let AuthorityDecision::Refer { required_level, routed_to_level, reasons } =
            evaluate(&p[..1], &[], &p, &risk(5_000_000, 100_000_000))
        else {
            panic!("expected a referral")
        };
        assert_eq!((required_level, routed_to_level), (2, Some(2)));
        assert_eq!(reasons[0].code, "authority_exceeded");
        let AuthorityDecision::Refer { routed_to_level, .. } =
            evaluate(&p[..1], &[], &p, &risk(20_000_000, 300_000_000))
        else {
            panic!("expected a referral")
        };
        assert_eq!(routed_to_level, Some(3), "only the chief covers a $3M limit");
        let AuthorityDecision::Refer { routed_to_level, .. } =
            evaluate(&p[..1], &[], &p, &risk(90_000_000, 100_000_000))
        else {
            panic!("expected a referral")
        };
        assert_eq!(routed_to_level, None, "nobody covers it");
    }

    #[test]
    fn rules_escalate_within_limits() {
        let p = ladder();
        let rule = ReferralRule {
            id: ReferralRuleId::from_uuid(Uuid::from_u128(9)),
            org_id: OrgId::from_uuid(Uuid::from_u128(1)),
            line_of_business: None,
            trigger: ReferralTrigger::State { state: "OH".parse().unwrap() },
            min_level: 3,
            description: "Ohio risks go to the chief".into(),
        };
        let AuthorityDecision::Refer { required_level, routed_to_level, reasons } =
            evaluate(&p[..2], std::slice::from_ref(&rule), &p, &risk(1_000_000, 100_000_000))
        else {
            panic!("expected a referral")
        };
        assert_eq!((required_level, routed_to_level), (3, Some(3)));
        assert_eq!(reasons[0].code, "referral_rule");
        assert!(matches!(
            evaluate(&p, &[rule], &p, &risk(1_000_000, 100_000_000)),
            AuthorityDecision::Within { level: 3, .. }
        ));
    }

    #[test]
    fn referral_lifecycle() {
        let p = ladder();
        let requester = UserId::from_uuid(Uuid::from_u128(100));
        let senior = UserId::from_uuid(Uuid::from_u128(200));
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let r = risk(5_000_000, 100_000_000);
        let (mut referral, created) = Referral::raise(
            ReferralId::from_uuid(Uuid::from_u128(7)),
            Uuid::from_u128(70),
            OrgId::from_uuid(Uuid::from_u128(1)),
            SubmissionId::from_uuid(Uuid::from_u128(8)),
            QuoteId::from_uuid(Uuid::from_u128(9)),
            requester,
            2,
            vec![Flag::refer("authority_exceeded", "premium")],
            r.clone(),
            now,
        );
        assert_eq!(created.action, ReferralAction::Created);
        assert!(!referral.approves(&r));
        let before = referral.clone();
        assert_eq!(
            referral.approve(requester, &p, "ok", "fine", Uuid::from_u128(71), now),
            Err(ReferralError::OwnReferral)
        );
        assert!(matches!(
            referral.approve(senior, &p[..1], "ok", "fine", Uuid::from_u128(71), now),
            Err(ReferralError::InsufficientAuthority(_))
        ));
        assert!(matches!(
            referral.approve(senior, &p[1..2], "ok", " ", Uuid::from_u128(71), now),
            Err(ReferralError::Invalid { field: "rationale", .. })
        ));
        assert_eq!(referral, before, "refused decisions change nothing");
        let a = referral
            .approve(senior, &p[1..2], "adequate_pricing", "priced at 1.2x technical", Uuid::from_u128(71), now)
            .unwrap();
        assert_eq!(a.action, ReferralAction::Approved);
        assert!(referral.approves(&r));
        assert!(referral.approves(&risk(4_000_000, 100_000_000)), "less than approved is within");
        assert!(!referral.approves(&risk(5_000_001, 100_000_000)), "more premium than approved is not");
        assert!(!referral.approves(&risk(5_000_000, 200_000_000)), "a higher limit is not");
        assert_eq!(
            referral.approve(senior, &p[1..2], "x", "y", Uuid::from_u128(72), now),
            Err(ReferralError::NotPending(ReferralStatus::Approved))
        );
        assert_eq!(
            referral.withdraw(requester, "n", Uuid::from_u128(73), now),
            Err(ReferralError::NotPending(ReferralStatus::Approved))
        );
    }

    #[test]
    fn withdraw_and_decline() {
        let p = ladder();
        let requester = UserId::from_uuid(Uuid::from_u128(100));
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let raise = || {
            Referral::raise(
                ReferralId::from_uuid(Uuid::from_u128(7)),
                Uuid::from_u128(70),
                OrgId::from_uuid(Uuid::from_u128(1)),
                SubmissionId::from_uuid(Uuid::from_u128(8)),
                QuoteId::from_uuid(Uuid::from_u128(9)),
                requester,
                2,
                vec![],
                risk(5_000_000, 100_000_000),
                now,
            )
            .0
        };
        let mut r = raise();
        assert_eq!(
            r.withdraw(UserId::from_uuid(Uuid::from_u128(5)), "", Uuid::from_u128(1), now),
            Err(ReferralError::NotRequester)
        );
        r.withdraw(requester, "insured went elsewhere", Uuid::from_u128(1), now).unwrap();
        assert_eq!(r.status, ReferralStatus::Withdrawn);
        let mut r = raise();
        r.decline(
            UserId::from_uuid(Uuid::from_u128(300)),
            &p[2..],
            "outside_appetite",
            "too hazardous",
            Uuid::from_u128(2),
            now,
        )
        .unwrap();
        assert_eq!(r.status, ReferralStatus::Declined);
        assert!(!r.approves(&risk(5_000_000, 100_000_000)));
    }
}
