//! The Worker's wiring: the ports from the bindings, the clock and ids from the runtime, and the
//! bridge between `worker::Request`/`Response` and the `http` types the API speaks.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, TimeZone as _, Utc};
use openinsure::api::{Api, ApiConfig};
use openinsure::dispatch::{Dispatcher, Subscriber};
use openinsure::ledger::LedgerSubscriber;
use openinsure::{App, Ports};
use openinsure_auth::TokenKeys;
use openinsure_core::clock::{Clock, IdGen};
use openinsure_ledger::remote::RemoteLedger;
use openinsure_rating::{RateBook, RateTable};
use openinsure_sql::SqlStore;
use openinsure_sql::wire::{WireOptions, WirePool};
use worker::{Env, Headers, Request, Response};

use crate::ledger::FetchTransport;
use crate::store::HyperdriveSocket;

/// The rate tables the example Worker rates with (the same files `openinsure serve` loads).
const RATE_TABLES: [(&str, &str); 2] = [
    ("general-liability.json", include_str!("../../../examples/rate-tables/general-liability.json")),
    ("cyber.json", include_str!("../../../examples/rate-tables/cyber.json")),
];

/// The time from `Date.now()` (`SystemTime` panics on wasm32).
#[derive(Debug)]
pub struct JsClock;

impl Clock for JsClock {
    fn now(&self) -> DateTime<Utc> {
        let millis = i64::try_from(worker::Date::now().as_millis()).unwrap_or(i64::MAX);
        Utc.timestamp_millis_opt(millis).single().unwrap_or_default()
    }
}

/// UUIDv7 ids: the time from `Date.now()`, the random bits from `crypto.getRandomValues`.
#[derive(Debug)]
pub struct JsIds;

impl IdGen for JsIds {
    fn next_uuid(&self) -> uuid::Uuid {
        let mut random = [0u8; 10];
        // getrandom on wasm32 is `crypto.getRandomValues`, which does not fail in a Worker; were
        // it to, the timestamp and a zero tail would still be unique per millisecond only, so
        // refuse to continue rather than mint colliding ids
        #[allow(clippy::expect_used, reason = "see above: no id is better than a colliding one")]
        getrandom::fill(&mut random).expect("crypto.getRandomValues");
        uuid::Builder::from_unix_timestamp_millis(worker::Date::now().as_millis(), &random).into_uuid()
    }

    fn secret_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        #[allow(clippy::expect_used, reason = "no secret is better than a guessable one")]
        getrandom::fill(&mut out).expect("crypto.getRandomValues");
        out
    }
}

/// What one isolate keeps between requests: the API (its ports hold no socket across requests:
/// the wire pool keeps no idle connection) and the outbox's dispatcher.
pub struct Host {
    pub api: Api,
    /// The outbox's dispatcher: every event to the queue.
    pub dispatcher: Rc<Dispatcher>,
    /// What the queue's consumer hands each event to (the native dispatcher's subscribers).
    pub subscribers: Vec<Arc<dyn Subscriber>>,
}

thread_local! {
    static HOST: RefCell<Option<Rc<Host>>> = const { RefCell::new(None) };
}

fn text(env: &Env, name: &str) -> Result<String, String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .map_err(|_| format!("`{name}` is not set"))
}

impl Host {
    /// The isolate's host, built from the bindings on its first request.
    pub fn get(env: &Env) -> Result<Rc<Host>, String> {
        if let Some(host) = HOST.with(|h| h.borrow().clone()) {
            return Ok(host);
        }
        let host = Rc::new(Host::build(env)?);
        HOST.with(|h| *h.borrow_mut() = Some(host.clone()));
        Ok(host)
    }

