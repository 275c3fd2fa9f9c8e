#![doc = include_str!("../README.md")]

pub mod api;
pub mod app;
pub mod bind;
pub mod bordereaux;
pub mod claims;
pub mod dealrooms;
pub mod dispatch;
pub mod error;
pub mod ledger;
pub mod live;
pub mod notifications;
pub mod policies;
pub mod rates;
pub mod settlements;
#[cfg(not(target_arch = "wasm32"))]
pub mod system;
pub mod underwriting;
pub mod usecases;
pub mod webhooks;

pub use app::{App, Backend, Ports};
pub use error::{Error, Result};

/// The repository README's examples, compiled and run as doctests.
#[cfg(doctest)]
pub mod readme_doctests;
