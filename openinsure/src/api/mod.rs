//! The HTTP API over plain [`http`] types, written once for every host (axum, Workers).
//!
//! [`Api::handle`] takes an `http::Request<Bytes>` and returns an `http::Response<Bytes>`: it
//! authenticates the bearer token, scopes the caller to their org, applies the rate limit and the
//! `Idempotency-Key` rules, parses the body (every field error at once), calls the use case and
//! answers with the JSON envelope. Hosts only move bytes.
//!
//! - Success: `{"data": ...}` (lists add `"page": {"limit", "offset", "count"}`).
//! - Errors: `{"error": {"code", "message", "requestId", "fields"?, "flags"?}}` with 400 (malformed
//!   JSON, invalid fields, nesting too deep), 401, 403, 404 (also for another org's records: their
//!   existence is not leaked), 405, 409, 413, 415, 422 (a business rule, failing pre-bind checks
//!   with their flags), 429 (with `Retry-After`), 500.
//! - Cross-org roles ([`Role::is_cross_org`]) may act for another org with the `X-Org-Id` header;
//!   any other role naming another org gets 403.
//! - Every response carries `x-request-id` (the client's, when it sent a well-formed one); the
//!   request's tracing span carries it too. Headers, tokens and bodies are never logged.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use openinsure::api::Api;
//! use openinsure::system::{SystemClock, UuidV7};
//! use openinsure_auth::TokenKeys;
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let ports = openinsure::Ports::in_memory(Arc::new(SystemClock), Arc::new(UuidV7));
//! let app = openinsure::App::new(ports, Arc::new(openinsure_rating::RateBook::new()));
//! let keys = TokenKeys::new("dev", b"a development key of 32 bytes!!!")?;
//! let api = Api::new(app, keys, Arc::new(openinsure_memory::MemoryIdempotency::default()));
//! let request = http::Request::get("/v1/submissions").body(Bytes::new())?;
//! let response = api.handle(request, None).await;
//! assert_eq!(response.status(), 401); // no token
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
//! ```
//!
//! [`Role::is_cross_org`]: openinsure_core::tenancy::Role::is_cross_org

mod admission;
mod body;
mod handlers;
mod limit;
mod openapi;
mod reply;
mod routes;

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use openinsure_auth::{AuthError, Claims, TokenKeys};
use openinsure_core::ids::OrgId;
use openinsure_core::tenancy::Caller;
use sha2::{Digest, Sha256};
use tracing::Instrument;

pub use admission::Admission;
pub use handlers::{bodies, views};
pub use limit::{Limiter, RateLimit, RateLimiter};
pub use openinsure_core::idempotency::{Begin, IdempotencyScope, IdempotencyStore, StoredResponse};
pub use reply::PageInfo;
pub use routes::{Op, ROUTES, Route, SchemaFn};

use crate::App;
use crate::claims::RequestMeta;
use reply::{ApiError, Reply, json_response};

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";
/// The header a cross-org role names the org it acts for with.
pub const ORG_HEADER: &str = "x-org-id";
/// The idempotency key header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on a response replayed for an idempotency key.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// Limits and policies of the API.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// The largest request body, in bytes (413 beyond). Hosts should stop reading there too.
    pub max_body_bytes: usize,
    /// The deepest nesting of arrays and objects in a JSON body (400 beyond).
    pub max_json_depth: usize,
    /// Requests per caller, when limited (429 beyond, with `Retry-After`).
    pub rate_limit: Option<RateLimit>,
    /// How long an idempotency key's first request may run before a retry may take it over.
    /// Set it above the host's request timeout.
    pub idempotency_lease: chrono::Duration,
    /// The WebSocket origin deal room URLs name (`wss://api.example.com`). It is configured,
    /// never taken from a request (whose `Host` header the client writes).
    pub public_ws_origin: String,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 1 << 20,
            max_json_depth: 32,
            rate_limit: None,
            idempotency_lease: chrono::Duration::seconds(60),
            public_ws_origin: "ws://localhost".to_owned(),
        }
    }
}

