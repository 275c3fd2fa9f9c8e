//! The error type of the HIPAA crate and of its ports.

use crate::audit::TamperError;

/// What went wrong appending to or reading the PHI audit log, or using an edge cache.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An audit entry draft was refused; nothing was appended.
    #[error("invalid audit entry: `{field}` {reason}")]
    Invalid {
        /// The draft field refused (`table`, `fields`, `at`, ...).
        field: &'static str,
        /// Why, lowercase.
        reason: String,
    },
    /// The audit chain read back does not verify.
    #[error("phi audit log does not verify: {0}")]
    Tamper(#[from] TamperError),
    /// The write raced another one (a backend that detects a lost race instead of serializing);
    /// nothing was written, the caller may retry.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The storage backend failed; nothing was written.
    #[error("storage backend failed: {0}")]
    Backend(String),
    /// The storage backend cannot be reached now; nothing was written.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    /// An invalid draft field.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid { field, reason: reason.into() }
    }
}

impl From<Error> for openinsure_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid { field, reason } => openinsure_core::Error::invalid(field, reason),
            Error::Tamper(t) => openinsure_core::Error::Rule { code: "phi_audit_tampered", message: t.to_string() },
            Error::Conflict(m) => openinsure_core::Error::Conflict(m),
            Error::Backend(m) => openinsure_core::Error::Backend(m),
            Error::Unavailable(m) => openinsure_core::Error::Unavailable(m),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
