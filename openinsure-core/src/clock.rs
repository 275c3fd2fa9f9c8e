//! Time and identity as ports: domain code reads no clock and draws no random numbers.
//!
//! Use cases take a [`Clock`] and an [`IdGen`]; hosts pass real ones (the `openinsure` crate has
//! the system clock and UUIDv7 generator), tests pass [`FixedClock`] and [`SequentialIds`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// Tells the time.
pub trait Clock: crate::ports::MaybeSendSync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// Mints unique ids.
pub trait IdGen: crate::ports::MaybeSendSync {
    /// A new UUID, never returned before by this generator.
    fn next_uuid(&self) -> Uuid;

    /// 32 bytes for a secret (a webhook endpoint's signing key): from the operating system's
    /// cryptographically secure generator in every host's implementation.
    fn secret_bytes(&self) -> [u8; 32];
}

impl dyn IdGen + '_ {
    /// A new typed id.
    pub fn next_id<T: From<Uuid>>(&self) -> T {
        T::from(self.next_uuid())
    }
}

/// A clock that says what it is told: for tests, demos and replays.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    /// A clock stopped at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        FixedClock(Mutex::new(at))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *t += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Deterministic ids: a fixed 64-bit prefix and a counter, for tests and reproducible demos.
#[derive(Debug)]
pub struct SequentialIds {
    prefix: u64,
    next: AtomicU64,
}

impl SequentialIds {
    /// Ids `prefix:1`, `prefix:2`, ... (the prefix keeps two generators apart).
    pub fn new(prefix: u64) -> Self {
        SequentialIds { prefix, next: AtomicU64::new(1) }
    }
}

impl IdGen for SequentialIds {
    fn next_uuid(&self) -> Uuid {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Uuid::from_u64_pair(self.prefix, n)
    }

    /// Predictable, as everything of this generator (tests and demos only): the next id's
    /// bytes twice.
    fn secret_bytes(&self) -> [u8; 32] {
        let id = *self.next_uuid().as_bytes();
        let mut out = [0u8; 32];
        out[..16].copy_from_slice(&id);
        out[16..].copy_from_slice(&id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::QuoteId;
    use chrono::TimeZone;

    #[test]
    fn fixed_clock_and_sequential_ids() {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let c = FixedClock::new(t);
        c.advance(Duration::days(1));
        assert_eq!(c.now(), t + Duration::days(1));
        let ids = SequentialIds::new(7);
        let g: &dyn IdGen = &ids;
        let a: QuoteId = g.next_id();
        let b: QuoteId = g.next_id();
        assert_ne!(a, b);
    }
}