/// The API: the application, the token keys, and the request policies. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    pub(crate) app: App,
    keys: Arc<TokenKeys>,
    tokens: Arc<TokenCache>,
    idempotency: Arc<dyn IdempotencyStore>,
    limiter: Option<Arc<dyn Limiter>>,
    pub(crate) config: Arc<ApiConfig>,
    pub(crate) openapi: Bytes,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("app", &self.app).field("config", &self.config).finish_non_exhaustive()
    }
}

impl Api {
    /// The API over `app`, verifying tokens with `keys` and keeping `Idempotency-Key`s in
    /// `idempotency` (`openinsure_memory::MemoryIdempotency` in one process), with the default
    /// [`ApiConfig`].
    #[cfg_attr(
        target_arch = "wasm32",
        allow(clippy::arc_with_non_send_sync, reason = "an isolate runs one thread; the edge store is not Send there")
    )]
    pub fn new(app: App, keys: TokenKeys, idempotency: Arc<dyn IdempotencyStore>) -> Self {
        let openapi = Bytes::from(serde_json::to_vec(&openapi::document(app.has_live_rooms())).unwrap_or_default());
        Api {
            app,
            keys: Arc::new(keys),
            tokens: Arc::new(TokenCache::default()),
            idempotency,
            limiter: None,
            config: Arc::new(ApiConfig::default()),
            openapi,
        }
    }

    /// Keeps verified sessions in `store` as well as in process (Workers KV, shared by every
    /// isolate; see [`SESSION_TTL`]). Only a token's hash and its non-PHI claims are stored.
    #[must_use]
    #[cfg_attr(
        target_arch = "wasm32",
        allow(clippy::arc_with_non_send_sync, reason = "an isolate runs one thread; the edge store is not Send there")
    )]
    pub fn with_sessions(mut self, store: Arc<dyn openinsure_hipaa::EdgeStore>) -> Self {
        self.tokens =
            Arc::new(TokenCache { sessions: Some(openinsure_hipaa::EdgeCache::new(store)), ..TokenCache::default() });
        self
    }

    /// Limits callers with `limiter` (one shared by every isolate on Workers) instead of the
    /// in-process limiter [`ApiConfig::rate_limit`] asks for.
    #[must_use]
    pub fn with_limiter(mut self, limiter: Arc<dyn Limiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Uses `config`; its `rate_limit`, when set, installs the in-process [`RateLimiter`].
    #[must_use]
    pub fn with_config(mut self, config: ApiConfig) -> Self {
        if let Some(limit) = config.rate_limit {
            self.limiter = Some(Arc::new(RateLimiter::new(limit)));
        }
        self.config = Arc::new(config);
        self
    }

    /// The application.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The token keys (hosts verify WebSocket tokens with them).
    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    /// The OpenAPI 3.1 document (as served at `GET /openapi.json`).
    pub fn openapi_json(&self) -> &Bytes {
        &self.openapi
    }

    /// An error response in the API's envelope for a refusal the host makes before the API sees
    /// the request (a body over the limit while streaming it, a request timeout), with the client's
    /// request id when it sent one.
    pub fn host_error(
        &self,
        headers: &HeaderMap,
        status: StatusCode,
        code: &'static str,
        message: &str,
    ) -> Response<Bytes> {
        let request_id = request_id(headers).unwrap_or_else(|| self.app.ids.next_uuid().to_string());
        tracing::warn!(request_id = %request_id, status = status.as_u16(), code, "refused by the host");
        let mut response = ApiError::new(status, code, message).into_response(&request_id);
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID, v);
        }
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// Answers one request. `peer` is the client's address, for the PHI audit log.
    pub async fn handle(&self, request: Request<Bytes>, peer: Option<IpAddr>) -> Response<Bytes> {
        let request_id = request_id(request.headers()).unwrap_or_else(|| self.app.ids.next_uuid().to_string());
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            route = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        async {
            let mut response = match self.serve(&request, peer, &request_id).await {
                Ok(r) => r,
                Err(e) => e.into_response(&request_id),
            };
            let status = response.status().as_u16();
            tracing::Span::current().record("status", status);
            if status >= 500 {
                tracing::error!("request failed");
            } else {
                tracing::debug!("request answered");
            }
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(REQUEST_ID, v);
            }
            // customer data (claims with PHI first) is never kept by a browser or a proxy
            response.headers_mut().entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
            response
        }
        .instrument(span)
        .await
    }

    async fn serve(
        &self,
        request: &Request<Bytes>,
        peer: Option<IpAddr>,
        request_id: &str,
    ) -> Result<Response<Bytes>, ApiError> {
        let path = request.uri().path();
        let (route, params) = match routes::find(request.method().as_str(), path, self.app.has_live_rooms()) {
            routes::Lookup::Route(route, params) => (route, params),
            routes::Lookup::WrongMethod(allowed) => {
                let mut e = ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!("`{}` is not allowed on this path", request.method()),
                );
                e.extra.allow = Some(allowed.join(", "));
                return Err(e);
            }
            routes::Lookup::Missing => {
                return Err(ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route"));
            }
        };
        tracing::Span::current().record("route", route.path);
        let body = request.body();
        if body.len() > self.config.max_body_bytes {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than {} bytes", self.config.max_body_bytes),
            ));
        }
        if route.public {
            return match route.op {
                Op::OpenApi => {
                    let mut r = json_response(StatusCode::OK, self.openapi.clone());
                    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    Ok(r)
                }
                _ => Err(ApiError::upgrade_required()),
            };
        }
        let caller = self.authenticate(request.headers(), route).await?;
        // the route's action, from the one permission table (the use case asks it again)
        if let Some(action) = route.action
            && !openinsure_core::permission::allows(caller.role, action)
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("role `{}` may not {}", caller.role, action.describe()),
            ));
        }
        if let Some(limiter) = &self.limiter
            && let Err(secs) = limiter.take(caller.user_id, self.app.clock.now()).await
        {
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests");
            e.extra.retry_after_secs = Some(secs);
            return Err(e);
        }
        if route.request.is_some() && !body.is_empty() && !is_json(request.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be `application/json`",
            ));
        }
        let key = match request.headers().get(IDEMPOTENCY_KEY) {
            Some(k) if request.method() == http::Method::POST => Some(idempotency_scope(&caller, k)?),
            _ => None,
        };
        let Some(scope) = key else {
            let cx = self.context(request, params, caller, peer);
            return handlers::dispatch(route, cx).await.map(reply_response);
        };
        let fingerprint = fingerprint(request);
        let now = self.app.clock.now();
        match self.idempotency.begin(&scope, fingerprint, now, self.config.idempotency_lease).await? {
            Begin::Proceed => {}
            Begin::Replay(stored) => {
                let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
                let mut response = json_response(status, Bytes::from(stored.body));
                response.headers_mut().insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
                return Ok(response);
            }
            Begin::InFlight => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_key_in_flight",
                    "a request with this idempotency key is still running; retry later",
                ));
            }
            Begin::Mismatch => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this idempotency key was used with a different request",
                ));
            }
        }
        let cx = self.context(request, params, caller, peer);
        let outcome = handlers::dispatch(route, cx).await;
        // a failure of the server's own (5xx) frees the key for a retry; anything else is the answer
        let stored = match &outcome {
            Ok(reply) => Some(StoredResponse { status: reply.status.as_u16(), body: reply.body.to_vec() }),
            Err(e) if e.status.is_server_error() => None,
            Err(e) => {
                let r = error_body(e, request_id);
                Some(StoredResponse { status: e.status.as_u16(), body: r.to_vec() })
            }
        };
        match stored {
            Some(s) => self.idempotency.complete(&scope, s, self.app.clock.now()).await?,
            None => self.idempotency.release(&scope).await?,
        }
        outcome.map(reply_response)
    }

    fn context<'a>(
        &'a self,
        request: &'a Request<Bytes>,
        params: routes::Params<'a>,
        caller: Caller,
        peer: Option<IpAddr>,
    ) -> handlers::Ctx<'a> {
        let user_agent = request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        handlers::Ctx {
            api: self,
            caller,
            params,
            query: body::Query::parse(request.uri().query()),
            body: request.body(),
            meta: RequestMeta { ip: peer, user_agent },
        }
    }

    async fn authenticate(&self, headers: &HeaderMap, route: &Route) -> Result<Caller, ApiError> {
        for name in [header::AUTHORIZATION.as_str(), ORG_HEADER, IDEMPOTENCY_KEY] {
            if headers.get_all(name).iter().nth(1).is_some() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "duplicate_header",
                    format!("the `{name}` header is given more than once; send it once"),
                ));
            }
        }
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized("a bearer token is required"));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
        let now = self.app.clock.now();
        let claims =
            self.tokens.verify(&self.keys, token, now).await.map_err(|e| ApiError::unauthorized(format!("{e}")))?;
        let mut caller = claims.caller();
        if let Some(v) = headers.get(ORG_HEADER) {
            let target: OrgId = v
                .to_str()
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| ApiError::field("X-Org-Id", "is not a valid org id"))?;
            // the cross-org rule of the permission table, for the route's action
            let allowed = target == caller.org_id
                || route.action.is_some_and(|a| openinsure_core::permission::may_act_for_another_org(caller.role, a));
            if !allowed {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "cross_org_forbidden",
                    format!("role `{}` may not act for another org", caller.role),
                ));
            }
            caller.org_id = target;
        }
        Ok(caller)
    }
}

