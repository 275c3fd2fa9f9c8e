#![doc = include_str!("../README.md")]

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_trait::async_trait;
use openinsure::dispatch::Subscriber;
use openinsure_core::events::EventEnvelope;
use tokio::sync::OnceCell;

/// Where events go and how long a publish may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JetStreamOptions {
    /// The stream's name (`OPENINSURE_EVENTS`).
    pub stream: String,
    /// The subjects' prefix (`openinsure.events`): each event goes to
    /// `<prefix>.<org id>.<event type>`, so `openinsure.events.<org>.>` is one org's events and
    /// `openinsure.events.*.policy.bound` one type's.
    pub subject_prefix: String,
    /// How long JetStream remembers a message id (its de-duplication window; 2 minutes by
    /// default, as the server's). A retry after a lost acknowledgement inside it is dropped by
    /// the server, not stored twice.
    pub duplicate_window: Duration,
    /// How long one publish may wait for the server's acknowledgement before it counts as failed
    /// (the outbox then retries it).
    pub ack_timeout: Duration,
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        JetStreamOptions {
            stream: "OPENINSURE_EVENTS".into(),
            subject_prefix: "openinsure.events".into(),
            duplicate_window: Duration::from_secs(120),
            ack_timeout: Duration::from_secs(5),
        }
    }
}

/// The outbox's events, published to a JetStream stream with the event id as the message id
/// (`Nats-Msg-Id`), so the server stores each event once however often it is sent within the
/// duplicate window. A [`Subscriber`] of the outbox dispatcher: an event is marked delivered
/// only when the server acknowledged it, and retried with the outbox's backoff when it did not.
pub struct JetStreamPublisher {
    context: jetstream::Context,
    options: JetStreamOptions,
    stream_ready: OnceCell<()>,
}

impl std::fmt::Debug for JetStreamPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamPublisher").field("options", &self.options).finish_non_exhaustive()
    }
}

impl JetStreamPublisher {
    /// Connects to the NATS server at `url` (`nats://127.0.0.1:4222`). An unreachable server is
    /// not an error here: the client keeps reconnecting, and events wait in the outbox meanwhile.
    pub async fn connect(url: &str, options: JetStreamOptions) -> Result<Self, async_nats::ConnectError> {
        let client =
            async_nats::ConnectOptions::new().name("openinsure").retry_on_initial_connect().connect(url).await?;
        Ok(JetStreamPublisher::new(client, options))
    }

    /// Publishes through an existing client.
    pub fn new(client: async_nats::Client, options: JetStreamOptions) -> Self {
        let context = jetstream::new(client);
        JetStreamPublisher { context, options, stream_ready: OnceCell::new() }
    }

    /// The JetStream context (to read the stream back, in tests and tools).
    pub fn context(&self) -> &jetstream::Context {
        &self.context
    }

    /// The subject an event goes to.
    pub fn subject(&self, event: &EventEnvelope) -> String {
        format!("{}.{}.{}", self.options.subject_prefix, event.org_id, event.event.name())
    }

    /// Creates the stream unless it exists (once per publisher, retried until it worked).
    async fn ensure_stream(&self) -> openinsure::Result<()> {
        self.stream_ready
            .get_or_try_init(|| async {
                let config = stream::Config {
                    name: self.options.stream.clone(),
                    subjects: vec![format!("{}.>", self.options.subject_prefix)],
                    duplicate_window: self.options.duplicate_window,
                    storage: stream::StorageType::File,
                    ..stream::Config::default()
                };
                let call = self.context.get_or_create_stream(config);
                match tokio::time::timeout(self.options.ack_timeout, call).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(unavailable("creating the stream", e)),
                    Err(_) => Err(unavailable("creating the stream", "timed out")),
                }
            })
            .await
            .map(|_| ())
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> openinsure::Error {
    openinsure::Error::Unavailable(format!("nats: {what}: {e}"))
}

#[async_trait]
impl Subscriber for JetStreamPublisher {
    fn name(&self) -> &str {
        "nats-jetstream"
    }

    async fn handle(&self, event: &EventEnvelope) -> openinsure::Result<()> {
        self.ensure_stream().await?;
        let payload =
            serde_json::to_vec(event).map_err(|e| openinsure::Error::Backend(format!("event payload: {e}")))?;
        let publish =
            jetstream::message::PublishMessage::build().message_id(event.id.to_string()).payload(payload.into());
        let subject = self.subject(event);
        let sent = async {
            let ack = self.context.send_publish(subject, publish).await.map_err(|e| unavailable("publish", e))?;
            ack.await.map_err(|e| unavailable("acknowledgement", e))
        };
        let ack = tokio::time::timeout(self.options.ack_timeout, sent)
            .await
            .map_err(|_| unavailable("acknowledgement", "timed out"))??;
        if ack.duplicate {
            tracing::debug!(event_id = %event.id, sequence = ack.sequence, "already in the stream");
        }
        Ok(())
    }
}
