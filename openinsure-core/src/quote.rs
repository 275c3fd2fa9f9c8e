//! Quotes: a rating of a submission, valid until it expires, with the pre-bind flags it raised.
//!
//! The rating itself, step by step, is the [`worksheet`].

pub mod worksheet;

pub use worksheet::{
    Charge, ChargeKind, Matched, Operation, RateTableRef, Rating, Schedule, ScheduleAdjustment, StepKind, Totals,
    Worksheet, WorksheetError, WorksheetStep,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, ProgramId, QuoteId, SubmissionId};
use crate::submission::LineOfBusiness;

/// Where a quote stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QuoteStatus {
    /// Open to bind until it expires.
    Quoted,
    /// A policy was bound from it.
    Bound,
    /// Replaced by a later quote on the same submission.
    Superseded,
}

/// A quote: a rating of a submission, valid until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    /// Its id.
    pub id: QuoteId,
    /// The org it belongs to.
    pub org_id: OrgId,
    /// The submission it rates.
    pub submission_id: SubmissionId,
    /// The program.
    pub program_id: ProgramId,
    /// The line of business.
    pub line_of_business: LineOfBusiness,
    /// Where it stands.
    pub status: QuoteStatus,
    /// The rating.
    #[serde(flatten)]
    pub rating: Rating,
    /// The pre-bind checks that failed when it was produced; binding re-runs them all.
    #[serde(default)]
    pub flags: Vec<crate::underwriting::checks::Flag>,
    /// When it was produced.
    pub quoted_at: DateTime<Utc>,
    /// When it stops being bindable.
    pub expires_at: DateTime<Utc>,
}

impl Quote {
    /// Marks the quote bound. Only a quoted quote binds: a bound or superseded one is
    /// [`crate::Error::Rule`] `invalid_transition`.
    pub fn mark_bound(&mut self) -> Result<(), crate::Error> {
        if self.status != QuoteStatus::Quoted {
            return Err(crate::Error::Rule {
                code: "invalid_transition",
                message: format!("quote `{}` is {:?} and cannot be bound", self.id, self.status).to_lowercase(),
            });
        }
        self.status = QuoteStatus::Bound;
        Ok(())
    }

    /// True while `now` is before `expires_at`.
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}