/// Tokens already verified (signature, algorithm, key, claims), so a client's repeated requests
/// skip the HMAC and the decoding; the time claims are checked again on every use. Keyed by the
/// whole token, so only the very same bytes hit. Bounded: emptied when full.
///
/// With [`Api::with_sessions`] a miss in process looks in a shared edge store (Workers KV) before
/// verifying, and a verified token is stored there for [`SESSION_TTL`] (never beyond its expiry):
/// the seed's sessions in KV, shared by every isolate. The entry is keyed by the SHA-256 of the
/// token under the keys' [`TokenKeys::fingerprint`], so it holds no token, and a rotated key set
/// finds none of the old entries.
#[derive(Default)]
struct TokenCache {
    verified: std::sync::RwLock<std::collections::HashMap<Box<str>, Claims>>,
    sessions: Option<openinsure_hipaa::EdgeCache<Session>>,
}

/// How long a verified session is kept in the shared edge store (KV's shortest is one minute).
pub const SESSION_TTL: chrono::Duration = chrono::Duration::minutes(5);

/// A verified token's claims as the edge store keeps them: no PHI, checked at compile time.
#[derive(serde::Serialize, serde::Deserialize, openinsure_hipaa::EdgeSafe)]
struct Session {
    #[phi(cleared = "an opaque user id, not a person's name or contact")]
    sub: openinsure_core::ids::UserId,
    org: OrgId,
    role: openinsure_core::tenancy::Role,
    iat: i64,
    exp: i64,
    nbf: Option<i64>,
    mfa: bool,
}

