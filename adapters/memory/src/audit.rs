//! The in-memory PHI audit log (see `openinsure_hipaa::audit`).
//!
//! [`MemoryAuditLog`] keeps one chain per org in a vector, behind one lock: an append reads the
//! org's head, seals the draft against it with [`openinsure_hipaa::audit::seal`] and pushes the
//! entry while holding the write lock, so concurrent appends (from any number of threads and
//! clones) form one chain with no gap and no fork. Like the port, it has no way to change or
//! remove an entry.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use openinsure_core::ids::OrgId;
use openinsure_core::store::{MAX_PAGE_LIMIT, Page};
use openinsure_hipaa::audit::{AuditDraft, AuditEntry, AuditHead, MonthRange, PhiAuditLog, seal};
use openinsure_hipaa::error::Result;

/// The PHI audit log, in memory: append-only, hash-chained per org. Clones share the same log.
#[derive(Clone, Debug, Default)]
pub struct MemoryAuditLog {
    chains: Arc<RwLock<BTreeMap<OrgId, Vec<AuditEntry>>>>,
}

impl MemoryAuditLog {
    /// An empty log.
    pub fn new() -> Self {
        MemoryAuditLog::default()
    }
}

// A poisoned lock still guards consistent chains: an append pushes one fully sealed entry as its
// last step, after everything that can fail.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl PhiAuditLog for MemoryAuditLog {
    async fn append(&self, org: OrgId, draft: &AuditDraft) -> Result<AuditEntry> {
        let mut chains = self.chains.write().unwrap_or_else(PoisonError::into_inner);
        let chain = chains.entry(org).or_default();
        let entry = seal(org, chain.last().map(AuditEntry::head).as_ref(), draft)?;
        chain.push(entry.clone());
        Ok(entry)
    }

    async fn entries(&self, org: OrgId, months: MonthRange, page: Page) -> Result<Vec<AuditEntry>> {
        let chains = self.chains.read().unwrap_or_else(PoisonError::into_inner);
        let Some(chain) = chains.get(&org) else { return Ok(Vec::new()) };
        // `seal` keeps months monotonic along a chain, so a month range is one contiguous run.
        let start = chain.partition_point(|e| e.month < months.first);
        let end = chain.partition_point(|e| e.month <= months.last).max(start);
        let limit = page.limit.min(MAX_PAGE_LIMIT) as usize;
        Ok(chain[start..end].iter().skip(page.offset as usize).take(limit).cloned().collect())
    }

    async fn head(&self, org: OrgId) -> Result<Option<AuditHead>> {
        let chains = self.chains.read().unwrap_or_else(PoisonError::into_inner);
        Ok(chains.get(&org).and_then(|c| c.last()).map(AuditEntry::head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openinsure_hipaa::PhiAuditLogExt;
    use openinsure_hipaa::testkit;

    #[tokio::test]
    async fn conformance() {
        let log = MemoryAuditLog::new();
        testkit::all(&log, 1).await;
        testkit::all(&log, 2).await;
    }

    #[test]
    fn parallel_appends_from_threads() {
        testkit::parallel_appends(&MemoryAuditLog::new(), 2, 8, 50);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_appends_from_tasks() {
        let log = MemoryAuditLog::new();
        let org = OrgId::from_uuid(testkit::test_uuid(3, 1));
        let at = testkit::sample_time();
        let handles: Vec<_> = (0..100u64)
            .map(|n| {
                let log = log.clone();
                tokio::spawn(async move { log.append(org, &testkit::sample_draft(3, n, at)).await })
            })
            .collect();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        assert_eq!(log.verify_chain(org).await.unwrap(), 100);
    }

    #[tokio::test]
    async fn clones_share_the_log() {
        let a = MemoryAuditLog::new();
        let b = a.clone();
        let org = OrgId::from_uuid(testkit::test_uuid(4, 1));
        let e = a.append(org, &testkit::sample_draft(4, 1, testkit::sample_time())).await.unwrap();
        assert_eq!(b.head(org).await.unwrap(), Some(e.head()));
    }
}
