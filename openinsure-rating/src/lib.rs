#![doc = include_str!("../README.md")]

pub mod book;
pub mod engine;
pub mod error;
pub mod table;

pub use book::RateBook;
pub use engine::{LOSS_RATIO_DP, ROUNDING, rate};
pub use error::RatingError;
pub use openinsure_core::quote::{Rating, Schedule, ScheduleAdjustment, Worksheet};
pub use table::RateTable;
