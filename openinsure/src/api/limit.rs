//! Rate limiting per caller: a token bucket in integer nanotokens (no floating point), on the
//! application's clock, so tests drive it with a fixed clock.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use openinsure_core::ids::UserId;

/// How many requests a caller may make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: u32,
    /// How many may arrive at once after a quiet spell.
    pub burst: u32,
}

const NANOS: i128 = 1_000_000_000;

#[derive(Debug)]
struct Bucket {
    /// Tokens times 10^9.
    nanotokens: i128,
    last: DateTime<Utc>,
}

/// Token buckets by user.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<UserId, Bucket>>,
}

impl RateLimiter {
    /// A limiter with `limit` for every caller.
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter { limit, buckets: Mutex::default() }
    }

    /// Takes one token for `user` at `now`; when none is left, the whole seconds to wait.
    pub fn check(&self, user: UserId, now: DateTime<Utc>) -> Result<(), u64> {
        let rate = i128::from(self.limit.per_second.max(1));
        let capacity = i128::from(self.limit.burst.max(1)) * NANOS;
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        let bucket = buckets.entry(user).or_insert(Bucket { nanotokens: capacity, last: now });
        let elapsed = (now - bucket.last).num_nanoseconds().map_or(i128::MAX / rate, i128::from).max(0);
        // elapsed seconds times rate tokens per second, in nanotokens: elapsed_ns * rate
        bucket.nanotokens = bucket.nanotokens.saturating_add(elapsed.saturating_mul(rate)).min(capacity);
        bucket.last = bucket.last.max(now);
        if bucket.nanotokens >= NANOS {
            bucket.nanotokens -= NANOS;
            return Ok(());
        }
        // time until one whole token, rounded up to whole seconds (at least one)
        let missing = NANOS - bucket.nanotokens;
        let wait_ns = (missing + rate - 1) / rate;
        let secs = (wait_ns + NANOS - 1) / NANOS;
        Err(u64::try_from(secs.max(1)).unwrap_or(u64::MAX))
    }
}

/// What limits the API's callers: the in-process [`RateLimiter`] natively, a limiter shared by
/// every isolate on Workers (Cloudflare's rate limiting binding). The API asks it once per
/// authenticated request, after the role check.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Limiter: openinsure_core::ports::MaybeSendSync {
    /// Takes one request of `user`'s allowance at `now`; when none is left, the whole seconds to
    /// wait (the response's `Retry-After`).
    async fn take(&self, user: UserId, now: DateTime<Utc>) -> Result<(), u64>;
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Limiter for RateLimiter {
    async fn take(&self, user: UserId, now: DateTime<Utc>) -> Result<(), u64> {
        self.check(user, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use uuid::Uuid;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(RateLimit { per_second: 2, burst: 3 });
        let user = UserId::from_uuid(Uuid::from_u128(7));
        let other = UserId::from_uuid(Uuid::from_u128(8));
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.check(user, t0), Ok(()));
        }
        assert_eq!(limiter.check(user, t0), Err(1));
        assert_eq!(limiter.check(other, t0), Ok(()), "buckets are per caller");
        // half a second at 2/s is one token
        assert_eq!(limiter.check(user, t0 + Duration::milliseconds(500)), Ok(()));
        assert_eq!(limiter.check(user, t0 + Duration::milliseconds(500)), Err(1));
        // a long pause refills to the burst, not beyond
        let later = t0 + Duration::hours(1);
        for _ in 0..3 {
            assert_eq!(limiter.check(user, later), Ok(()));
        }
        assert!(limiter.check(user, later).is_err());
    }

    #[test]
    fn retry_after_covers_a_slow_rate() {
        let limiter = RateLimiter::new(RateLimit { per_second: 1, burst: 1 });
        let user = UserId::from_uuid(Uuid::from_u128(7));
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(limiter.check(user, t0), Ok(()));
        assert_eq!(limiter.check(user, t0 + Duration::milliseconds(100)), Err(1));
        assert_eq!(limiter.check(user, t0 + Duration::milliseconds(1000)), Ok(()));
    }
}
