//! The bind: read the whole context once, decide purely ([`openinsure_core::underwriting::decision`]), write
//! once.
//!
//! The same checks run at quote time (their flags are stored on the quote, which is still
//! produced) and again at bind, where every one must pass: the quote is fresh, the DA agreement's
//! rules and capacity, and the caller's authority (or an approved referral covering the risk).
//! A risk beyond the caller's authority raises a referral to the next level that has it.
//!
//! Store calls per bind: one read of the whole context ([`BindStore::bind_context`]), the policy
//! number's sequence, the down payment's money id when one is collected, and the atomic commit;
//! the `Authorizer` is asked once besides.

use openinsure_core::events::DomainEvent;
use openinsure_core::ids::{QuoteId, SubmissionId};
use openinsure_core::money_id::MoneyUse;
use openinsure_core::permission::Action;
use openinsure_core::policy::Policy;
use openinsure_core::relationships::{AuthzRequest, Permission};
use openinsure_core::store::BindOutcome;
use openinsure_core::tenancy::Caller;
use openinsure_core::underwriting::decision::{self, BindDecision};

pub use openinsure_core::underwriting::decision::BindRequest;

use crate::app::{App, require};
use crate::error::{Error, Result};

impl App {
    /// Binds a quote of `submission`: the one `request.quote_id` names, else the latest. Re-runs
    /// every pre-bind check, then stores the policy, its billing schedule, the DA usage and the
    /// `policy.bound` event in one atomic step. A quote bound already returns its policy and
    /// changes nothing; a failing check raises the referral it calls for and refuses with every
    /// failed check.
    pub async fn bind_submission(
        &self,
        caller: &Caller,
        submission: SubmissionId,
        request: &BindRequest,
    ) -> Result<Policy> {
        require(caller, Action::Bind)?;
        let ctx = self.store.bind_context(caller.org_id, submission, caller.user_id).await?;
        let s = &ctx.underwriting.submission;
        let decision = self
            .authorizer
            .check(&AuthzRequest {
                user: caller.user_id,
                org: caller.org_id,
                role: caller.role,
                permission: Permission::Bind,
                program: s.program_id,
                line_of_business: s.line_of_business,
            })
            .await?;
        if !decision.allowed {
            return Err(Error::Forbidden(decision.rule));
        }
        let now = self.clock.now();
        let plan = match decision::decide_bind(&ctx, caller, request, self.ids.as_ref(), now)? {
            BindDecision::AlreadyBound(policy) => return Ok(policy),
            BindDecision::Refuse { flags, referral } => {
                if let Some(r) = referral {
                    self.store.insert_referral(caller.org_id, &r.referral, &r.activity, &[r.event]).await?;
                    tracing::info!(referral_id = %r.referral.id, level = r.referral.routed_to_level, "referral raised");
                }
                return Err(Error::Checks { flags });
            }
            BindDecision::Bind(plan) => plan,
        };
        let quote_id = plan.quote().id;
        let sequence = self.store.next_sequence(caller.org_id, &plan.number_key).await?;
        if let Some(payment_id) = plan.down_payment_id() {
            self.store.register_money_id(caller.org_id, payment_id, &MoneyUse::DownPayment { quote_id }).await?;
        }
        let commit = plan.commit(sequence, caller, self.ids.as_ref(), now, crate::ledger::payment_received)?;
        match self.store.bind(caller.org_id, &commit).await? {
            BindOutcome::Bound(p) => {
                // the down payment is booked at once (a refund right after finds it); opening the
                // books for `policy.bound` is left to the dispatcher, off the bind's path
                for e in commit.events.iter().filter(|e| matches!(e.event, DomainEvent::PaymentReceived { .. })) {
                    self.book_now(e).await;
                }
                tracing::info!(policy_id = %p.id, policy_number = %p.number, rule = %decision.rule, "bound");
                Ok(p)
            }
            BindOutcome::AlreadyBound(p) => Ok(p),
        }
    }

    /// Binds `quote` (of its submission): [`App::bind_submission`] naming the quote.
    pub async fn bind(&self, caller: &Caller, quote: QuoteId, request: &BindRequest) -> Result<Policy> {
        require(caller, Action::Bind)?;
        let q = self.store.get_quote(caller.org_id, quote).await?;
        let request = BindRequest { quote_id: Some(quote), ..request.clone() };
        self.bind_submission(caller, q.submission_id, &request).await
    }
}