impl From<&Claims> for Session {
    fn from(c: &Claims) -> Self {
        Session { sub: c.sub, org: c.org, role: c.role, iat: c.iat, exp: c.exp, nbf: c.nbf, mfa: c.mfa }
    }
}

impl From<Session> for Claims {
    fn from(s: Session) -> Self {
        Claims { sub: s.sub, org: s.org, role: s.role, iat: s.iat, exp: s.exp, nbf: s.nbf, mfa: s.mfa }
    }
}

impl TokenCache {
    const CAPACITY: usize = 1 << 16;

    fn remember(&self, token: &str, claims: &Claims) {
        if let Ok(mut m) = self.verified.write() {
            if m.len() >= Self::CAPACITY {
                m.clear();
            }
            m.insert(token.into(), claims.clone());
        }
    }

    fn session_key(keys: &TokenKeys, token: &str) -> Option<openinsure_hipaa::EdgeKey> {
        let digest = Sha256::digest(token.as_bytes());
        let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        openinsure_hipaa::EdgeKey::global(&format!("session/{}/{hash}", keys.fingerprint())).ok()
    }

    async fn verify(&self, keys: &TokenKeys, token: &str, now: DateTime<Utc>) -> Result<Claims, AuthError> {
        let hit = self.verified.read().ok().and_then(|m| m.get(token).cloned());
        if let Some(claims) = hit {
            keys.still_valid(&claims, now)?;
            return Ok(claims);
        }
        let shared = self.sessions.as_ref().and_then(|s| Some((s, Self::session_key(keys, token)?)));
        if let Some((sessions, key)) = &shared {
            match sessions.get(key).await {
                Ok(Some(session)) => {
                    let claims = Claims::from(session);
                    keys.still_valid(&claims, now)?;
                    self.remember(token, &claims);
                    return Ok(claims);
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "session store unreadable; verifying the token"),
            }
        }
        let claims = keys.verify(token, now)?;
        self.remember(token, &claims);
        if let Some((sessions, key)) = &shared {
            let left = chrono::Duration::seconds(claims.exp.saturating_sub(now.timestamp()));
            let ttl = left.min(SESSION_TTL);
            if ttl >= chrono::Duration::minutes(1)
                && let Err(error) = sessions.put(key, &Session::from(&claims), Some(ttl)).await
            {
                tracing::warn!(%error, "session not stored; the next isolate verifies the token");
            }
        }
        Ok(claims)
    }
}

