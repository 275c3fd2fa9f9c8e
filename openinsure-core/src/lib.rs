#![doc = include_str!("../README.md")]

// `#[derive(PhiRecord)]` names `::openinsure_core`; this lets it work inside this crate too.
extern crate self as openinsure_core;

pub mod billing;
pub mod claims;
pub mod clock;
pub mod error;
pub mod events;
pub mod geo;
pub mod idempotency;
pub mod ids;
pub mod json;
pub mod money;
pub mod money_id;
pub mod notifications;
pub mod permission;
pub mod phi;
pub mod policy;
pub mod ports;
pub mod quote;
pub mod relationships;
#[cfg(any(test, feature = "testkit"))]
pub mod samples;
pub mod store;
pub mod submission;
pub mod tenancy;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod text;
pub mod underwriting;
pub mod validate;

pub use error::{Error, FieldError, FieldErrors, Result};
pub use money::{Factor, Money, Rounding};
pub use rust_decimal::Decimal;

pub use openinsure_phi_derive::PhiRecord;
