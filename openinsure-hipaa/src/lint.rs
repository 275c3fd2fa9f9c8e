//! The PHI lint: a field that looks like PHI by its name must be tagged `#[phi]` or explicitly
//! `#[phi(cleared = "...")]`.
//!
//! Run [`phi_lint`] in a test over every [`PhiRecord`] of the application, so a new field named
//! `claimant_phone` cannot slip in untagged:
//!
//! ```
//! use openinsure_hipaa::{PhiRecord, phi_lint};
//!
//! #[derive(PhiRecord)]
//! #[phi(table = "claims")]
//! struct Claim {
//!     #[phi]
//!     claimant_name: String,
//!     claimant_phone: String, // forgotten
//! }
//!
//! let report = phi_lint::<Claim>().unwrap_err();
//! assert_eq!(report.findings.len(), 1);
//! assert_eq!(report.findings[0].field, "claimant_phone");
//! ```
//!
//! The name test, [`looks_like_phi`], is a `const fn`, so `#[derive(EdgeSafe)]` applies the very
//! same test at compile time.

use std::fmt;

use crate::registry::PHI_FIELDS;
use crate::tagging::{FieldKind, PhiRecord};

/// Name parts (split at `_`, `-`, `.`, lower-to-upper case changes and letter-to-digit changes) that mark a name as PHI,
/// compared whole and case-insensitively.
pub const PHI_NAME_WORDS: [&str; 13] =
    ["name", "names", "dob", "ssn", "mrn", "icd", "cpt", "dx", "rx", "fax", "mobile", "condition", "conditions"];

/// Stems that mark a name as PHI wherever they occur in it, case-insensitively.
pub const PHI_NAME_STEMS: [&str; 15] = [
    "birth",
    "diagnos",
    "procedure",
    "treatment",
    "medical",
    "health",
    "phone",
    "email",
    "address",
    "prescri",
    "medication",
    "patient",
    "socialsecurity",
    "social_security",
    "symptom",
];

/// True when a field name looks like it holds PHI: one of its parts is in [`PHI_NAME_WORDS`]
/// or it contains one of [`PHI_NAME_STEMS`] (`claimant_name`, `dateOfBirth`, `diagnosis_codes`,
/// `ssn`, `mrn`, `claimant_phone`, `email`, `home_address`, `health_conditions`, ...).
pub const fn looks_like_phi(name: &str) -> bool {
    let b = name.as_bytes();
    let mut i = 0;
    while i < PHI_NAME_STEMS.len() {
        if contains_ignore_case(b, PHI_NAME_STEMS[i].as_bytes()) {
            return true;
        }
        i += 1;
    }
    let mut start = 0;
    let mut j = 0;
    while j <= b.len() {
        let sep = j < b.len() && is_separator(b[j]);
        let camel = j < b.len()
            && j > start
            && ((b[j].is_ascii_uppercase() && !b[j - 1].is_ascii_uppercase())
                || (b[j].is_ascii_digit() && b[j - 1].is_ascii_alphabetic()));
        if j == b.len() || sep || camel {
            if j > start && is_phi_word(b, start, j) {
                return true;
            }
            start = if sep { j + 1 } else { j };
        }
        j += 1;
    }
    false
}

const fn is_separator(c: u8) -> bool {
    matches!(c, b'_' | b'-' | b'.' | b' ')
}

const fn is_phi_word(b: &[u8], start: usize, end: usize) -> bool {
    let mut w = 0;
    while w < PHI_NAME_WORDS.len() {
        let word = PHI_NAME_WORDS[w].as_bytes();
        if word.len() == end - start {
            let mut k = 0;
            while k < word.len() && b[start + k].to_ascii_lowercase() == word[k] {
                k += 1;
            }
            if k == word.len() {
                return true;
            }
        }
        w += 1;
    }
    false
}

const fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.len() > haystack.len() {
        return false;
    }
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        let mut k = 0;
        while k < needle.len() && haystack[i + k].to_ascii_lowercase() == needle[k] {
            k += 1;
        }
        if k == needle.len() {
            return true;
        }
        i += 1;
    }
    false
}

