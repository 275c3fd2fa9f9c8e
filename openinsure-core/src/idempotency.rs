//! `Idempotency-Key`: a retried POST gets the first response and causes no second effect.
//!
//! Keys are scoped to the caller (org and user): two users never share a key. A key remembers a
//! fingerprint of the request it was first used with; the same key with a different request is
//! refused. While the first request runs, a retry is told so rather than run twice; a reservation
//! whose request died (a dropped connection, a crash) lapses after a lease, and a first request
//! that failed on the server's side releases its key so the retry runs again. The HTTP rules live
//! in `openinsure::api`; this is the port that keeps the keys.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::error::Result;
use crate::ids::{OrgId, UserId};

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
    pub body: Vec<u8>,
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

/// Where keys and first responses are kept: `openinsure_memory::MemoryIdempotency` in one
/// process, a shared store (the system of record) for hosts with several.
///
/// Contract for adapters, tested by `testkit::idempotency_store`: keys are per scope (org, user,
/// key); a free key is reserved (`Proceed`); while reserved the same fingerprint is `InFlight` and
/// another `Mismatch`; once completed the same fingerprint is `Replay` of the stored response and
/// another `Mismatch`; a reservation older than `lease` is taken over; `release` frees a
/// reservation (never a completed key); a completed key may be forgotten after a retention the
/// adapter documents.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait IdempotencyStore: crate::ports::MaybeSendSync {
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
