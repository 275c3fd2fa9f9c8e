//! The underwriting decision, as pure functions over data read once.
//!
//! A quote and a bind ask the same question: may this caller write this risk under the
//! program's delegated authority, and if not, who must decide? The answer depends on the
//! submission, the program's DA agreements and their usage, the caller's authority profiles, the
//! org's profiles and referral rules, and the submission's referrals. The use case reads all of
//! it in one call ([`UnderwritingContext`], [`BindContext`]: one transaction in SQL, one lock in
//! memory), decides here with no IO, and writes the outcome in one atomic commit. The model is
//! ruma-state-res's `resolve`: read once, decide purely, write once.
//!
//! - [`prebind`] runs every pre-bind check (the DA agreement's rules and capacity, then the
//!   caller's authority) and returns the flags, with the referral to raise when authority is
//!   exceeded and no referral is pending: quotes store these flags; binds refuse on any.
//! - [`decide_bind`] picks the quote (the one asked for, else the latest), says whether it is
//!   already bound, re-runs the checks, and returns the plan of the bind ([`BindPlan`]), or the
//!   flags that refuse it (with the referral to raise).

use chrono::{DateTime, Datelike, Utc};

use crate::billing::{self, BillingPlan, InstallmentFees};
use crate::clock::IdGen;
use crate::error::{Error, Result};
use crate::events::{DomainEvent, EventEnvelope};
use crate::ids::{DaAgreementId, QuoteId, ReferralId};
use crate::policy::{BindTerms, Policy};
use crate::quote::Quote;
use crate::submission::{Submission, SubmissionStatus};
use crate::tenancy::Caller;
use crate::underwriting::authority::{
    self, AuthorityDecision, AuthorityProfile, Referral, ReferralActivity, ReferralRule,
};
use crate::underwriting::authority::{ReferralStatus, RiskSummary};
use crate::underwriting::checks::{Flag, FreshQuote, Severity};
use crate::underwriting::da::{self, CapacityClaim, DaAgreement, DaUsage};

/// What a quote's checks decide on, read in one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnderwritingContext {
    /// The submission.
    pub submission: Submission,
    /// The DA agreements of the submission's program (every one, by program, not a first page).
    pub agreements: Vec<DaAgreement>,
    /// Their usage, every agreement year on record.
    pub usage: Vec<(DaAgreementId, DaUsage)>,
    /// The authority profiles assigned to the caller.
    pub caller_profiles: Vec<AuthorityProfile>,
    /// Every authority profile of the org.
    pub profiles: Vec<AuthorityProfile>,
    /// The org's referral rules.
    pub rules: Vec<ReferralRule>,
    /// The submission's referrals, oldest first.
    pub referrals: Vec<Referral>,
}

/// What a bind decides on: the quote's context, and the submission's quotes and policies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindContext {
    /// The submission and the authority around it.
    pub underwriting: UnderwritingContext,
    /// The submission's quotes.
    pub quotes: Vec<Quote>,
    /// The policies bound from those quotes.
    pub policies: Vec<Policy>,
}

/// What the caller chooses at bind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindRequest {
    /// The quote to bind; the submission's latest when absent.
    pub quote_id: Option<QuoteId>,
    /// The payment plan.
    pub billing_plan: BillingPlan,
    /// Installment fees by plan.
    pub installment_fees: InstallmentFees,
    /// The down payment collected at bind, if any: installment 1 is recorded as paid by it and
    /// its `payment.received` event books the ledger split. A money id (see
    /// [`crate::money_id`]).
    pub down_payment_id: Option<uuid::Uuid>,
}

impl Default for BindRequest {
    fn default() -> Self {
        BindRequest {
            quote_id: None,
            billing_plan: BillingPlan::PaidInFull,
            installment_fees: InstallmentFees::default(),
            down_payment_id: None,
        }
    }
}

