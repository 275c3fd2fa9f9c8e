//! Pre-bind checks and the bind.
//!
//! The same checks run at quote time (their flags are stored on the quote, which is still
//! produced) and again at bind, where every one must pass: the quote is fresh, the DA agreement's
//! rules and capacity, and the caller's authority (or an approved referral covering the risk).
//! A risk beyond the caller's authority raises a referral to the next level that has it.

use chrono::Datelike;
use openinsure_core::authority::{self, AuthorityDecision, Referral, ReferralActivity, ReferralStatus, RiskSummary};
use openinsure_core::authz::{AuthzRequest, Permission};
use openinsure_core::billing::{self, BillingPlan, InstallmentFees};
use openinsure_core::checks::{Flag, FreshQuote, Severity};
use openinsure_core::da::{self, CapacityClaim, DaAgreement};
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::{QuoteId, ReferralId};
use openinsure_core::money_id::MoneyUse;
use openinsure_core::permission::Action;
use openinsure_core::policy::{BindTerms, Policy};
use openinsure_core::quote::{Quote, QuoteStatus};
use openinsure_core::store::{BindCommit, BindOutcome, Page};
use openinsure_core::submission::{Submission, SubmissionStatus};
use openinsure_core::tenancy::Caller;

use crate::app::{App, require};
use crate::error::{Error, Result};

/// What the caller chooses at bind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindRequest {
    /// The payment plan.
    pub billing_plan: BillingPlan,
    /// Installment fees by plan.
    pub installment_fees: InstallmentFees,
    /// The down payment collected at bind, if any: installment 1 is recorded as paid by this
    /// payment in the same atomic step, and its `payment.received` event books the ledger split.
    /// It is a money id (see [`openinsure_core::money_id`]): the same id on another bind is
    /// refused.
    pub down_payment_id: Option<uuid::Uuid>,
}

impl Default for BindRequest {
    fn default() -> Self {
        BindRequest {
            billing_plan: BillingPlan::PaidInFull,
            installment_fees: InstallmentFees::default(),
            down_payment_id: None,
        }
    }
}

/// The outcome of the pre-bind checks.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prebind {
    pub flags: Vec<Flag>,
    pub agreement: Option<DaAgreement>,
    pub claim: Option<CapacityClaim>,
    pub approved_referral: Option<ReferralId>,
    /// A referral to store once the quote it names is stored.
    pub raised_referral: Option<(Referral, ReferralActivity, EventEnvelope)>,
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

impl App {
    /// The DA agreement a submission would bind under: one for its program in force on its
    /// effective date, else the latest of its program (whose checks then say why not).
    async fn agreement_for(&self, caller: &Caller, submission: &Submission) -> Result<Option<DaAgreement>> {
        let all = self.store.list_agreements(caller.org_id, Page::first()).await?;
        let mut of_program: Vec<DaAgreement> =
            all.into_iter().filter(|a| a.program_id == submission.program_id).collect();
        of_program.sort_by_key(|a| (a.in_force_on(submission.effective_date), a.effective_date));
        Ok(of_program.pop())
    }

