#![doc = include_str!("../README.md")]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use openinsure::api::Api;
use openinsure::dispatch::Dispatcher;
use tokio::net::TcpListener;

pub mod live;
pub mod rooms;

pub use live::LiveHub;

/// The ledger's HTTP proxy ([`openinsure_ledger::remote`]) as a router: `POST /ledger/v1/call`
/// answered by `backend` for callers presenting `key`, plus `GET /healthz`. For service
/// callers (a Cloudflare Worker reaching TigerBeetle), never for users: serve it on an address
/// only they reach.
pub fn ledger_proxy(
    backend: std::sync::Arc<dyn openinsure_ledger::LedgerBackend>,
    key: openinsure_ledger::remote::ServiceKey,
) -> Router {
    use axum::routing::post;
    let call = move |headers: http::HeaderMap, body: axum::body::Bytes| {
        let backend = backend.clone();
        let key = key.clone();
        async move {
            let authorization = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            let (status, reply) = openinsure_ledger::remote::serve(&*backend, &key, authorization, &body).await;
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, [(http::header::CONTENT_TYPE, "application/json")], reply)
        }
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route(openinsure_ledger::remote::PATH, post(call))
        // a full batch of transfers is about 3.5 MB of JSON
        .layer(axum::extract::DefaultBodyLimit::max(8 << 20))
}

pub use rooms::{RoomHost, RoomHostConfig};

/// What the host adds around the API.
#[derive(Clone, Copy, Debug)]
pub struct HostConfig {
    /// How long a request may take before it is answered `503 timeout`.
    pub request_timeout: Duration,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig { request_timeout: Duration::from_secs(30) }
    }
}

#[derive(Clone)]
struct Host {
    api: Api,
    config: HostConfig,
    rooms: Option<RoomHost>,
    live: Option<LiveHub>,
}

/// The API as an [`axum::Router`] with the default [`HostConfig`]: every route of
/// [`openinsure::api::ROUTES`], plus `GET /healthz`. Mount it in another service with
/// [`Router::nest`] or [`Router::merge`].
pub fn router(api: Api) -> Router {
    router_with(api, HostConfig::default())
}

/// The API as an [`axum::Router`] with `config`.
pub fn router_with(api: Api, config: HostConfig) -> Router {
    Router::new().route("/healthz", get(healthz)).fallback(handle).with_state(Host {
        api,
        config,
        rooms: None,
        live: None,
    })
}

/// The API with deal rooms: `GET /v1/deal-rooms/{id}/connect` upgrades to the room's WebSocket.
/// The API's `App` should reach the same rooms (`App::with_room_gateway(Arc::new(rooms.clone()))`)
/// so that its service routes and participant changes meet the live rooms.
pub fn router_with_rooms(api: Api, config: HostConfig, rooms: RoomHost) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/deal-rooms/{id}/connect", get(connect))
        .fallback(handle)
        .with_state(Host { api, config, rooms: Some(rooms), live: None })
}

/// The API with deal rooms and live updates: `GET /v1/policies/{id}/live` and
/// `/v1/claims/{id}/live` with `Accept: text/event-stream` stream Server-Sent Events from `live`
/// (subscribe it to the dispatcher, and call [`LiveHub::close`] at shutdown).
pub fn router_with_live(api: Api, config: HostConfig, rooms: RoomHost, live: LiveHub) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/deal-rooms/{id}/connect", get(connect))
        .route("/v1/policies/{id}/live", get(live::follow))
        .route("/v1/claims/{id}/live", get(live::follow))
        .fallback(handle)
        .with_state(Host { api, config, rooms: Some(rooms), live: Some(live) })
}

async fn connect(
    State(host): State<Host>,
    upgrade: Result<axum::extract::ws::WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    request: Request,
) -> Response {
    match (upgrade, &host.rooms) {
        (Ok(upgrade), Some(rooms)) => {
            let id = request.uri().path().split('/').nth(3).unwrap_or("").to_owned();
            rooms.connect(&host.api, &id, request.uri().query(), request.headers(), upgrade).await
        }
        // not a WebSocket handshake: the API explains (426)
        _ => handle(State(host), request).await,
    }
}

async fn healthz() -> impl IntoResponse {
    ([(http::header::CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#)
}

/// Translation only: collect the body up to the API's limit, hand the request to the API, and
/// return its response.
async fn handle(State(host): State<Host>, request: Request) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let (parts, body) = request.into_parts();
    let limit = host.api.config().max_body_bytes;
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        let message = format!("the body is larger than {limit} bytes");
        host.api.host_error(&parts.headers, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", &message).map(Body::from)
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    let headers = parts.headers.clone();
    let request = http::Request::from_parts(parts, bytes);
    match tokio::time::timeout(host.config.request_timeout, host.api.handle(request, peer)).await {
        Ok(response) => response.map(Body::from),
        Err(_) => host
            .api
            .host_error(&headers, StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long")
            .map(Body::from),
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops taking connections and
/// lets requests in flight finish (graceful shutdown). Clients' addresses reach the API (for the
/// PHI audit log).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Runs `step` every `every`, and again at once while a run found work (a backlog drains at its
/// own pace, not one batch per tick; failed work waits out its backoff, so this ends), until
/// `shutdown` completes. `step` answers whether it found work; a failure is logged as `what`
/// and retried on the next round.
async fn drain_every<F, Fut>(every: Duration, shutdown: impl Future<Output = ()>, what: &str, mut step: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = openinsure::Result<bool>>,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut shutdown => break,
        }
        loop {
            match step().await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "{what} failed; retrying");
                    break;
                }
            }
        }
    }
}

/// Delivers the outbox's events to the dispatcher's subscribers every `every`, and again at once
/// while a run found events (a backlog drains at the subscribers' pace), until `shutdown`
/// completes; then delivers once more. Failures are logged and retried on the next round.
pub async fn run_dispatcher(dispatcher: Dispatcher, every: Duration, shutdown: impl Future<Output = ()>) {
    drain_every(every, shutdown, "event delivery", || async {
        dispatcher.run_once().await.map(|r| r.delivered + r.failed > 0)
    })
    .await;
    if let Err(e) = dispatcher.run_once().await {
        tracing::warn!(error = %e, "final event delivery failed");
    }
}

/// Sends due webhook deliveries ([`WebhookDeliverer::run_once`](openinsure::webhooks::WebhookDeliverer::run_once))
/// every `every` until `shutdown` completes; a run that attempted deliveries runs again at once,
/// so a backlog drains at the endpoints' pace. Failures are logged; the next round tries again.
pub async fn run_webhooks(
    deliverer: openinsure::webhooks::WebhookDeliverer,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    drain_every(every, shutdown, "webhook delivery", || async { deliverer.run_once().await.map(|r| r.attempted > 0) })
        .await;
}

/// Emails pending notifications ([`Mailer::run_once`](openinsure::notifications::Mailer::run_once))
/// every `every` until `shutdown` completes; a run that found emails runs again at once.
pub async fn run_mailer(
    mailer: openinsure::notifications::Mailer,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    drain_every(every, shutdown, "notification email", || async { mailer.run_once().await.map(|r| r.attempted > 0) })
        .await;
}

/// Runs the clock's transitions ([`App::tick`](openinsure::App::tick)) every `every` until
/// `shutdown` completes. Failures are logged; the next round tries again (ticking is idempotent).
pub async fn run_clock(
    app: openinsure::App,
    rules: openinsure_core::policy::tick::TickRules,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut shutdown => break,
        }
        if let Err(e) = app.tick_now(&rules).await {
            tracing::warn!(error = %e, "the clock's transitions failed; retrying");
        }
    }
}
