//! Idempotency keys in memory, for one process.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use openinsure_core::error::Result;
use openinsure_core::idempotency::{Begin, IdempotencyScope, IdempotencyStore, StoredResponse};

#[derive(Debug)]
enum State {
    Running { since: DateTime<Utc> },
    Done { response: StoredResponse, at: DateTime<Utc> },
}

#[derive(Debug)]
struct Entry {
    fingerprint: [u8; 32],
    state: State,
}

/// Keys in memory, forgotten `retention` after their response (24 hours by default).
#[derive(Debug)]
pub struct MemoryIdempotency {
    entries: Mutex<HashMap<IdempotencyScope, Entry>>,
    retention: Duration,
}

impl Default for MemoryIdempotency {
    fn default() -> Self {
        MemoryIdempotency { entries: Mutex::default(), retention: Duration::hours(24) }
    }
}

impl MemoryIdempotency {
    /// Keys kept for `retention` after their response.
    pub fn with_retention(retention: Duration) -> Self {
        MemoryIdempotency { entries: Mutex::default(), retention }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IdempotencyScope, Entry>> {
        // every write below is one map operation after all checks: a poisoned lock still guards
        // consistent data
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl IdempotencyStore for MemoryIdempotency {
    async fn begin(
        &self,
        scope: &IdempotencyScope,
        fingerprint: [u8; 32],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Begin> {
        let mut entries = self.lock();
        if entries.len() >= 4096 && entries.len().is_power_of_two() {
            let retention = self.retention;
            entries.retain(|_, e| match &e.state {
                State::Done { at, .. } => now - *at < retention,
                State::Running { since } => now - *since < lease,
            });
        }
        let fresh = Entry { fingerprint, state: State::Running { since: now } };
        let Some(entry) = entries.get_mut(scope) else {
            entries.insert(scope.clone(), fresh);
            return Ok(Begin::Proceed);
        };
        let expired = match &entry.state {
            State::Done { at, .. } => now - *at >= self.retention,
            State::Running { since } => now - *since >= lease,
        };
        if expired {
            *entry = fresh;
            return Ok(Begin::Proceed);
        }
        if entry.fingerprint != fingerprint {
            return Ok(Begin::Mismatch);
        }
        Ok(match &entry.state {
            State::Done { response, .. } => Begin::Replay(response.clone()),
            State::Running { .. } => Begin::InFlight,
        })
    }

    async fn complete(&self, scope: &IdempotencyScope, response: StoredResponse, now: DateTime<Utc>) -> Result<()> {
        if let Some(entry) = self.lock().get_mut(scope) {
            entry.state = State::Done { response, at: now };
        }
        Ok(())
    }

    async fn release(&self, scope: &IdempotencyScope) -> Result<()> {
        let mut entries = self.lock();
        if matches!(entries.get(scope), Some(Entry { state: State::Running { .. }, .. })) {
            entries.remove(scope);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_forgotten_after_the_retention() {
        let store = MemoryIdempotency::with_retention(Duration::hours(1));
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let lease = Duration::seconds(60);
        let k = IdempotencyScope {
            org: openinsure_core::ids::OrgId::from_uuid(uuid::Uuid::from_u128(1)),
            user: openinsure_core::ids::UserId::from_uuid(uuid::Uuid::from_u128(2)),
            key: "k".into(),
        };
        assert_eq!(store.begin(&k, [1; 32], t0, lease).await.unwrap(), Begin::Proceed);
        store.complete(&k, StoredResponse { status: 201, body: b"{}".to_vec() }, t0).await.unwrap();
        assert_eq!(store.begin(&k, [2; 32], t0 + Duration::minutes(59), lease).await.unwrap(), Begin::Mismatch);
        assert_eq!(store.begin(&k, [2; 32], t0 + Duration::hours(2), lease).await.unwrap(), Begin::Proceed);
        assert_eq!(store.len(), 1);
    }
}
