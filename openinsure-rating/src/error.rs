//! Rating errors.

use openinsure_core::error::FieldErrors;
use openinsure_core::money::MoneyError;

/// Why a submission could not be rated, or a table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RatingError {
    /// A submission or schedule field, or what the table holds for it, does not allow rating.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The field (`riskState`, `annualPayrollCents`, `schedule.adjustments[1].reasonCode`,
        /// `rateTable.baseRates`).
        field: String,
        /// Why.
        reason: String,
    },
    /// The rate table itself is invalid; every problem is listed.
    #[error("invalid rate table: {0}")]
    Table(FieldErrors),
    /// No table version is in force for the line, program and date.
    #[error("no rate table for `{line_of_business}` program `{program_id}` in force on {date}")]
    NoTableInForce {
        /// The line of business.
        line_of_business: String,
        /// The program.
        program_id: String,
        /// The effective date asked for.
        date: String,
    },
    /// An amount overflowed.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl RatingError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        RatingError::Invalid { field: field.into(), reason: reason.into() }
    }
}