    fn build(env: &Env) -> Result<Host, String> {
        let store = system_of_record(env)?;
        let ledger = Arc::new(RemoteLedger::new(FetchTransport {
            url: text(env, "LEDGER_PROXY_URL")?,
            key: text(env, "LEDGER_SERVICE_KEY")?,
        }));
        let kid = text(env, "OPENINSURE_KEY_ID").unwrap_or_else(|_| "dev".to_owned());
        let keys = TokenKeys::from_hex(kid, &text(env, "OPENINSURE_SIGNING_KEY")?)
            .map_err(|e| format!("`OPENINSURE_SIGNING_KEY`: {e}"))?;
        let mut book = RateBook::new();
        for (name, json) in RATE_TABLES {
            let table = RateTable::from_json(json).map_err(|e| format!("{name}: {e}"))?;
            book.insert(table).map_err(|e| format!("{name}: {e}"))?;
        }
        let ports = Ports {
            store: Arc::new(store.clone()),
            authorizer: Arc::new(store.clone()),
            ledger: ledger.clone(),
            audit: Arc::new(store.clone()),
            rooms: Arc::new(store.clone()),
            clock: Arc::new(JsClock),
            ids: Arc::new(JsIds),
        };
        // live deal rooms are the rooms' Durable Objects
        let gateway = Arc::new(crate::room::ObjectGateway(Rc::new(env.clone())));
        // edge config in D1: the rate tables' copy, read on every quote (no PHI: EdgeSafe only)
        let d1 = env.d1("EDGE").map_err(|e| format!("the D1 binding `EDGE`: {e}"))?;
        let app = App::new(ports, Arc::new(book))
            .with_room_gateway(gateway)
            .with_edge_config(Arc::new(crate::edge::D1Edge(d1)));
        let config = ApiConfig {
            public_ws_origin: text(env, "PUBLIC_WS_ORIGIN").unwrap_or_else(|_| "wss://localhost".to_owned()),
            // a limiter in isolate memory would limit nothing across isolates: the binding's is shared
            rate_limit: None,
            ..ApiConfig::default()
        };
        let limiter = env.rate_limiter("LIMITER").map_err(|e| format!("the rate limiting binding `LIMITER`: {e}"))?;
        // idempotency keys live in the system of record, shared by every isolate
        // sessions in KV, shared by every isolate (a token's hash and its non-PHI claims)
        let kv = env.kv("SESSIONS").map_err(|e| format!("the KV binding `SESSIONS`: {e}"))?;
        let api = Api::new(app.clone(), keys, Arc::new(store))
            .with_config(config)
            .with_sessions(Arc::new(crate::edge::KvEdge(kv)))
            .with_limiter(Arc::new(BindingLimiter(limiter)));
        let queue = env.queue("EVENTS").map_err(|e| format!("the queue binding `EVENTS`: {e}"))?;
        let dispatcher = Dispatcher::with_host(app.backend().clone(), Arc::new(JsClock), Arc::new(JsIds))
            .subscribe(Arc::new(crate::events::ToQueue(queue)));
        let subscribers: Vec<Arc<dyn Subscriber>> = vec![Arc::new(LedgerSubscriber::new(ledger))];
        Ok(Host { api, dispatcher: Rc::new(dispatcher), subscribers })
    }
}

/// The API's limiter over Cloudflare's rate limiting binding, keyed by the caller's user id. Its
/// window is the binding's period (`wrangler.toml`: 60 s), which a refusal names as the wait. A
/// binding that fails lets the request through (and logs it): the limit protects, it never refuses
/// a caller on its own fault.
struct BindingLimiter(worker::RateLimiter);

/// The binding's period in `wrangler.toml`.
const LIMIT_PERIOD_SECS: u64 = 60;

#[async_trait::async_trait(?Send)]
impl openinsure::api::Limiter for BindingLimiter {
    async fn take(&self, user: openinsure_core::ids::UserId, _now: DateTime<Utc>) -> Result<(), u64> {
        match self.0.limit(user.to_string()).await {
            Ok(outcome) if outcome.success => Ok(()),
            Ok(_) => Err(LIMIT_PERIOD_SECS),
            Err(e) => {
                worker::console_error!("rate limiting binding: {e}");
                Ok(())
            }
        }
    }
}

/// Why a request could not become an `http::Request`: the status, the error code, the message.
pub type Refusal = (http::StatusCode, &'static str, &'static str);

/// The system of record through the Hyperdrive binding `DB`.
pub fn system_of_record(env: &Env) -> Result<SqlStore, String> {
    let hyperdrive = env.hyperdrive("DB").map_err(|e| format!("the Hyperdrive binding `DB`: {e}"))?;
    let options = WireOptions {
        user: hyperdrive.user(),
        password: hyperdrive.password(),
        database: hyperdrive.database(),
        // Hyperdrive pools per transaction: no session state; sql_mode is the database's
        session: Vec::new(),
        // a socket cannot outlive the request that opened it
        max_idle: 0,
    };
    let connector = Arc::new(HyperdriveSocket { host: hyperdrive.host(), port: hyperdrive.port() });
    Ok(SqlStore::wire(WirePool::new(connector, options)))
}

/// A Workers request as the API's `http::Request` (the body read whole, refused past `max_body`).
pub async fn to_http(mut request: Request, max_body: usize) -> Result<http::Request<Bytes>, Refusal> {
    use http::StatusCode;
    let url = request.url().map_err(|_| (StatusCode::BAD_REQUEST, "bad_request", "the URL does not parse"))?;
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let too_large = (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large");
    let declared = request.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > max_body) {
        return Err(too_large);
    }
    let body =
        request.bytes().await.map_err(|_| (StatusCode::BAD_REQUEST, "bad_request", "the body could not be read"))?;
    if body.len() > max_body {
        return Err(too_large);
    }
    let mut builder = http::Request::builder().method(request.method().as_ref()).uri(target);
    for (name, value) in request.headers().entries() {
        builder = builder.header(name, value);
    }
    builder.body(Bytes::from(body)).map_err(|_| (StatusCode::BAD_REQUEST, "bad_request", "the request does not parse"))
}

/// The API's response as a Workers response.
pub fn from_http(response: http::Response<Bytes>) -> worker::Result<Response> {
    let (parts, body) = response.into_parts();
    let headers = Headers::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), value)?;
        }
    }
    Ok(Response::from_bytes(body.to_vec())?.with_status(parts.status.as_u16()).with_headers(headers))
}

/// A Workers request's headers as an `http::HeaderMap` (for the API's refusals, which echo the
/// client's request id).
pub fn header_map(headers: &Headers) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers.entries() {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(&value))
        {
            map.append(name, value);
        }
    }
    map
}