/// A referral a check raised, to store with its first activity and its event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaisedReferral {
    /// The referral.
    pub referral: Referral,
    /// Its `created` activity.
    pub activity: ReferralActivity,
    /// Its `referral.created` event.
    pub event: EventEnvelope,
}

/// The outcome of the pre-bind checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prebind {
    /// Every failed check.
    pub flags: Vec<Flag>,
    /// The agreement the risk would bind under.
    pub agreement: Option<DaAgreement>,
    /// The capacity it would use.
    pub claim: Option<CapacityClaim>,
    /// The approved referral that covers the risk.
    pub approved_referral: Option<ReferralId>,
    /// The referral to raise (authority exceeded, none pending).
    pub raised_referral: Option<RaisedReferral>,
}

/// The facts authority is decided on.
pub fn risk_summary(submission: &Submission, quote: &Quote) -> RiskSummary {
    RiskSummary {
        line_of_business: submission.line_of_business,
        premium: quote.rating.totals.gross_premium,
        occurrence_limit: submission.requested_occurrence_limit,
        aggregate_limit: submission.requested_aggregate_limit,
        annual_revenue: submission.annual_revenue,
        naics_code: submission.naics_code,
        risk_state: submission.risk_state,
        needs_manual_review: submission.needs_manual_review,
        loss_ratio: da::history_loss_ratio(submission),
    }
}

/// The agreement a submission binds under: one of its program in force on its effective date,
/// else the latest of its program (whose checks then say why not).
pub fn agreement_for(ctx: &UnderwritingContext) -> Option<&DaAgreement> {
    let s = &ctx.submission;
    ctx.agreements
        .iter()
        .filter(|a| a.program_id == s.program_id)
        .max_by_key(|a| (a.in_force_on(s.effective_date), a.effective_date, a.id))
}

/// Every pre-bind check of `quote` for `caller` (freshness is the bind's, see [`decide_bind`]).
/// When authority is exceeded and no referral is pending, the referral to raise is in
/// [`Prebind::raised_referral`], with ids from `ids`.
pub fn prebind(
    ctx: &UnderwritingContext,
    caller: &Caller,
    quote: &Quote,
    ids: &dyn IdGen,
    now: DateTime<Utc>,
) -> Prebind {
    let submission = &ctx.submission;
    let mut out = Prebind::default();
    let premium = quote.rating.totals.gross_premium;

    // delegated authority
    match agreement_for(ctx) {
        None => out.flags.push(Flag::block(
            "no_da_agreement",
            format!("no DA agreement covers program `{}`", submission.program_id),
        )),
        Some(a) => {
            let claim = a.claim(submission, premium);
            let none = DaUsage::default();
            // by reference: an agreement's usage holds every insured of its year
            let usage = claim
                .as_ref()
                .and_then(|c| ctx.usage.iter().find(|(id, u)| *id == a.id && u.agreement_year == c.agreement_year))
                .map_or(&none, |(_, u)| u);
            out.flags.extend(da::check(a, submission, premium, usage));
            out.claim = claim;
            out.agreement = Some(a.clone());
        }
    }

    // underwriting authority, for those who underwrite
    if !caller.role.is_underwriting() {
        return out;
    }
    let risk = risk_summary(submission, quote);
    let da_refer: Vec<Flag> = out.flags.iter().filter(|f| f.severity == Severity::Refer).cloned().collect();
    out.flags.retain(|f| f.severity != Severity::Refer);
    let (routed, mut reasons) = match authority::evaluate(&ctx.caller_profiles, &ctx.rules, &ctx.profiles, &risk) {
        AuthorityDecision::Within { .. } if da_refer.is_empty() => return out,
        AuthorityDecision::Within { level, .. } => {
            // within the caller's limits, but the agreement wants a referral: the next level up
            let next = ctx
                .profiles
                .iter()
                .filter(|p| p.can_approve_referrals && p.level > level && p.covers(&risk))
                .map(|p| p.level)
                .min();
            (next, Vec::new())
        }
        AuthorityDecision::Refer { routed_to_level, reasons, .. } => (routed_to_level, reasons),
    };
    reasons.extend(da_refer);

    if let Some(ok) = ctx.referrals.iter().find(|r| r.approves(&risk)) {
        out.approved_referral = Some(ok.id);
        return out;
    }
    if let Some(p) = ctx.referrals.iter().find(|r| r.status == ReferralStatus::Pending) {
        out.flags.push(Flag::refer(
            "referral_pending",
            format!("referral `{}` awaits a level {} decision", p.id, p.routed_to_level),
        ));
        return out;
    }
    let Some(level) = routed else {
        out.flags.extend(reasons);
        out.flags.push(Flag::block("no_authority_in_org", "no one in the org has the authority to write this risk"));
        return out;
    };
    out.flags
        .push(Flag::refer("referral_required", format!("beyond the caller's authority: referred to level {level}")));
    out.flags.extend(reasons.iter().cloned());
    let (referral, activity) = Referral::raise(
        ids.next_id(),
        ids.next_uuid(),
        caller.org_id,
        submission.id,
        quote.id,
        caller.user_id,
        level,
        reasons,
        risk,
        now,
    );
    let event = EventEnvelope::new(
        ids.next_uuid(),
        caller.org_id,
        now,
        DomainEvent::ReferralCreated {
            referral_id: referral.id.as_uuid(),
            submission_id: submission.id,
            routed_to_level: level,
        },
    );
    out.raised_referral = Some(RaisedReferral { referral, activity, event });
    out
}

