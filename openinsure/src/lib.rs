#![doc = include_str!("../README.md")]

pub mod error;
pub mod system;
pub mod usecases;

pub use error::{Error, Result};
pub use usecases::App;

/// The repository README's examples, compiled and run as doctests.
#[cfg(doctest)]
pub mod readme_doctests;
