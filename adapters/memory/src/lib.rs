#![doc = include_str!("../README.md")]

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use openinsure_core::error::{Error, Result};
use openinsure_core::ids::{OrgId, QuoteId, SubmissionId};
use openinsure_core::quote::Quote;
use openinsure_core::store::{Page, QuoteStore, SubmissionStore};
use openinsure_core::submission::Submission;

#[derive(Debug, Default)]
struct Tables {
    submissions: BTreeMap<(OrgId, SubmissionId), Submission>,
    quotes: BTreeMap<(OrgId, QuoteId), Quote>,
}

/// Every store port, in memory. Clones share the same data.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<RwLock<Tables>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    // A panic while holding the lock cannot leave a half-written record: every write below is a
    // single map insert after all checks, so a poisoned lock still guards consistent data.
    fn read(&self) -> RwLockReadGuard<'_, Tables> {
        self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.inner.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn same_org(org: OrgId, record_org: OrgId, entity: &str) -> Result<()> {
    if org == record_org { Ok(()) } else { Err(Error::Forbidden(format!("{entity} belongs to another org"))) }
}

fn page<T: Clone>(items: impl Iterator<Item = T>, page: Page) -> Vec<T> {
    items.skip(page.offset as usize).take(page.limit.min(openinsure_core::store::MAX_PAGE_LIMIT) as usize).collect()
}

#[async_trait]
impl SubmissionStore for MemoryStore {
    async fn insert_submission(&self, org: OrgId, submission: &Submission) -> Result<()> {
        same_org(org, submission.org_id, "submission")?;
        let mut t = self.write();
        let key = (org, submission.id);
        if t.submissions.contains_key(&key) {
            return Err(Error::Conflict(format!("submission `{}` already exists", submission.id)));
        }
        t.submissions.insert(key, submission.clone());
        Ok(())
    }

    async fn get_submission(&self, org: OrgId, id: SubmissionId) -> Result<Submission> {
        self.read().submissions.get(&(org, id)).cloned().ok_or_else(|| Error::not_found("submission", id))
    }

    async fn update_submission(&self, org: OrgId, submission: &Submission) -> Result<Submission> {
        let mut t = self.write();
        let stored = t
            .submissions
            .get_mut(&(org, submission.id))
            .ok_or_else(|| Error::not_found("submission", submission.id))?;
        same_org(org, submission.org_id, "submission")?;
        if stored.revision != submission.revision {
            return Err(Error::Conflict(format!(
                "submission `{}` changed since it was read (revision {} is now {})",
                submission.id, submission.revision, stored.revision
            )));
        }
        let mut next = submission.clone();
        next.revision += 1;
        *stored = next.clone();
        Ok(next)
    }

    async fn list_submissions(&self, org: OrgId, p: Page) -> Result<Vec<Submission>> {
        let t = self.read();
        let range = t.submissions.range((org, SubmissionId::from_uuid(Default::default()))..);
        Ok(page(range.take_while(|((o, _), _)| *o == org).map(|(_, s)| s.clone()), p))
    }
}

#[async_trait]
impl QuoteStore for MemoryStore {
    async fn insert_quote(&self, org: OrgId, quote: &Quote) -> Result<()> {
        same_org(org, quote.org_id, "quote")?;
        let mut t = self.write();
        if t.quotes.contains_key(&(org, quote.id)) {
            return Err(Error::Conflict(format!("quote `{}` already exists", quote.id)));
        }
        t.quotes.insert((org, quote.id), quote.clone());
        Ok(())
    }

    async fn get_quote(&self, org: OrgId, id: QuoteId) -> Result<Quote> {
        self.read().quotes.get(&(org, id)).cloned().ok_or_else(|| Error::not_found("quote", id))
    }

    async fn list_quotes(&self, org: OrgId, submission: SubmissionId) -> Result<Vec<Quote>> {
        let t = self.read();
        let range = t.quotes.range((org, QuoteId::from_uuid(Default::default()))..);
        Ok(range
            .take_while(|((o, _), _)| *o == org)
            .filter(|(_, q)| q.submission_id == submission)
            .map(|(_, q)| q.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openinsure_core::testkit;

    #[tokio::test]
    async fn submission_store_conformance() {
        testkit::submission_store(&MemoryStore::default(), 1).await;
    }

    #[tokio::test]
    async fn quote_store_conformance() {
        testkit::quote_store(&MemoryStore::default(), 1).await;
    }

    #[tokio::test]
    async fn clones_share_data() {
        let a = MemoryStore::default();
        let b = a.clone();
        let org = OrgId::from_uuid(testkit::test_uuid(9, 1));
        let s = testkit::sample_submission(SubmissionId::from_uuid(testkit::test_uuid(9, 2)), org);
        a.insert_submission(org, &s).await.unwrap();
        assert_eq!(b.get_submission(org, s.id).await.unwrap(), s);
    }
}
