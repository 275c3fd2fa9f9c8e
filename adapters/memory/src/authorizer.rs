//! Relation tuples in memory, checked by [`openinsure_core::relationships::decide`].

use std::collections::BTreeSet;
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use openinsure_core::error::Result;
use openinsure_core::relationships::{Authorizer, AuthzRequest, Decision, Tuple, decide};

/// An in-process relationship store: every tuple in one ordered set, every check by the core's
/// pure [`decide`]. An empty store denies every check.
#[derive(Debug, Default)]
pub struct MemoryAuthorizer {
    tuples: RwLock<BTreeSet<Tuple>>,
}

impl MemoryAuthorizer {
    /// An empty store.
    pub fn new() -> Self {
        MemoryAuthorizer::default()
    }

    /// Writes a tuple (idempotent).
    pub fn write(&self, tuple: Tuple) {
        self.tuples.write().unwrap_or_else(PoisonError::into_inner).insert(tuple);
    }

    /// Deletes a tuple.
    pub fn delete(&self, tuple: &Tuple) {
        self.tuples.write().unwrap_or_else(PoisonError::into_inner).remove(tuple);
    }

    /// Every tuple, in order.
    pub fn tuples(&self) -> Vec<Tuple> {
        self.tuples.read().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Authorizer for MemoryAuthorizer {
    async fn check(&self, request: &AuthzRequest) -> Result<Decision> {
        Ok(decide(&self.tuples.read().unwrap_or_else(PoisonError::into_inner), request))
    }

    async fn write_relationships(&self, writes: &[Tuple], deletes: &[Tuple]) -> Result<()> {
        let mut set = self.tuples.write().unwrap_or_else(PoisonError::into_inner);
        for t in deletes {
            set.remove(t);
        }
        set.extend(writes.iter().cloned());
        Ok(())
    }
}
