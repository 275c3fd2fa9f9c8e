//! The error type of the core crate and of every store port.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::money::MoneyError;

/// One invalid input field: where it is and why it was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldError {
    /// JSON path of the field, for example `lossHistory[1].paidCents`.
    pub path: String,
    /// Why it was refused, lowercase, user input in backticks.
    pub reason: String,
}

impl FieldError {
    /// A field error.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError { path: path.into(), reason: reason.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.path, self.reason)
    }
}

/// Every field error of one input, never just the first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// Records an error.
    pub fn push(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError::new(path, reason));
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, the errors otherwise.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.0.is_empty() { Ok(value()) } else { Err(self) }
    }

    /// The errors.
    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// What went wrong in a use case or a store call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No such record in the caller's org (another org's records answer this too).
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// The kind of record (`submission`, `quote`, ...).
        entity: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The write conflicts with the stored state (duplicate id, stale revision, ...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Input fields were refused; every one of them is listed.
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    /// A money computation overflowed.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// A business rule refused the change (no DA capacity left, invalid lifecycle transition, ...).
    #[error("{message}")]
    Rule {
        /// A stable machine-readable code (`da_capacity_exceeded`, `invalid_transition`, ...).
        code: &'static str,
        /// What happened, for people.
        message: String,
    },
    /// A money id came again for different money (another installment, amount, claim or kind);
    /// nothing was written. See [`crate::money_id`].
    #[error("money id `{id}` was already used for {first_use}; a different movement of money needs a new id")]
    MoneyIdReused {
        /// The id.
        id: uuid::Uuid,
        /// What it was first used for.
        first_use: crate::money_id::MoneyUse,
    },
    /// The storage backend failed; nothing was written.
    #[error("storage backend failed: {0}")]
    Backend(String),
    /// The storage backend cannot be reached now (down, or every connection busy); nothing was
    /// written, and the same request may succeed later.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    /// A single invalid field.
    pub fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid(FieldErrors(vec![FieldError::new(path, reason)]))
    }

    /// Not found, for a typed id.
    pub fn not_found(entity: &'static str, id: impl fmt::Display) -> Self {
        Error::NotFound { entity, id: id.to_string() }
    }
}

impl From<FieldErrors> for Error {
    fn from(e: FieldErrors) -> Self {
        Error::Invalid(e)
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
