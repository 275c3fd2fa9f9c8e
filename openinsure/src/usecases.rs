//! Submissions and quotes: intake, rating with pre-bind checks, reads.

use chrono::Duration;
use openinsure_core::ids::{QuoteId, SubmissionId};
use openinsure_core::permission::Action;
use openinsure_core::quote::{Quote, QuoteStatus, Schedule};
use openinsure_core::store::{Page, QuoteCommit};
use openinsure_core::submission::{Submission, SubmissionInput, SubmissionStatus};
use openinsure_core::tenancy::Caller;
use openinsure_core::underwriting::decision;

use crate::app::{App, require};
use crate::error::{Error, Result};

impl App {
    /// Takes in a submission (status `draft`). Every field error at once. Untrusted JSON is read
    /// into the input by [`SubmissionInput::read`], with the JSON path of each error.
    pub async fn submit(&self, caller: &Caller, input: &SubmissionInput) -> Result<Submission> {
        require(caller, Action::SubmitBusiness)?;
        let id: SubmissionId = self.ids.next_id();
        let submission = Submission::intake(id, caller.org_id, caller.user_id, self.clock.now(), input)?;
        self.store.insert_submission(caller.org_id, &submission).await?;
        tracing::info!(submission_id = %submission.id, org_id = %caller.org_id, review = submission.needs_manual_review, "submission taken in");
        Ok(submission)
    }

    /// Reads a submission of the caller's org.
    pub async fn submission(&self, caller: &Caller, id: SubmissionId) -> Result<Submission> {
        require(caller, Action::ReadBusiness)?;
        Ok(self.store.get_submission(caller.org_id, id).await?)
    }

    /// Lists the caller's org's submissions.
    pub async fn submissions(&self, caller: &Caller, page: Page) -> Result<Vec<Submission>> {
        require(caller, Action::ReadBusiness)?;
        Ok(self.store.list_submissions(caller.org_id, page).await?)
    }

    /// Rates a submission on the table in force on its effective date and stores the quote with
    /// its pre-bind flags, the referral they raise and the submission's move to `quoted`, in one
    /// atomic write after one read of the whole context (a concurrent change of the submission
    /// is re-read and decided again).
    ///
    /// Schedule credits and debits are an underwriting decision: a producer may quote, but only
    /// with an empty schedule.
    pub async fn quote(&self, caller: &Caller, id: SubmissionId, schedule: &Schedule) -> Result<Quote> {
        require(caller, Action::RequestQuote)?;
        if !schedule.adjustments.is_empty() && !caller.role.is_underwriting() {
            return Err(Error::Forbidden(format!("role `{}` may not apply schedule rating", caller.role)));
        }
        for _ in 0..3 {
            let ctx = self.store.underwriting_context(caller.org_id, id, caller.user_id).await?;
            let submission = &ctx.submission;
            if !matches!(submission.status, SubmissionStatus::Draft | SubmissionStatus::Quoted) {
                return Err(Error::Rule {
                    code: "submission_not_quotable",
                    message: format!("submission `{id}` is {:?} and can no longer be quoted", submission.status)
                        .to_lowercase(),
                });
            }
            let table = self
                .table_in_force(
                    caller.org_id,
                    submission.line_of_business,
                    submission.program_id,
                    submission.effective_date,
                )
                .await?;
            let rating = openinsure_rating::rate(submission, &table, schedule)?;
            let now = self.clock.now();
            let mut quote = Quote {
                id: self.ids.next_id::<QuoteId>(),
                org_id: caller.org_id,
                submission_id: submission.id,
                program_id: submission.program_id,
                line_of_business: submission.line_of_business,
                status: QuoteStatus::Quoted,
                expires_at: now + Duration::days(i64::from(rating.valid_days)),
                rating,
                flags: vec![],
                quoted_at: now,
            };
            let checks = decision::prebind(&ctx, caller, &quote, self.ids.as_ref(), now);
            quote.flags = checks.flags;
            let mut moved = submission.clone();
            let moved = moved.mark_quoted(now).then_some(moved);
            let raised = checks.raised_referral.as_ref().map(|r| (r.referral.id, r.referral.routed_to_level));
            let commit = QuoteCommit { quote, referral: checks.raised_referral, submission: moved };
            match self.store.commit_quote(caller.org_id, &commit).await {
                Ok(()) => {
                    if let Some((referral_id, level)) = raised {
                        tracing::info!(referral_id = %referral_id, level, "referral raised");
                    }
                    let quote = commit.quote;
                    tracing::info!(quote_id = %quote.id, submission_id = %id, gross_premium_cents = quote.rating.totals.gross_premium.cents(), "quoted");
                    return Ok(quote);
                }
                // the submission changed since it was read: read and decide again
                Err(openinsure_core::Error::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(format!("submission `{id}` keeps changing; try again")))
    }

    /// Reads a quote of the caller's org.
    pub async fn get_quote(&self, caller: &Caller, id: QuoteId) -> Result<Quote> {
        require(caller, Action::ReadBusiness)?;
        Ok(self.store.get_quote(caller.org_id, id).await?)
    }

    /// The quotes of a submission of the caller's org.
    pub async fn quotes_for(&self, caller: &Caller, id: SubmissionId) -> Result<Vec<Quote>> {
        require(caller, Action::ReadBusiness)?;
        self.store.get_submission(caller.org_id, id).await?;
        Ok(self.store.list_quotes(caller.org_id, id).await?)
    }
}