/// What a bind decided.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant, reason = "decided once per request, moved once")]
pub enum BindDecision {
    /// The quote was bound before: its policy; nothing to write.
    AlreadyBound(Policy),
    /// Every check passed: what to write (number it with [`BindPlan::commit`]).
    Bind(BindPlan),
    /// A check failed: every failed check, and the referral to store when one was raised.
    Refuse {
        /// The failed checks.
        flags: Vec<Flag>,
        /// The referral to raise, if any.
        referral: Option<RaisedReferral>,
    },
}

/// Everything a bind writes but the policy number, which the store's sequence gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindPlan {
    fresh: FreshQuote,
    submission: Submission,
    billing: billing::BillingSchedule,
    claim: Option<CapacityClaim>,
    agreement: Option<DaAgreement>,
    approved_referral: Option<ReferralId>,
    down_payment_id: Option<uuid::Uuid>,
    /// The sequence the policy number is drawn from (`GL-2027`).
    pub number_key: String,
}

impl BindPlan {
    /// The quote to bind.
    pub fn quote(&self) -> &Quote {
        self.fresh.quote()
    }

    /// The down payment's id, if one is collected (a money id to register before the commit).
    pub fn down_payment_id(&self) -> Option<uuid::Uuid> {
        self.down_payment_id
    }

    /// The write, with the policy numbered `{number_key}-{sequence:06}`: the policy, the quote
    /// and submission marked bound, the capacity to take, and the `policy.bound` event (and the
    /// down payment's `payment.received`, built by `payment_received`).
    pub fn commit<E: From<Error>>(
        self,
        sequence: u64,
        caller: &Caller,
        ids: &dyn IdGen,
        now: DateTime<Utc>,
        payment_received: impl FnOnce(&Policy, u32, uuid::Uuid) -> std::result::Result<DomainEvent, E>,
    ) -> std::result::Result<crate::store::BindCommit, E> {
        let terms = BindTerms {
            id: ids.next_id(),
            number: crate::policy::policy_number(&self.number_key, sequence),
            billing: self.billing,
            da_agreement_id: self.agreement.as_ref().map(|a| a.id),
            referral_id: self.approved_referral,
            mga_commission_rate: self.agreement.as_ref().map(|a| a.mga_commission_rate).unwrap_or_default(),
            bound_by: caller.user_id,
            now,
        };
        let mut policy = Policy::from_quote(&self.fresh, &self.submission, terms)
            .ok_or_else(|| Error::Conflict("the quote does not belong to its submission".into()))?;
        let mut events = Vec::with_capacity(2);
        let down_payment = match self.down_payment_id {
            Some(payment_id) => {
                policy.billing.record_payment(1, payment_id).map_err(Error::from)?;
                Some(payment_received(&policy, 1, payment_id)?)
            }
            None => None,
        };
        let quote_id = self.fresh.quote().id;
        let mut quote = self.fresh.into_quote();
        quote.mark_bound()?;
        let mut submission = self.submission;
        submission.mark_bound(now)?;
        events.push(EventEnvelope::new(
            ids.next_uuid(),
            caller.org_id,
            now,
            DomainEvent::PolicyBound {
                policy_id: policy.id,
                policy_number: policy.number.clone(),
                quote_id,
                submission_id: submission.id,
                premium: policy.annual_premium,
                bound_by: caller.user_id,
            },
        ));
        if let Some(paid) = down_payment {
            events.push(EventEnvelope::new(ids.next_uuid(), caller.org_id, now, paid));
        }
        Ok(crate::store::BindCommit { policy, quote, submission, capacity: self.claim, events })
    }
}

