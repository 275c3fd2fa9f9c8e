//! The real clock and id generator, for hosts.

use chrono::{DateTime, Utc};
use openinsure_core::clock::{Clock, IdGen};
use uuid::Uuid;

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// UUIDv7 ids: time-ordered, random in the low bits.
#[derive(Clone, Copy, Debug, Default)]
pub struct UuidV7;

impl IdGen for UuidV7 {
    fn next_uuid(&self) -> Uuid {
        Uuid::now_v7()
    }

    fn secret_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // the operating system's generator does not fail on a supported platform; were it to,
        // no secret is better than a guessable one
        #[allow(clippy::expect_used, reason = "see above")]
        getrandom::fill(&mut out).expect("the operating system's random generator");
        out
    }
}