fn reply_response(reply: Reply) -> Response<Bytes> {
    let mut response = json_response(reply.status, reply.body);
    if let Ok(v) = HeaderValue::from_str(reply.content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Some(ticket) = reply.live {
        response.extensions_mut().insert(ticket);
    }
    response
}

/// The stored body of a refused first request: its error envelope, with the first request's id.
fn error_body(e: &ApiError, request_id: &str) -> Bytes {
    e.clone().into_response(request_id).into_body()
}

fn is_json(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(ct) => {
            let essence = ct.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
                || (essence.len() > 5 && essence[..essence.len() - 5].contains('/') && essence.ends_with("+json"))
        }
    }
}

/// The client's request id, if it is 1 to 128 characters of `[A-Za-z0-9._-]`.
fn request_id(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(REQUEST_ID)?.to_str().ok()?;
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then(|| v.to_owned())
}

fn idempotency_scope(caller: &Caller, value: &HeaderValue) -> Result<IdempotencyScope, ApiError> {
    let key =
        value.to_str().ok().filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()));
    let key = key.ok_or_else(|| ApiError::field("Idempotency-Key", "must be 1 to 255 visible ASCII characters"))?;
    Ok(IdempotencyScope { org: caller.org_id, user: caller.user_id, key: key.to_owned() })
}

fn fingerprint(request: &Request<Bytes>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(request.method().as_str().as_bytes());
    h.update([0]);
    h.update(request.uri().path().as_bytes());
    h.update([0]);
    h.update(request.uri().query().unwrap_or("").as_bytes());
    h.update([0]);
    // the body's JSON meaning, not its bytes: other whitespace or key order is the same request
    // (object keys serialize sorted); a body that is not JSON is compared byte for byte
    match openinsure_core::json::parse(request.body(), 64) {
        Ok(value) => {
            h.update([1]);
            h.update(serde_json::to_vec(&value).unwrap_or_default());
        }
        Err(_) => {
            h.update([2]);
            h.update(request.body());
        }
    }
    h.finalize().into()
}
