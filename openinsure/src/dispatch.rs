//! Delivering domain events from the outbox to subscribers, at least once, never in a loop.
//!
//! [`Dispatcher::run_once`] leases the events due for an attempt, oldest first
//! ([`Outbox::lease_events`], for [`Dispatcher::with_lease`], a minute by default), and hands each
//! to every subscriber: several dispatchers on one database (several `serve` processes) each
//! deliver their own events, none twice while its lease holds. An event is marked delivered only when every subscriber accepted it;
//! subscribers de-duplicate on [`EventEnvelope::id`]. A refused event is retried by the
//! [`RetryPolicy`]: after an exponential backoff with jitter while the failures look transient (a
//! backend down, a timeout), and moved to the dead-letter list with its reason once it has
//! failed too often: after [`RetryPolicy::max_refusals`] attempts when a subscriber refused it
//! outright (a rule, an invalid input: trying again will not help), after
//! [`RetryPolicy::max_attempts`] otherwise. A dead letter is retried only when someone replays it
//! ([`Outbox::replay`]), as a new generation of delivery.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use openinsure_core::clock::{Clock, IdGen};
use openinsure_core::events::{DeliveryFailure, EventEnvelope};
use openinsure_core::store::Outbox;

use crate::error::{Error, Result};

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
    /// Events at least one subscriber refused (left to retry, or dead).
    pub failed: usize,
    /// Of those, events moved to the dead-letter list now.
    pub dead: usize,
}

/// When a refused event is tried again, and when it is given up on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff; each next attempt waits twice as long.
    pub base: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// Attempts before a transiently failing event is dead.
    pub max_attempts: u32,
    /// Attempts before an event a subscriber refuses outright is dead.
    pub max_refusals: u32,
}

impl Default for RetryPolicy {
    /// 1 s doubling to at most an hour; a refusal is dead after 5 attempts, any other failure
    /// after 30 (about a day).
    fn default() -> Self {
        RetryPolicy { base: Duration::seconds(1), max_delay: Duration::hours(1), max_attempts: 30, max_refusals: 5 }
    }
}

impl RetryPolicy {
    /// When attempt `attempts` (1 for the first failure) of `event` is followed by another, or
    /// `None` when the event is dead. The wait is `base * 2^(attempts-1)` capped at `max_delay`,
    /// of which a jitter derived from the event id takes off up to half (so retries of many
    /// events spread out, and a test can predict them).
    pub fn next_attempt(
        &self,
        event: &EventEnvelope,
        attempts: u32,
        refused: bool,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let limit = if refused { self.max_refusals } else { self.max_attempts };
        if attempts >= limit {
            return None;
        }
        let exp = attempts.saturating_sub(1).min(30);
        let full =
            self.base.num_milliseconds().saturating_mul(1i64 << exp).min(self.max_delay.num_milliseconds()).max(0);
        let seed = (event.id.as_u128() as u64) ^ u64::from(attempts).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let jitter = (seed % 1000) as i64; // 0..999 per mille of half the wait
        let wait = full - full / 2 * jitter / 1000;
        Some(now + Duration::milliseconds(wait))
    }
}

/// Whether an error is a refusal that trying again will not change.
fn is_refusal(e: &Error) -> bool {
    matches!(e, Error::Rule { .. } | Error::Invalid(_) | Error::Checks { .. } | Error::MoneyIdReused { .. })
}

/// Moves events from an outbox to subscribers.
#[derive(Clone)]
pub struct Dispatcher {
    outbox: Arc<dyn Outbox>,
    subscribers: Vec<Arc<dyn Subscriber>>,
    batch: u32,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    lease: Duration,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("subscribers", &self.subscribers.iter().map(|s| s.name().to_owned()).collect::<Vec<_>>())
            .field("batch", &self.batch)
            .field("retry", &self.retry)
            .field("lease", &self.lease)
            .finish()
    }
}