    /// Every pre-bind check except freshness. When authority is exceeded and no referral is
    /// pending, the referral to raise is in `raised_referral` (see [`App::store_referral`]).
    pub(crate) async fn prebind(&self, caller: &Caller, submission: &Submission, quote: &Quote) -> Result<Prebind> {
        let mut out = Prebind::default();
        let premium = quote.rating.totals.gross_premium;

        // Delegated authority.
        match self.agreement_for(caller, submission).await? {
            None => out.flags.push(Flag::block(
                "no_da_agreement",
                format!("no DA agreement covers program `{}`", submission.program_id),
            )),
            Some(a) => {
                let claim = a.claim(submission, premium);
                let usage = match &claim {
                    Some(c) => self.store.usage(caller.org_id, a.id, c.agreement_year).await?,
                    None => Default::default(),
                };
                out.flags.extend(da::check(&a, submission, premium, &usage));
                out.claim = claim;
                out.agreement = Some(a);
            }
        }

        // Underwriting authority, for those who underwrite.
        if !caller.role.is_underwriting() {
            return Ok(out);
        }
        let risk = risk_summary(submission, quote);
        let mine = self.store.profiles_of(caller.org_id, caller.user_id).await?;
        let rules = self.store.list_rules(caller.org_id).await?;
        let all = self.store.list_profiles(caller.org_id).await?;
        let da_refer: Vec<Flag> = out.flags.iter().filter(|f| f.severity == Severity::Refer).cloned().collect();
        out.flags.retain(|f| f.severity != Severity::Refer);
        let (routed, mut reasons) = match authority::evaluate(&mine, &rules, &all, &risk) {
            AuthorityDecision::Within { .. } if da_refer.is_empty() => return Ok(out),
            AuthorityDecision::Within { level, .. } => {
                // Within the user's limits, but the agreement wants a referral: the next level up.
                let next = all
                    .iter()
                    .filter(|p| p.can_approve_referrals && p.level > level && p.covers(&risk))
                    .map(|p| p.level)
                    .min();
                (next, Vec::new())
            }
            AuthorityDecision::Refer { routed_to_level, reasons, .. } => (routed_to_level, reasons),
        };
        reasons.extend(da_refer);

        let existing = self.store.referrals_for_submission(caller.org_id, submission.id).await?;
        if let Some(ok) = existing.iter().find(|r| r.approves(&risk)) {
            out.approved_referral = Some(ok.id);
            return Ok(out);
        }
        if let Some(p) = existing.iter().find(|r| r.status == ReferralStatus::Pending) {
            out.flags.push(Flag::refer(
                "referral_pending",
                format!("referral `{}` awaits a level {} decision", p.id, p.routed_to_level),
            ));
            return Ok(out);
        }
        let Some(level) = routed else {
            out.flags.extend(reasons);
            out.flags
                .push(Flag::block("no_authority_in_org", "no one in the org has the authority to write this risk"));
            return Ok(out);
        };
        out.flags.push(Flag::refer(
            "referral_required",
            format!("beyond the caller's authority: referred to level {level}"),
        ));
        out.flags.extend(reasons.iter().cloned());
        {
            let now = self.clock.now();
            let (referral, activity) = Referral::raise(
                self.ids.next_id(),
                self.ids.next_uuid(),
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
                self.ids.next_uuid(),
                caller.org_id,
                now,
                DomainEvent::ReferralCreated {
                    referral_id: referral.id.as_uuid(),
                    submission_id: submission.id,
                    routed_to_level: level,
                },
            );
            out.raised_referral = Some((referral, activity, event));
        }
        Ok(out)
    }

    /// Stores the referral a pre-bind check raised, if any.
    pub(crate) async fn store_referral(&self, caller: &Caller, checks: &mut Prebind) -> Result<Option<Referral>> {
        let Some((referral, activity, event)) = checks.raised_referral.take() else { return Ok(None) };
        self.store.insert_referral(caller.org_id, &referral, &activity, &[event]).await?;
        tracing::info!(referral_id = %referral.id, level = referral.routed_to_level, "referral raised");
        Ok(Some(referral))
    }