/// What is wrong with one field.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LintProblem {
    /// The name (Rust or JSON) looks like PHI and the field is neither tagged nor cleared.
    LooksLikePhi {
        /// The name that matched.
        name: &'static str,
    },
    /// The field's column is in [`PHI_FIELDS`] for this table, but the field is not tagged.
    RegisteredButUntagged {
        /// `table.column`.
        qualified: String,
    },
    /// Two PHI fields claim the same column.
    DuplicateColumn {
        /// The column.
        column: &'static str,
    },
}

/// One field the lint refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintFinding {
    /// The record type.
    pub record: &'static str,
    /// Its table.
    pub table: &'static str,
    /// The Rust field name.
    pub field: &'static str,
    /// What is wrong.
    pub problem: LintProblem,
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}.{}` ({}): ", self.record, self.field, self.table)?;
        match &self.problem {
            LintProblem::LooksLikePhi { name } => write!(
                f,
                "`{name}` looks like phi: tag it `#[phi]` or say why it is not with `#[phi(cleared = \"...\")]`"
            ),
            LintProblem::RegisteredButUntagged { qualified } => {
                write!(f, "`{qualified}` is a registered phi column but the field is not tagged `#[phi]`")
            }
            LintProblem::DuplicateColumn { column } => write!(f, "column `{column}` is claimed by two phi fields"),
        }
    }
}

/// Every finding of one lint run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} field(s) fail the phi lint: {}", .findings.len(), list(.findings))]
pub struct LintReport {
    /// The findings, in field order.
    pub findings: Vec<LintFinding>,
}

fn list(findings: &[LintFinding]) -> String {
    findings.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Checks a record type: every field whose Rust or JSON name looks like PHI ([`looks_like_phi`])
/// or whose column is in [`PHI_FIELDS`] for the record's table must be tagged `#[phi]` or
/// cleared; no two PHI fields may share a column. Cleared fields must not be registered columns.
pub fn phi_lint<T: PhiRecord>() -> Result<(), LintReport> {
    let record = std::any::type_name::<T>();
    let mut findings = Vec::new();
    let mut push = |field: &'static str, problem| {
        findings.push(LintFinding { record, table: T::TABLE, field, problem });
    };
    let mut phi_columns: Vec<&'static str> = Vec::new();
    for f in T::FIELDS {
        let qualified = format!("{}.{}", T::TABLE, f.column);
        let registered = PHI_FIELDS.contains(&qualified.as_str());
        match f.kind {
            FieldKind::Phi => {
                if phi_columns.contains(&f.column) {
                    push(f.rust_name, LintProblem::DuplicateColumn { column: f.column });
                }
                phi_columns.push(f.column);
            }
            _ if registered => push(f.rust_name, LintProblem::RegisteredButUntagged { qualified }),
            FieldKind::Plain => {
                if let Some(name) = [f.rust_name, f.json_name].into_iter().find(|n| looks_like_phi(n)) {
                    push(f.rust_name, LintProblem::LooksLikePhi { name });
                }
            }
            _ => {}
        }
    }
    if findings.is_empty() { Ok(()) } else { Err(LintReport { findings }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_names() {
        for name in [
            "claimant_name",
            "firstName",
            "claimant_dob",
            "dateOfBirth",
            "birthdate",
            "ssn",
            "claimantSsn",
            "SSN",
            "diagnosis_codes",
            "diagnoses",
            "procedure_codes",
            "treatment_notes",
            "medical_record_number",
            "mrn",
            "claimant_phone",
            "phoneNumber",
            "email",
            "claimantEmail",
            "home_address",
            "health_conditions",
            "pre_existing_condition",
            "icd10",
            "icd",
            "rx",
            "prescriptions",
            "patient_id",
        ] {
            assert!(looks_like_phi(name), "{name}");
        }
    }

    #[test]
    fn plain_names() {
        for name in [
            "claim_number",
            "org_id",
            "status",
            "loss_date",
            "amount_cents",
            "nameserver",
            "renamed",
            "adjuster_id",
            "reserve_cents",
            "conditional",
            "",
            "_",
            "x",
        ] {
            assert!(!looks_like_phi(name), "{name}");
        }
    }

    const _: () = assert!(looks_like_phi("claimant_dob") && !looks_like_phi("claim_id"), "usable in const");
}
