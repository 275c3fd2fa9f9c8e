//! Field tagging (HIPAA layer 1): the [`PhiRecord`] trait, implemented by
//! `#[derive(PhiRecord)]` from `openinsure-phi-derive` (re-exported here and by `openinsure-hipaa`).
//!
//! The trait lives here, with the domain types, so that a type that carries PHI declares it where
//! it is defined: the claim in [`crate::claims`] derives it. The access matrix, redaction and the
//! audit log that use it are in `openinsure-hipaa`.

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
/// so `openinsure_hipaa::phi_lint` can find a PHI-looking field nobody tagged.
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
