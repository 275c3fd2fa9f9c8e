//! `Idempotency-Key`: a retried POST gets the first response and causes no second effect.
//!
//! Keys are scoped to the caller (org and user): two users never share a key. A key remembers a
//! fingerprint of the request it was first used with (method, path, query and body); the same key
//! with a different request is refused. While the first request runs, a retry is told so (`409`)
//! rather than run twice; a reservation whose request died (a dropped connection, a crash) lapses
//! after a lease, and a first request that failed on the server's side (5xx) releases its key so
//! the retry runs again.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use openinsure_core::ids::{OrgId, UserId};

use crate::error::{Error, Result};

/// Whose key it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyScope {
    /// The caller's org.
    pub org: OrgId,
    /// The caller.
    pub user: UserId,
    /// The client's key.
    pub key: String,
}

/// A stored first response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// Its status code.
    pub status: u16,
    /// Its body.
    pub body: Bytes,
}

/// What a key holds when a request arrives with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// The key was free and is now reserved for this request: run it.
    Proceed,
    /// The same request completed before: answer with its response.
    Replay(StoredResponse),
    /// The same request is still running.
    InFlight,
    /// The key was used with a different request.
    Mismatch,
}

/// Where keys and first responses are kept. One small port: the memory implementation below, or
/// a shared store for hosts with several processes.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait IdempotencyStore: openinsure_core::ports::MaybeSendSync {
    /// Reserves the key for a request with `fingerprint`, unless it is already taken.
    /// A reservation older than `lease` is taken over.
    async fn begin(
        &self,
        scope: &IdempotencyScope,
        fingerprint: [u8; 32],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Begin>;

    /// Stores the response of the request that holds the reservation.
    async fn complete(&self, scope: &IdempotencyScope, response: StoredResponse, now: DateTime<Utc>) -> Result<()>;

    /// Frees the key (the request failed on the server's side and may be retried).
    async fn release(&self, scope: &IdempotencyScope) -> Result<()>;
}

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

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<IdempotencyScope, Entry>>> {
        self.entries.lock().map_err(|_| Error::Backend("idempotency store lock poisoned".into()))
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
        let mut entries = self.lock()?;
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
        if let Some(entry) = self.lock()?.get_mut(scope) {
            entry.state = State::Done { response, at: now };
        }
        Ok(())
    }

    async fn release(&self, scope: &IdempotencyScope) -> Result<()> {
        let mut entries = self.lock()?;
        if matches!(entries.get(scope), Some(Entry { state: State::Running { .. }, .. })) {
            entries.remove(scope);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn scope(key: &str) -> IdempotencyScope {
        IdempotencyScope {
            org: OrgId::from_uuid(Uuid::from_u128(1)),
            user: UserId::from_uuid(Uuid::from_u128(2)),
            key: key.into(),
        }
    }

    #[tokio::test]
    async fn a_key_replays_refuses_other_requests_and_lapses() {
        let store = MemoryIdempotency::with_retention(Duration::hours(1));
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let lease = Duration::seconds(60);
        let k = scope("k");
        assert_eq!(store.begin(&k, [1; 32], t0, lease).await.unwrap(), Begin::Proceed);
        assert_eq!(store.begin(&k, [1; 32], t0, lease).await.unwrap(), Begin::InFlight);
        assert_eq!(store.begin(&k, [2; 32], t0, lease).await.unwrap(), Begin::Mismatch);
        let response = StoredResponse { status: 201, body: Bytes::from_static(b"{}") };
        store.complete(&k, response.clone(), t0).await.unwrap();
        assert_eq!(store.begin(&k, [1; 32], t0, lease).await.unwrap(), Begin::Replay(response));
        assert_eq!(store.begin(&k, [2; 32], t0, lease).await.unwrap(), Begin::Mismatch);
        // another user's key of the same name is another key
        let mut other = scope("k");
        other.user = UserId::from_uuid(Uuid::from_u128(3));
        assert_eq!(store.begin(&other, [2; 32], t0, lease).await.unwrap(), Begin::Proceed);
        // retention over: the key is free again
        let later = t0 + Duration::hours(2);
        assert_eq!(store.begin(&k, [2; 32], later, lease).await.unwrap(), Begin::Proceed);
    }

    #[tokio::test]
    async fn a_released_or_abandoned_reservation_can_be_taken() {
        let store = MemoryIdempotency::default();
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let lease = Duration::seconds(60);
        let k = scope("k");
        assert_eq!(store.begin(&k, [1; 32], t0, lease).await.unwrap(), Begin::Proceed);
        store.release(&k).await.unwrap();
        assert_eq!(store.begin(&k, [1; 32], t0, lease).await.unwrap(), Begin::Proceed);
        assert_eq!(store.begin(&k, [1; 32], t0 + Duration::seconds(59), lease).await.unwrap(), Begin::InFlight);
        assert_eq!(store.begin(&k, [1; 32], t0 + Duration::seconds(61), lease).await.unwrap(), Begin::Proceed);
        assert_eq!(store.len(), 1);
    }
}
