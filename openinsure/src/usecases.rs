//! Submissions and quotes: intake, rating with pre-bind checks, reads.

use chrono::Duration;
use openinsure_core::ids::{QuoteId, SubmissionId};
use openinsure_core::permission::Action;
use openinsure_core::quote::{Quote, QuoteStatus, Schedule};
use openinsure_core::store::Page;
use openinsure_core::submission::{Submission, SubmissionStatus};
use openinsure_core::tenancy::Caller;
use serde_json::Value;

use crate::app::{App, require};
use crate::error::{Error, Result};

impl App {
    /// Takes in a submission from untrusted JSON (status `draft`). Every field error at once.
    pub async fn submit(&self, caller: &Caller, json: &Value) -> Result<Submission> {
        require(caller, Action::SubmitBusiness)?;
        let id: SubmissionId = self.ids.next_id();
        let submission = Submission::intake(id, caller.org_id, caller.user_id, self.clock.now(), json)?;
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

    /// Rates a submission on the table in force on its effective date and stores the quote.
    ///
    /// Schedule credits and debits are an underwriting decision: a producer may quote, but only
    /// with an empty schedule.
    pub async fn quote(&self, caller: &Caller, id: SubmissionId, schedule: &Schedule) -> Result<Quote> {
        require(caller, Action::RequestQuote)?;
        if !schedule.adjustments.is_empty() && !caller.role.is_underwriting() {
            return Err(Error::Forbidden(format!("role `{}` may not apply schedule rating", caller.role)));
        }
        let submission = self.store.get_submission(caller.org_id, id).await?;
        if !matches!(submission.status, SubmissionStatus::Draft | SubmissionStatus::Quoted) {
            return Err(Error::Rule {
                code: "submission_not_quotable",
                message: format!("submission `{id}` is {:?} and can no longer be quoted", submission.status)
                    .to_lowercase(),
            });
        }
        let table =
            self.rates.in_force(submission.line_of_business, submission.program_id, submission.effective_date)?;
        let rating = openinsure_rating::rate(&submission, table, schedule)?;
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
        let mut checks = self.prebind(caller, &submission, &quote).await?;
        quote.flags = std::mem::take(&mut checks.flags);
        self.store.insert_quote(caller.org_id, &quote).await?;
        self.store_referral(caller, &mut checks).await?;
        self.mark_quoted(caller, submission).await?;
        tracing::info!(quote_id = %quote.id, submission_id = %id, gross_premium_cents = quote.rating.totals.gross_premium.cents(), "quoted");
        Ok(quote)
    }

    /// Moves a draft submission to `quoted`, re-reading on a concurrent change.
    async fn mark_quoted(&self, caller: &Caller, mut submission: Submission) -> Result<()> {
        for _ in 0..3 {
            if submission.status != SubmissionStatus::Draft {
                return Ok(());
            }
            submission.status = SubmissionStatus::Quoted;
            submission.updated_at = self.clock.now();
            match self.store.update_submission(caller.org_id, &submission).await {
                Ok(_) => return Ok(()),
                Err(openinsure_core::Error::Conflict(_)) => {
                    submission = self.store.get_submission(caller.org_id, submission.id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(format!("submission `{}` keeps changing; try again", submission.id)))
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
