#![doc = include_str!("../README.md")]

// The derives name `::openinsure_hipaa`; this lets them work inside this crate too.
extern crate self as openinsure_hipaa;

pub mod access;
pub mod audit;
pub mod edge;
pub mod error;
pub mod lint;
pub mod log;
pub mod platform_records;
pub mod redact;
pub mod registry;
pub mod tagging;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use access::{AccessContext, Decision, PhiAccess, ReasonCode, decide};
pub use audit::{
    AuditAction, AuditDraft, AuditEntry, AuditHash, AuditHead, AuditMonth, MonthRange, PhiAuditLog, PhiAuditLogExt,
    TamperError, verify,
};
pub use edge::{EdgeBytes, EdgeCache, EdgeKey, EdgeSafe, EdgeStore};
pub use error::{Error, Result};
pub use lint::{LintFinding, LintProblem, LintReport, looks_like_phi, phi_lint};
pub use log::{LogSafe, for_log};
pub use openinsure_phi_derive::{EdgeSafe, PhiRecord};
pub use redact::{Disclosure, disclose, redact, redact_json};
pub use registry::{PHI_FIELDS, PhiField, Registry};
pub use tagging::{FieldKind, FieldSpec, PhiRecord, REDACTED};

/// Items the derive macros expand to. Not part of the public API: do not use or implement them by
/// hand.
#[doc(hidden)]
pub mod __private {
    /// The seal of [`EdgeSafe`](crate::EdgeSafe): implemented by this crate and by
    /// `#[derive(EdgeSafe)]`, which refuses types that may carry PHI.
    pub trait Sealed {}
}
