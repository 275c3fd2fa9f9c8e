//! Live updates as Server-Sent Events: `GET /v1/policies/{id}/live` and `/v1/claims/{id}/live`
//! with `Accept: text/event-stream`.
//!
//! The request goes through the API like any other (the token, the role, the org, 404 for
//! another org's record, the rate limit); its answer is the first message (`snapshot`) and a
//! [`LiveTicket`]. From then on, every committed event the ticket wants is sent as it reaches
//! the [`LiveHub`] (a dispatcher subscriber: this process's events; with several processes, feed
//! it from the event bus), with the record as the caller may read it then
//! ([`App::live_view`](openinsure::App::live_view): a claim redacted for the role and audited).
//! A subscriber too slow to keep up gets a new `snapshot` in place of what it missed.

use std::convert::Infallible;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::Stream;
use openinsure::dispatch::Subscriber;
use openinsure::live::LiveTicket;
use openinsure_core::events::EventEnvelope;
use tokio::sync::{broadcast, watch};

/// The committed events live subscriptions follow. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LiveHub {
    events: broadcast::Sender<Arc<EventEnvelope>>,
    closed: watch::Sender<bool>,
}

impl Default for LiveHub {
    fn default() -> Self {
        LiveHub::new(1024)
    }
}

impl LiveHub {
    /// A hub keeping up to `capacity` events for a slow subscriber.
    pub fn new(capacity: usize) -> Self {
        let (events, _) = broadcast::channel(capacity.max(16));
        let (closed, _) = watch::channel(false);
        LiveHub { events, closed }
    }

    /// Hands an event to every subscription.
    pub fn publish(&self, event: EventEnvelope) {
        // no subscription listening is not an error
        let _ = self.events.send(Arc::new(event));
    }

    /// Ends every subscription (at shutdown: a stream that never ends would hold the server).
    pub fn close(&self) {
        let _ = self.closed.send(true);
    }

    /// Subscriptions open now.
    pub fn subscribers(&self) -> usize {
        self.events.receiver_count()
    }
}

#[async_trait]
impl Subscriber for LiveHub {
    fn name(&self) -> &str {
        "live"
    }

    async fn handle(&self, event: &EventEnvelope) -> openinsure::Result<()> {
        self.publish(event.clone());
        Ok(())
    }
}

fn wants_stream(request: &Request) -> bool {
    request
        .headers()
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

pub(crate) async fn follow(State(host): State<crate::Host>, request: Request) -> Response {
    let Some(hub) = host.live.clone() else { return crate::handle(State(host), request).await };
    if !wants_stream(&request) {
        return crate::handle(State(host), request).await;
    }
    // subscribed before the snapshot is read: nothing committed in between is missed
    let events = hub.events.subscribe();
    let closed = hub.closed.subscribe();
    let api = host.api.clone();
    let response = crate::handle(State(host), request).await;
    let Some(ticket) = response.extensions().get::<LiveTicket>().cloned() else { return response };
    if !response.status().is_success() {
        return response;
    }
    let body = match axum::body::to_bytes(response.into_body(), 16 << 20).await {
        Ok(b) => b,
        Err(_) => return http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let snapshot = serde_json::from_slice::<serde_json::Value>(&body)
        .map(|v| v["data"].to_string())
        .unwrap_or_else(|_| "null".into());
    tracing::debug!(user_id = %ticket.caller.user_id, subject = ?ticket.subject, "live subscription opened");
    Sse::new(stream(api, ticket, snapshot, events, closed)).keep_alive(KeepAlive::default()).into_response()
}

struct Follow {
    api: openinsure::api::Api,
    ticket: LiveTicket,
    first: Option<String>,
    events: broadcast::Receiver<Arc<EventEnvelope>>,
    closed: watch::Receiver<bool>,
}

fn stream(
    api: openinsure::api::Api,
    ticket: LiveTicket,
    snapshot: String,
    events: broadcast::Receiver<Arc<EventEnvelope>>,
    closed: watch::Receiver<bool>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = Follow { api, ticket, first: Some(snapshot), events, closed };
    futures_util::stream::unfold(state, |mut s| async move {
        if let Some(first) = s.first.take() {
            return Some((Ok(Event::default().event("snapshot").data(first)), s));
        }
        loop {
            let received = tokio::select! {
                r = s.events.recv() => r,
                _ = s.closed.wait_for(|c| *c) => return None,
            };
            let event = match received {
                Ok(e) if s.ticket.wants(&e) => Some(e),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "live subscriber fell behind: sending a new snapshot");
                    None
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            let app = s.api.app();
            let view = app.live_view(&s.ticket.caller, s.ticket.subject, event.as_deref(), &s.ticket.meta).await;
            let Ok(view) = view else {
                // no longer readable (deleted, or the role changed): the subscription ends
                return None;
            };
            let Ok(data) = serde_json::to_string(&view) else { return None };
            let mut sse = Event::default().event(view.kind.as_str()).data(data);
            if let Some(e) = &event {
                sse = sse.id(e.id.to_string());
            }
            return Some((Ok(sse), s));
        }
    })
}
