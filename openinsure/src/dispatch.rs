//! Delivering domain events from the outbox to subscribers, at least once.
//!
//! [`Dispatcher::run_once`] reads pending events oldest first and hands each to every subscriber.
//! An event is marked delivered only when every subscriber accepted it; otherwise it stays in the
//! outbox and the next run delivers it again, to every subscriber. Delivery is therefore at least
//! once: subscribers de-duplicate on [`EventEnvelope::id`].

use std::sync::Arc;

use async_trait::async_trait;
use openinsure_core::events::EventEnvelope;
use openinsure_core::store::Outbox;

use crate::error::Result;

/// Receives domain events.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait Subscriber: openinsure_core::ports::MaybeSendSync {
    /// A name for logs.
    fn name(&self) -> &str;

    /// Handles one event; an error asks for redelivery (the error says why, for the log).
    async fn handle(&self, event: &EventEnvelope) -> Result<()>;
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Events every subscriber accepted (now marked delivered).
    pub delivered: usize,
    /// Events at least one subscriber refused (left pending).
    pub failed: usize,
}

/// Moves events from an outbox to subscribers.
#[derive(Clone)]
pub struct Dispatcher {
    outbox: Arc<dyn Outbox>,
    subscribers: Vec<Arc<dyn Subscriber>>,
    batch: u32,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("subscribers", &self.subscribers.iter().map(|s| s.name().to_owned()).collect::<Vec<_>>())
            .field("batch", &self.batch)
            .finish()
    }
}

impl Dispatcher {
    /// A dispatcher over an outbox, reading up to 100 events a run.
    pub fn new(outbox: Arc<dyn Outbox>) -> Self {
        Dispatcher { outbox, subscribers: Vec::new(), batch: 100 }
    }

    /// Adds a subscriber.
    pub fn subscribe(mut self, subscriber: Arc<dyn Subscriber>) -> Self {
        self.subscribers.push(subscriber);
        self
    }

    /// Sets how many events one run reads.
    pub fn with_batch(mut self, batch: u32) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Delivers one batch of pending events.
    pub async fn run_once(&self) -> Result<DispatchReport> {
        let pending = self.outbox.pending_events(self.batch).await?;
        let mut delivered = Vec::new();
        let mut report = DispatchReport::default();
        for event in &pending {
            let mut ok = true;
            for s in &self.subscribers {
                if let Err(e) = s.handle(event).await {
                    tracing::warn!(subscriber = s.name(), event_id = %event.id, event = event.event.name(), error = %e, "delivery failed; will retry");
                    ok = false;
                }
            }
            if ok {
                delivered.push(event.id);
                report.delivered += 1;
            } else {
                report.failed += 1;
            }
        }
        self.outbox.mark_delivered(&delivered).await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use openinsure_core::events::DomainEvent;
    use openinsure_core::ids::{OrgId, PolicyId};
    use openinsure_core::store::{Page, PolicyStore};
    use openinsure_core::testkit;
    use openinsure_memory::MemoryStore;

    struct Recorder {
        seen: Mutex<Vec<uuid::Uuid>>,
        fail_first: AtomicUsize,
    }

    #[cfg_attr(not(target_arch = "wasm32"), async_trait)]
    #[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
    impl Subscriber for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }
        async fn handle(&self, event: &EventEnvelope) -> Result<()> {
            self.seen.lock().unwrap().push(event.id);
            if self.fail_first.load(Ordering::SeqCst) > 0 {
                self.fail_first.fetch_sub(1, Ordering::SeqCst);
                return Err(crate::Error::Backend("downstream unavailable".into()));
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn at_least_once_with_retries() {
        let store = MemoryStore::default();
        let org = OrgId::from_uuid(testkit::test_uuid(1, 1));
        let quote = testkit::sample_quote(testkit::test_uuid(1, 2).into(), org, testkit::test_uuid(1, 3).into());
        let policy =
            testkit::sample_policy(PolicyId::from_uuid(testkit::test_uuid(1, 4)), org, &quote, "GL-2027-000001");
        let events: Vec<EventEnvelope> = (0..3)
            .map(|n| {
                EventEnvelope::new(
                    testkit::test_uuid(1, 10 + n),
                    org,
                    policy.bound_at,
                    DomainEvent::PolicyIssued { policy_id: policy.id },
                )
            })
            .collect();
        store.insert_policy(org, &policy, None, &events).await.unwrap();

        let recorder = Arc::new(Recorder { seen: Mutex::new(vec![]), fail_first: AtomicUsize::new(1) });
        let d = Dispatcher::new(Arc::new(store.clone())).subscribe(recorder.clone());
        let first = d.run_once().await.unwrap();
        assert_eq!(first, DispatchReport { delivered: 2, failed: 1 });
        let second = d.run_once().await.unwrap();
        assert_eq!(second, DispatchReport { delivered: 1, failed: 0 }, "the failed one is delivered again");
        assert_eq!(d.run_once().await.unwrap(), DispatchReport::default());
        let seen = recorder.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 4, "three events, one delivered twice");
        assert_eq!(seen[3], events[0].id);
        assert_eq!(store.org_events(org, Page::first()).await.unwrap().len(), 3);
    }
}