/// The bind decision: which quote, already bound or not, every pre-bind check, the plan.
///
/// Errors are the request's, not the risk's: a `quote_id` that is not the submission's
/// ([`Error::NotFound`]), no quote at all (`no_quote`), a down payment different from the one a
/// bound quote was bound with, or a submission bound from another quote ([`Error::Conflict`]).
pub fn decide_bind(
    ctx: &BindContext,
    caller: &Caller,
    request: &BindRequest,
    ids: &dyn IdGen,
    now: DateTime<Utc>,
) -> Result<BindDecision> {
    let submission = &ctx.underwriting.submission;
    let quote = match request.quote_id {
        Some(id) => ctx.quotes.iter().find(|q| q.id == id).ok_or_else(|| Error::not_found("quote", id))?,
        None => ctx.quotes.iter().max_by_key(|q| (q.quoted_at, q.id)).ok_or_else(|| Error::Rule {
            code: "no_quote",
            message: format!("submission `{}` has no quote to bind", submission.id),
        })?,
    };
    if let Some(existing) = ctx.policies.iter().find(|p| p.quote_id == quote.id) {
        let paid_by = existing.billing.installments.first().and_then(|i| i.payment_id);
        return match request.down_payment_id {
            Some(id) if paid_by != Some(id) => Err(Error::Conflict(format!(
                "quote `{}` is already bound as policy `{}`, with no down payment `{id}`",
                quote.id, existing.number
            ))),
            _ => Ok(BindDecision::AlreadyBound(existing.clone())),
        };
    }
    if submission.status == SubmissionStatus::Bound {
        return Err(Error::Conflict(format!("submission `{}` is already bound from another quote", submission.id)));
    }
    let fresh = FreshQuote::check(quote.clone(), now);
    let mut checks = prebind(&ctx.underwriting, caller, quote, ids, now);
    let mut flags = Vec::new();
    if let Err(f) = &fresh {
        flags.push(f.clone());
    }
    flags.append(&mut checks.flags);
    let fresh = match fresh {
        Ok(f) if flags.is_empty() => f,
        _ => return Ok(BindDecision::Refuse { flags, referral: checks.raised_referral }),
    };
    let totals = fresh.quote().rating.totals;
    let billing = billing::schedule(
        request.billing_plan,
        submission.effective_date,
        totals.gross_premium,
        totals.fees.checked_add(totals.taxes)?,
        &request.installment_fees,
    )?;
    Ok(BindDecision::Bind(BindPlan {
        number_key: format!("{}-{}", submission.line_of_business.code(), submission.effective_date.year()),
        fresh,
        submission: submission.clone(),
        billing,
        claim: checks.claim,
        agreement: checks.agreement,
        approved_referral: checks.approved_referral,
        down_payment_id: request.down_payment_id,
    }))
}
