//! Layer 1, field tagging: the [`PhiRecord`] trait, implemented by `#[derive(PhiRecord)]`.
//!
//! ```
//! use openinsure_hipaa::{FieldKind, PhiRecord, REDACTED};
//!
//! #[derive(PhiRecord)]
//! #[phi(table = "claims")]
//! struct Claim {
//!     claim_number: String,
//!     #[phi]
//!     claimant_name: String,
//!     #[phi(column = "claimant_dob")]
//!     born_on: Option<String>,
//!     #[phi]
//!     diagnosis_codes: Vec<String>,
//!     #[phi(cleared = "when the review happened, not what was diagnosed")]
//!     diagnosis_reviewed_at: Option<u64>,
//! }
//!
//! assert_eq!(Claim::TABLE, "claims");
//! let columns: Vec<_> = Claim::phi_fields().map(|f| f.column).collect();
//! assert_eq!(columns, ["claimant_name", "claimant_dob", "diagnosis_codes"]);
//! assert!(matches!(Claim::FIELDS[4].kind, FieldKind::Cleared(_)));
//!
//! let mut claim = Claim {
//!     claim_number: "WC-1".into(),
//!     claimant_name: "Jane Roe".into(),
//!     born_on: Some("1980-02-29".into()),
//!     diagnosis_codes: vec!["S52.5".into()],
//!     diagnosis_reviewed_at: Some(1),
//! };
//! claim.redact_phi();
//! assert_eq!(claim.claimant_name, REDACTED);
//! assert_eq!(claim.born_on, None);
//! assert!(claim.diagnosis_codes.is_empty());
//! assert_eq!((claim.claim_number.as_str(), claim.diagnosis_reviewed_at), ("WC-1", Some(1)));
//! ```

/// The value a masked PHI string shows.
pub const REDACTED: &str = "[REDACTED]";

/// Whether a field holds PHI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldKind {
    /// The field holds PHI (`#[phi]`).
    Phi,
    /// The field's name looks like PHI but it is not, for the reason given
    /// (`#[phi(cleared = "...")]`).
    Cleared(&'static str),
    /// An ordinary field.
    Plain,
}

/// One field of a [`PhiRecord`], as the derive saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldSpec {
    /// The Rust field name (without `r#`).
    pub rust_name: &'static str,
    /// The name serde gives it in JSON (after `rename` / `rename_all`).
    pub json_name: &'static str,
    /// The database column (`#[phi(column = "...")]`, else the Rust name).
    pub column: &'static str,
    /// Whether it holds PHI.
    pub kind: FieldKind,
}

impl FieldSpec {
    /// A field spec (used by the derive).
    pub const fn new(rust_name: &'static str, json_name: &'static str, column: &'static str, kind: FieldKind) -> Self {
        FieldSpec { rust_name, json_name, column, kind }
    }

    /// True for a PHI field.
    pub const fn is_phi(&self) -> bool {
        matches!(self.kind, FieldKind::Phi)
    }
}

/// True when any of `fields` holds PHI (usable in `const` items).
pub const fn any_phi(fields: &[FieldSpec]) -> bool {
    let mut i = 0;
    while i < fields.len() {
        if fields[i].is_phi() {
            return true;
        }
        i += 1;
    }
    false
}

/// A record type stored in a table, with its PHI fields tagged. Implement it with
/// `#[derive(PhiRecord)]` (see the [module docs](self)), not by hand: the derive sees every field,
/// so [`phi_lint`](crate::phi_lint) can find a PHI-looking field nobody tagged.
pub trait PhiRecord {
    /// The table the record is stored in (`claims`).
    const TABLE: &'static str;

    /// Every field, PHI or not, in declaration order.
    const FIELDS: &'static [FieldSpec];

    /// True when the record has at least one PHI field.
    const HAS_PHI: bool = any_phi(Self::FIELDS);

    /// Masks every PHI field in place: a field whose type is written `String` becomes
    /// [`REDACTED`], one written `Option<..>` becomes `None`, any other its `Default` (an empty
    /// `Vec`, zero, ...). No PHI value survives; non-PHI fields are untouched.
    fn redact_phi(&mut self);

    /// The PHI fields, in declaration order.
    fn phi_fields() -> impl Iterator<Item = &'static FieldSpec>
    where
        Self: Sized,
    {
        Self::FIELDS.iter().filter(|f| f.is_phi())
    }
}
