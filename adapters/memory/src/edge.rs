//! An edge store in memory: what KV or D1 hold on Workers, for one process (tests, demos, and a
//! native host that wants the same code path).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use openinsure_core::clock::Clock;
use openinsure_hipaa::Result;
use openinsure_hipaa::edge::{EdgeBytes, EdgeKey, EdgeStore};

/// A value and when it expires.
type Entry = (Vec<u8>, Option<DateTime<Utc>>);

/// Bytes by key in memory, each gone when its time to live (read on `clock`) has passed.
pub struct MemoryEdgeStore {
    entries: Mutex<HashMap<String, Entry>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MemoryEdgeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryEdgeStore").finish_non_exhaustive()
    }
}

impl MemoryEdgeStore {
    /// An empty store whose times to live run on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryEdgeStore { entries: Mutex::default(), clock }
    }

    /// How many keys it holds, expired ones included until they are read.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl EdgeStore for MemoryEdgeStore {
    async fn get(&self, key: &EdgeKey) -> Result<Option<Vec<u8>>> {
        let now = self.clock.now();
        let mut entries = self.entries();
        match entries.get(key.as_str()) {
            Some((_, Some(expires))) if *expires <= now => {
                entries.remove(key.as_str());
                Ok(None)
            }
            Some((bytes, _)) => Ok(Some(bytes.clone())),
            None => Ok(None),
        }
    }

    async fn put(&self, key: &EdgeKey, value: &EdgeBytes, ttl: Option<Duration>) -> Result<()> {
        let expires = ttl.map(|t| self.clock.now() + t);
        self.entries().insert(key.as_str().to_owned(), (value.as_slice().to_vec(), expires));
        Ok(())
    }

    async fn remove(&self, key: &EdgeKey) -> Result<()> {
        self.entries().remove(key.as_str());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openinsure_core::clock::FixedClock;
    use openinsure_core::ids::OrgId;
    use openinsure_hipaa::edge::EdgeCache;
    use openinsure_hipaa::testkit;

    #[tokio::test]
    async fn conformance() {
        let clock = Arc::new(FixedClock::new(testkit::sample_time()));
        let store: Arc<dyn EdgeStore> = Arc::new(MemoryEdgeStore::new(clock));
        testkit::edge_store(store.clone(), 1).await;
        testkit::edge_store(store, 2).await;
    }

    #[tokio::test]
    async fn a_value_is_gone_when_its_time_to_live_has_passed() {
        let clock = Arc::new(FixedClock::new(testkit::sample_time()));
        let store = Arc::new(MemoryEdgeStore::new(clock.clone()));
        let cache = EdgeCache::<String>::new(store.clone());
        let key = EdgeKey::org(OrgId::from_uuid(testkit::test_uuid(9, 1)), "session").unwrap();
        let kept = EdgeKey::global("kept").unwrap();
        cache.put(&key, &"v".to_owned(), Some(Duration::seconds(60))).await.unwrap();
        cache.put(&kept, &"k".to_owned(), None).await.unwrap();
        clock.advance(Duration::seconds(59));
        assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some("v"));
        clock.advance(Duration::seconds(1));
        assert_eq!(cache.get(&key).await.unwrap(), None, "expired at its time to live");
        assert_eq!(store.len(), 1, "the expired entry is dropped when read");
        clock.advance(Duration::days(400));
        assert_eq!(cache.get(&kept).await.unwrap().as_deref(), Some("k"), "no time to live: kept");
    }
}
