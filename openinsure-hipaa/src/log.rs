//! PHI never reaches a log line: render records for logs with [`for_log`].
//!
//! [`LogSafe`] serializes the record to JSON and masks every PHI field of the record's type (by
//! JSON name and column, at any depth) before writing it, whoever is logged in; use it as a
//! `tracing` field value (`tracing::info!(claim = %for_log(&claim), "claim loaded")`) or in any
//! `format!`.
//!
//! ```
//! use openinsure_hipaa::{PhiRecord, for_log};
//! use serde::Serialize;
//!
//! #[derive(Serialize, PhiRecord)]
//! #[serde(rename_all = "camelCase")]
//! #[phi(table = "claims")]
//! struct Claim {
//!     claim_number: String,
//!     #[phi]
//!     claimant_name: String,
//! }
//!
//! let claim = Claim { claim_number: "WC-1".into(), claimant_name: "Jane Roe".into() };
//! assert_eq!(for_log(&claim).to_string(), r#"{"claimNumber":"WC-1","claimantName":"[REDACTED]"}"#);
//! ```

use std::fmt;

use serde::Serialize;

use crate::redact::mask_keys;
use crate::tagging::PhiRecord;

/// A record rendered for logs, PHI masked. Made by [`for_log`].
pub struct LogSafe<'a, T: ?Sized>(&'a T);

/// Wraps `record` so that its `Display` and `Debug` show it as JSON with every PHI field masked.
pub fn for_log<T: PhiRecord + Serialize>(record: &T) -> LogSafe<'_, T> {
    LogSafe(record)
}

impl<T: PhiRecord + Serialize> LogSafe<'_, T> {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_value(self.0) {
            Ok(mut value) => {
                mask_keys(&mut value, |key| {
                    T::phi_fields().find(|p| p.json_name == key || p.column == key).map(|p| p.column.to_owned())
                });
                write!(f, "{value}")
            }
            Err(_) => write!(f, "<unserializable `{}`>", std::any::type_name::<T>()),
        }
    }
}

impl<T: PhiRecord + Serialize> fmt::Display for LogSafe<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f)
    }
}

impl<T: PhiRecord + Serialize> fmt::Debug for LogSafe<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f)
    }
}
