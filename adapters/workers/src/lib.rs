#![doc = include_str!("../README.md")]
// Everything here runs on the Workers runtime; a native build of the workspace compiles the crate
// empty.
#![cfg(target_arch = "wasm32")]
// the ports are `Arc`s (shared with native hosts); an isolate runs one thread
#![allow(clippy::arc_with_non_send_sync, reason = "one thread per isolate")]

mod edge;
mod events;
mod host;
mod ledger;
mod room;
mod store;

pub use room::DealRoomObject;

use std::net::IpAddr;

use openinsure_core::policy::tick::TickRules;
use worker::{Context, Env, MessageBatch, Request, Response, ScheduleContext, ScheduledEvent, event};

/// The fetch handler: the request as an `http::Request`, the shared API, the response back.
/// After a request that may have written, the outbox is delivered in the background
/// (`waitUntil`).
#[event(fetch)]
async fn fetch(request: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let host = match host::Host::get(&env) {
        Ok(h) => h,
        Err(e) => return Response::error(format!("the Worker is not configured: {e}"), 500),
    };
    let peer = request.headers().get("cf-connecting-ip").ok().flatten().and_then(|ip| ip.parse::<IpAddr>().ok());
    #[cfg(feature = "conformance")]
    if request.path() == "/__conformance" {
        return conformance(&request, &env).await;
    }
    // a deal room's WebSocket: admitted here by the shared rules, then handed to the room's object
    if let Some(room_id) = connect_path(&request.path())
        && request.headers().get("upgrade").ok().flatten().is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
    {
        let headers = host::header_map(request.headers());
        let query = request.url().ok().and_then(|u| u.query().map(str::to_owned));
        return match host.api.admit_room(room_id, query.as_deref(), &headers).await {
            Ok(admission) => room::connect(&env, admission).await,
            Err(refusal) => host::from_http(refusal),
        };
    }
    let headers = http::HeaderMap::new();
    let request = match host::to_http(request, host.api.config().max_body_bytes).await {
        Ok(r) => r,
        Err((status, code, message)) => return host::from_http(host.api.host_error(&headers, status, code, message)),
    };
    // only a request that may have written can have added events: reads cost no outbox query
    // (the Cron trigger delivers whatever is left, every minute)
    let may_write = !request.method().is_safe();
    let response = host.api.handle(request, peer).await;
    if may_write {
        let dispatcher = host.dispatcher.clone();
        ctx.wait_until(async move {
            if let Err(e) = dispatcher.run_once().await {
                worker::console_error!("outbox delivery: {e}");
            }
        });
    }
    host::from_http(response)
}

/// The store conformance suites, inside the Worker, on the system of record through Hyperdrive
/// (`?run=N` keeps the runs' ids apart). A failing suite panics, which aborts the isolate: the
/// request fails and the log names the assertion.
#[cfg(feature = "conformance")]
async fn conformance(request: &Request, env: &Env) -> worker::Result<Response> {
    let run =
        request.url()?.query_pairs().find(|(k, _)| k == "run").and_then(|(_, v)| v.parse::<u64>().ok()).unwrap_or(1);
    let store = host::system_of_record(env).map_err(worker::Error::RustError)?;
    worker::console_log!("conformance {run}: stores");
    openinsure_core::testkit::stores(&store, run).await;
    openinsure_core::testkit::stores(&store, run + 1).await;
    worker::console_log!("conformance {run}: bind races");
    openinsure_core::testkit::bind_races(&store, run, 16).await;
    worker::console_log!("conformance {run}: idempotency, authorizer");
    openinsure_core::testkit::idempotency_store(&store, run).await;
    openinsure_core::testkit::authorizer(&store, run).await;
    worker::console_log!("conformance {run}: PHI audit log");
    openinsure_hipaa::testkit::all(&store, run).await;
    worker::console_log!("conformance {run}: deal rooms");
    openinsure_dealroom::testkit::all(&store, run).await;
    worker::console_log!("conformance {run}: edge stores (D1, KV)");
    openinsure_hipaa::testkit::edge_store(std::sync::Arc::new(edge::D1Edge(env.d1("EDGE")?)), run).await;
    openinsure_hipaa::testkit::edge_store(std::sync::Arc::new(edge::KvEdge(env.kv("SESSIONS")?)), run).await;
    Response::ok("every store suite passed")
}

/// The room id of `/v1/deal-rooms/{id}/connect`.
fn connect_path(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/deal-rooms/")?.strip_suffix("/connect").filter(|id| !id.contains('/'))
}

/// The queue's consumer: each domain event to the subscribers (the ledger).
#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> worker::Result<()> {
    let host = host::Host::get(&env).map_err(worker::Error::RustError)?;
    events::consume(&host, batch).await
}

/// The Cron trigger: the clock's transitions (activation, non-payment, expiry, renewal offers)
/// with the default rules, then whatever the outbox still holds.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let host = match host::Host::get(&env) {
        Ok(h) => h,
        Err(e) => return worker::console_error!("the Worker is not configured: {e}"),
    };
    match host.api.app().tick_now(&TickRules::default()).await {
        Ok(report) => worker::console_log!("tick: {report:?}"),
        Err(e) => worker::console_error!("tick: {e}"),
    }
    if let Err(e) = host.dispatcher.run_once().await {
        worker::console_error!("outbox delivery: {e}");
    }
    match env.d1("EDGE") {
        Ok(d1) => match edge::D1Edge(d1).sweep().await {
            Ok(n) => worker::console_log!("edge config: {n} expired rows dropped"),
            Err(e) => worker::console_error!("edge config sweep: {e}"),
        },
        Err(e) => worker::console_error!("the D1 binding `EDGE`: {e}"),
    }
}