impl Dispatcher {
    /// A dispatcher over an outbox, leasing up to 100 events a run for a minute, with the default
    /// [`RetryPolicy`], the system clock and UUIDv7 lease ids (native hosts; on `wasm32` the host
    /// gives both, [`Dispatcher::with_host`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(outbox: Arc<dyn Outbox>) -> Self {
        Dispatcher::with_host(outbox, Arc::new(crate::system::SystemClock), Arc::new(crate::system::UuidV7))
    }

    /// A dispatcher over an outbox on the host's clock and ids, leasing up to 100 events a run
    /// for a minute, with the default [`RetryPolicy`].
    pub fn with_host(outbox: Arc<dyn Outbox>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGen>) -> Self {
        Dispatcher {
            outbox,
            subscribers: Vec::new(),
            batch: 100,
            retry: RetryPolicy::default(),
            clock,
            ids,
            lease: Duration::minutes(1),
        }
    }

    /// Sets how long a run holds the events it leased: longer than a run takes (its subscribers'
    /// timeouts included), or another dispatcher may deliver an event again meanwhile (subscribers
    /// de-duplicate on the event id even so).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::seconds(1));
        self
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

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the clock (a test's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Delivers one batch of the events due now.
    pub async fn run_once(&self) -> Result<DispatchReport> {
        let now = self.clock.now();
        let lease = self.ids.next_uuid();
        let pending = self.outbox.lease_events(now, self.batch, lease, now + self.lease).await?;
        let mut delivered = Vec::new();
        let mut report = DispatchReport::default();
        for event in &pending {
            let mut failure: Option<(Error, bool)> = None;
            for s in &self.subscribers {
                if let Err(e) = s.handle(event).await {
                    let refused = is_refusal(&e);
                    tracing::warn!(subscriber = s.name(), event_id = %event.id, event = event.event.name(), attempt = event.delivery.attempts + 1, error = %e, "delivery failed");
                    if failure.as_ref().is_none_or(|(_, r)| !r) {
                        failure = Some((e, refused));
                    }
                }
            }
            let Some((error, refused)) = failure else {
                delivered.push(event.id);
                report.delivered += 1;
                continue;
            };
            report.failed += 1;
            let attempts = event.delivery.attempts + 1;
            let retry_at = self.retry.next_attempt(event, attempts, refused, now);
            if retry_at.is_none() {
                report.dead += 1;
                tracing::error!(event_id = %event.id, event = event.event.name(), attempts, error = %error, "dead letter: delivery given up");
            }
            let f = DeliveryFailure { reason: error.to_string(), at: now, retry_at };
            self.outbox.record_failure(event.org_id, event.id, &f).await?;
        }
        self.outbox.mark_delivered(&delivered).await?;
        Ok(report)
    }
}

impl crate::App {
    /// The caller's org's dead letters: events the dispatcher gave up on, with why.
    pub async fn dead_letters(
        &self,
        caller: &openinsure_core::tenancy::Caller,
        page: openinsure_core::store::Page,
    ) -> Result<Vec<openinsure_core::events::DeadLetter>> {
        crate::app::require(caller, openinsure_core::permission::Action::ReadLedger)?;
        Ok(self.backend().dead_letters(caller.org_id, page).await?)
    }

