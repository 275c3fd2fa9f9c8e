//! Domain events on a Cloudflare Queue, as the seed's platform sends them.
//!
//! The outbox's dispatcher (after each response, in `waitUntil`) delivers every pending event to
//! the queue `EVENTS`, as JSON text; the queue's consumer (this Worker's `queue` handler) hands
//! each to the same subscribers as the native dispatcher's (the ledger). A subscriber's failure
//! retries the message after a delay; the queue's `max_retries` and dead-letter queue bound it
//! (`wrangler.toml`).

use openinsure::Error;
use openinsure::dispatch::Subscriber;
use openinsure_core::events::EventEnvelope;
use worker::{MessageBatch, MessageExt as _, Queue, QueueRetryOptionsBuilder};

use crate::host::Host;

/// Sends each event to the queue (the dispatcher's one subscriber on Workers).
pub struct ToQueue(pub Queue);

#[async_trait::async_trait(?Send)]
impl Subscriber for ToQueue {
    fn name(&self) -> &str {
        "queue"
    }

    async fn handle(&self, event: &EventEnvelope) -> openinsure::Result<()> {
        let body = serde_json::to_string(event).map_err(|e| Error::Backend(format!("event: {e}")))?;
        self.0.send(body).await.map_err(|e| Error::Unavailable(format!("queue: {e}")))
    }
}

/// Seconds before a message whose delivery failed is tried again.
const RETRY_DELAY_SECS: u32 = 5;

/// The consumer: every event of the batch to every subscriber; acknowledged when all took it.
pub async fn consume(host: &Host, batch: MessageBatch<String>) -> worker::Result<()> {
    for message in batch.messages()? {
        let event: EventEnvelope = match serde_json::from_str(message.body()) {
            Ok(e) => e,
            Err(e) => {
                // not ours to read: retrying will not help; the dead-letter queue keeps it
                worker::console_error!("event {}: does not read: {e}", message.id());
                message.retry();
                continue;
            }
        };
        let mut failed = false;
        for subscriber in &host.subscribers {
            if let Err(e) = subscriber.handle(&event).await {
                worker::console_error!("event {} to {}: {e}", event.id, subscriber.name());
                failed = true;
            }
        }
        if failed {
            message.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(RETRY_DELAY_SECS).build());
        } else {
            message.ack();
        }
    }
    Ok(())
}
