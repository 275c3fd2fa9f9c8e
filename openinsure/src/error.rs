//! The application layer's error: what a host turns into a status code.

use openinsure_core::error::FieldErrors;
use openinsure_rating::RatingError;

/// Why a use case did not complete. Nothing was written when it returns one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No such record in the caller's org (HTTP 404).
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// The kind of record.
        entity: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The caller's role may not do this (HTTP 403).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Conflicting concurrent change or duplicate (HTTP 409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Input fields refused, all of them (HTTP 400).
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    /// A business rule refused the request (HTTP 422).
    #[error("{message}")]
    Rule {
        /// A stable machine-readable code (`no_rate_table`, `submission_not_quotable`, ...).
        code: &'static str,
        /// What happened, for people.
        message: String,
    },
    /// Pre-bind checks failed (HTTP 422); every failing check is listed.
    #[error("pre-bind checks failed: {}", flags.iter().map(|f| f.code.as_str()).collect::<Vec<_>>().join(", "))]
    Checks {
        /// The failed checks.
        flags: Vec<openinsure_core::underwriting::checks::Flag>,
    },
    /// A money id came again for different money (HTTP 409); nothing was written.
    #[error("money id `{id}` was already used for {first_use}; a different movement of money needs a new id")]
    MoneyIdReused {
        /// The id.
        id: uuid::Uuid,
        /// What it was first used for.
        first_use: openinsure_core::money_id::MoneyUse,
    },
    /// A backend failed (HTTP 500/503); nothing was written.
    #[error("backend failure: {0}")]
    Backend(String),
    #[error("backend unavailable: {0}")]
    /// The system of record cannot be reached now; nothing was written (503).
    Unavailable(String),
}

impl From<openinsure_core::Error> for Error {
    fn from(e: openinsure_core::Error) -> Self {
        use openinsure_core::Error as E;
        match e {
            E::NotFound { entity, id } => Error::NotFound { entity, id },
            E::Conflict(m) => Error::Conflict(m),
            E::Forbidden(m) => Error::Forbidden(m),
            E::Invalid(f) => Error::Invalid(f),
            E::Money(m) => Error::Rule { code: "amount_out_of_range", message: m.to_string() },
            E::Backend(m) => Error::Backend(m),
            E::Unavailable(m) => Error::Unavailable(m),
            E::Rule { code, message } => Error::Rule { code, message },
            E::MoneyIdReused { id, first_use } => Error::MoneyIdReused { id, first_use },
            other => Error::Backend(other.to_string()),
        }
    }
}

impl From<FieldErrors> for Error {
    fn from(e: FieldErrors) -> Self {
        Error::Invalid(e)
    }
}

impl From<RatingError> for Error {
    fn from(e: RatingError) -> Self {
        match e {
            RatingError::Invalid { field, reason } => {
                let mut f = FieldErrors::default();
                f.push(field, reason);
                Error::Invalid(f)
            }
            e @ RatingError::NoTableInForce { .. } => Error::Rule { code: "no_rate_table", message: e.to_string() },
            RatingError::Table(f) => Error::Rule { code: "invalid_rate_table", message: f.to_string() },
            other => Error::Rule { code: "rating_failed", message: other.to_string() },
        }
    }
}

/// Results of use cases.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<openinsure_core::billing::BillingError> for Error {
    fn from(e: openinsure_core::billing::BillingError) -> Self {
        Error::from(openinsure_core::Error::from(e))
    }
}

impl From<openinsure_core::money::MoneyError> for Error {
    fn from(e: openinsure_core::money::MoneyError) -> Self {
        Error::Rule { code: "amount_out_of_range", message: e.to_string() }
    }
}