    /// Puts a dead event of the caller's org back to be delivered as a new attempt; the ledger
    /// books it once however often it is replayed. 404 for an event the org does not have, 422
    /// `event_not_dead` for one that is not dead; nothing changes then.
    pub async fn replay_event(
        &self,
        caller: &openinsure_core::tenancy::Caller,
        id: openinsure_core::events::EventId,
    ) -> Result<openinsure_core::events::DeadLetter> {
        crate::app::require(caller, openinsure_core::permission::Action::MoveMoney)?;
        let letter = self.backend().replay(caller.org_id, id).await?;
        tracing::info!(event_id = %id, generation = letter.generation + 1, "dead letter replayed");
        Ok(letter)
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
        let clock = Arc::new(openinsure_core::clock::FixedClock::new(policy.bound_at));
        let d = Dispatcher::new(Arc::new(store.clone())).subscribe(recorder.clone()).with_clock(clock.clone());
        let first = d.run_once().await.unwrap();
        assert_eq!(first, DispatchReport { delivered: 2, failed: 1, dead: 0 });
        assert_eq!(d.run_once().await.unwrap(), DispatchReport::default(), "it waits out its backoff");
        clock.advance(chrono::Duration::seconds(1));
        let second = d.run_once().await.unwrap();
        assert_eq!(second, DispatchReport { delivered: 1, failed: 0, dead: 0 }, "the failed one is delivered again");
        assert_eq!(d.run_once().await.unwrap(), DispatchReport::default());
        let seen = recorder.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 4, "three events, one delivered twice");
        assert_eq!(seen[3], events[0].id);
        assert_eq!(store.org_events(org, Page::first()).await.unwrap().len(), 3);
    }

    struct Refuser;

    #[cfg_attr(not(target_arch = "wasm32"), async_trait)]
    #[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
    impl Subscriber for Refuser {
        fn name(&self) -> &str {
            "refuser"
        }
        async fn handle(&self, _: &EventEnvelope) -> Result<()> {
            Err(crate::Error::Rule { code: "ledger_rejected", message: "exceeds_credits".into() })
        }
    }

    #[tokio::test]
    async fn a_refusal_is_retried_a_bounded_number_of_times_then_dead_until_replayed() {
        let store = MemoryStore::default();
        let org = OrgId::from_uuid(testkit::test_uuid(2, 1));
        let quote = testkit::sample_quote(testkit::test_uuid(2, 2).into(), org, testkit::test_uuid(2, 3).into());
        let policy =
            testkit::sample_policy(PolicyId::from_uuid(testkit::test_uuid(2, 4)), org, &quote, "GL-2027-000002");
        let event = EventEnvelope::new(
            testkit::test_uuid(2, 10),
            org,
            policy.bound_at,
            DomainEvent::PolicyIssued { policy_id: policy.id },
        );
        store.insert_policy(org, &policy, None, std::slice::from_ref(&event)).await.unwrap();
        let clock = Arc::new(openinsure_core::clock::FixedClock::new(policy.bound_at));
        let d = Dispatcher::new(Arc::new(store.clone())).subscribe(Arc::new(Refuser)).with_clock(clock.clone());
        let mut runs = 0;
        let mut dead = 0;
        while dead == 0 {
            let r = d.run_once().await.unwrap();
            dead += r.dead;
            runs += r.failed;
            clock.advance(chrono::Duration::hours(1));
            assert!(runs <= 5, "bounded");
        }
        assert_eq!(runs, RetryPolicy::default().max_refusals as usize);
        clock.advance(chrono::Duration::days(30));
        assert_eq!(d.run_once().await.unwrap(), DispatchReport::default(), "a dead letter is not retried");
        let letters = store.dead_letters(org, Page::first()).await.unwrap();
        assert_eq!(letters.len(), 1);
        assert!(letters[0].reason.contains("exceeds_credits"), "{:?}", letters[0]);
        store.replay(org, event.id).await.unwrap();
        assert_eq!(d.run_once().await.unwrap().failed, 1, "replayed, tried again");
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let p = RetryPolicy::default();
        let e = EventEnvelope::new(
            uuid::Uuid::from_u128(77),
            OrgId::from_uuid(uuid::Uuid::from_u128(1)),
            chrono::DateTime::UNIX_EPOCH,
            DomainEvent::PolicyIssued { policy_id: PolicyId::from_uuid(uuid::Uuid::from_u128(2)) },
        );
        let now = chrono::DateTime::UNIX_EPOCH;
        for (attempt, full_ms) in [(1u32, 1_000i64), (2, 2_000), (3, 4_000), (13, 3_600_000), (29, 3_600_000)] {
            let wait = (p.next_attempt(&e, attempt, false, now).unwrap() - now).num_milliseconds();
            assert!(wait > full_ms / 2 && wait <= full_ms, "attempt {attempt}: {wait} ms of {full_ms}");
        }
        assert!(p.next_attempt(&e, 30, false, now).is_none(), "dead after max_attempts");
        assert!(p.next_attempt(&e, 4, true, now).is_some());
        assert!(p.next_attempt(&e, 5, true, now).is_none(), "a refusal is dead sooner");
    }
}
