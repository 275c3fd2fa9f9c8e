//! Underwriting: what may be written, by whom, and the decision to bind.
//!
//! - [`da`]: delegated-authority agreements (the carrier's limits on what the MGA may bind) and
//!   their usage by agreement year;
//! - [`authority`]: the underwriting authority matrix (profiles, assignments, referral rules) and
//!   referrals;
//! - [`checks`]: the pre-bind flags a quote or a bind raises;
//! - [`decision`]: the bind decision as one pure function over a context read once.

pub mod authority;
pub mod checks;
pub mod da;
pub mod decision;
