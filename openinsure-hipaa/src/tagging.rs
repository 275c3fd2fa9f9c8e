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

pub use openinsure_core::phi::{FieldKind, FieldSpec, PhiRecord, REDACTED};