    /// Binds a quote: re-runs every pre-bind check, then stores the policy, its billing schedule,
    /// the DA usage and the `policy.bound` event in one atomic step. Binding a quote already bound
    /// returns its policy and changes nothing.
    pub async fn bind(&self, caller: &Caller, quote_id: QuoteId, request: &BindRequest) -> Result<Policy> {
        require(caller, Action::Bind)?;
        let quote = self.store.get_quote(caller.org_id, quote_id).await?;
        if let Some(existing) = self.store.policy_for_quote(caller.org_id, quote_id).await? {
            let paid_by = existing.billing.installments.first().and_then(|i| i.payment_id);
            return match request.down_payment_id {
                Some(id) if paid_by != Some(id) => Err(Error::Conflict(format!(
                    "quote `{quote_id}` is already bound as policy `{}`, with no down payment `{id}`",
                    existing.number
                ))),
                _ => Ok(existing),
            };
        }
        let decision = self
            .authorizer
            .check(&AuthzRequest {
                user: caller.user_id,
                org: caller.org_id,
                role: caller.role,
                permission: Permission::Bind,
                program: quote.program_id,
                line_of_business: quote.line_of_business,
            })
            .await?;
        if !decision.allowed {
            return Err(Error::Forbidden(decision.rule));
        }
        let submission = self.store.get_submission(caller.org_id, quote.submission_id).await?;
        if submission.status == SubmissionStatus::Bound {
            return Err(Error::Conflict(format!("submission `{}` is already bound from another quote", submission.id)));
        }
        let now = self.clock.now();
        let fresh = FreshQuote::check(quote.clone(), now);
        let mut checks = self.prebind(caller, &submission, &quote).await?;
        let mut flags = Vec::new();
        if let Err(f) = &fresh {
            flags.push(f.clone());
        }
        flags.append(&mut checks.flags);
        let fresh = match fresh {
            Ok(f) if flags.is_empty() => f,
            _ => {
                self.store_referral(caller, &mut checks).await?;
                return Err(Error::Checks { flags });
            }
        };

        let year = submission.effective_date.year();
        let key = format!("{}-{year}", submission.line_of_business.code());
        let seq = self.store.next_sequence(caller.org_id, &key).await?;
        let totals = fresh.quote().rating.totals;
        let schedule = billing::schedule(
            request.billing_plan,
            submission.effective_date,
            totals.gross_premium,
            totals.fees.checked_add(totals.taxes)?,
            &request.installment_fees,
        )?;
        let terms = BindTerms {
            id: self.ids.next_id(),
            number: format!("{key}-{seq:06}"),
            billing: schedule,
            da_agreement_id: checks.agreement.as_ref().map(|a| a.id),
            referral_id: checks.approved_referral,
            mga_commission_rate: checks.agreement.as_ref().map(|a| a.mga_commission_rate).unwrap_or_default(),
            bound_by: caller.user_id,
            now,
        };
        let mut policy = Policy::from_quote(&fresh, &submission, terms)
            .ok_or_else(|| Error::Conflict("the quote does not belong to its submission".into()))?;
        let mut events = Vec::with_capacity(2);
        let down_payment = match request.down_payment_id {
            Some(payment_id) => {
                policy.billing.record_payment(1, payment_id)?;
                Some(crate::ledger::payment_received(&policy, 1, payment_id)?)
            }
            None => None,
        };
        let mut bound_quote = fresh.into_quote();
        bound_quote.status = QuoteStatus::Bound;
        let mut bound_submission = submission.clone();
        bound_submission.status = SubmissionStatus::Bound;
        bound_submission.updated_at = now;
        let event = EventEnvelope::new(
            self.ids.next_uuid(),
            caller.org_id,
            now,
            DomainEvent::PolicyBound {
                policy_id: policy.id,
                policy_number: policy.number.clone(),
                quote_id: quote.id,
                submission_id: submission.id,
                premium: policy.annual_premium,
                bound_by: caller.user_id,
            },
        );
        events.push(event);
        if let Some(paid) = down_payment {
            events.push(EventEnvelope::new(self.ids.next_uuid(), caller.org_id, now, paid));
        }
        if let Some(payment_id) = request.down_payment_id {
            self.store.register_money_id(caller.org_id, payment_id, &MoneyUse::DownPayment { quote_id }).await?;
        }
        let commit =
            BindCommit { policy, quote: bound_quote, submission: bound_submission, capacity: checks.claim, events };
        match self.store.bind(caller.org_id, &commit).await? {
            BindOutcome::Bound(p) => {
                tracing::info!(policy_id = %p.id, policy_number = %p.number, rule = %decision.rule, "bound");
                Ok(p)
            }
            BindOutcome::AlreadyBound(p) => Ok(p),
        }
    }
}
