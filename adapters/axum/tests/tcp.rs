//! The API over real TCP: the whole flow as each role, host limits, cross-org, graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::TimeZone;
use openinsure::api::{Api, ApiConfig};
use openinsure::dispatch::Dispatcher;
use openinsure::ledger::LedgerSubscriber;
use openinsure::{App, Ports};
use openinsure_auth::TokenKeys;
use openinsure_core::clock::{Clock, FixedClock, SequentialIds};
use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::tenancy::{Caller, Role};
use openinsure_hipaa::{AuditAction, PhiAuditLogExt};
use openinsure_memory::MemoryLedger;
use openinsure_memory::audit::MemoryAuditLog;
use openinsure_rating::{RateBook, RateTable};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;

const SECRET: &[u8] = b"tcp tests: a secret of 32 bytes!";

struct Server {
    base: String,
    keys: TokenKeys,
    clock: Arc<FixedClock>,
    app: App,
    ledger: MemoryLedger,
    audit: MemoryAuditLog,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    http: reqwest::Client,
    live: openinsure_axum::LiveHub,
}

async fn start(config: ApiConfig) -> Server {
    let mut book = RateBook::new();
    book.insert(RateTable::from_json(include_str!("../../../examples/rate-tables/general-liability.json")).unwrap())
        .unwrap();
    let clock = Arc::new(FixedClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()));
    let ledger = MemoryLedger::new();
    let audit = MemoryAuditLog::default();
    let mut ports = Ports::in_memory(clock.clone(), Arc::new(SequentialIds::new(7)));
    ports.ledger = Arc::new(ledger.clone());
    ports.audit = Arc::new(audit.clone());
    let room_store = ports.rooms.clone();
    let app = App::new(ports, Arc::new(book));
    let keys = TokenKeys::new("tcp", SECRET).unwrap();
    let api = Api::new(app.clone(), keys.clone(), std::sync::Arc::new(openinsure_memory::MemoryIdempotency::default()))
        .with_config(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let live = openinsure_axum::LiveHub::default();
    let rooms = openinsure_axum::RoomHost::new(
        room_store,
        Arc::new(SequentialIds::new(8)),
        clock.clone(),
        openinsure_axum::RoomHostConfig::default(),
    );
    let router = openinsure_axum::router_with_live(api, openinsure_axum::HostConfig::default(), rooms, live.clone());
    let hub = live.clone();
    let task = tokio::spawn(openinsure_axum::serve(listener, router, async move {
        let _ = rx.await;
        hub.close();
    }));
    Server {
        base: format!("http://{addr}"),
        keys,
        clock,
        app,
        ledger,
        audit,
        stop: Some(tx),
        task,
        http: reqwest::Client::new(),
        live,
    }
}

fn who(org: u128, user: u128, role: Role) -> Caller {
    Caller::new(
        UserId::from_uuid(uuid::Uuid::from_u128(org * 1000 + user)),
        OrgId::from_uuid(uuid::Uuid::from_u128(org)),
        role,
    )
}

impl Server {
    async fn send(&self, method: reqwest::Method, path: &str, c: &Caller, body: Option<Value>) -> (StatusCode, Value) {
        let token = self.keys.issue(c, self.clock.now()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    async fn ok(&self, method: &str, path: &str, c: &Caller, body: Option<Value>) -> Value {
        let (status, body) = self.send(method.parse().unwrap(), path, c, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body["data"].clone()
    }

    async fn deliver(&self) {
        Dispatcher::new(self.app.backend().clone())
            .subscribe(Arc::new(LedgerSubscriber::new(Arc::new(self.ledger.clone()))))
            .subscribe(Arc::new(self.live.clone()))
            .run_once()
            .await
            .unwrap();
    }
}

fn acme() -> Value {
    serde_json::from_str(include_str!("../../../examples/submissions/acme.json")).unwrap()
}

/// An admin sets the org up over the API: a DA agreement, a level-1 profile for the underwriter.
async fn set_up_org(s: &Server, admin: &Caller, underwriter: &Caller) {
    s.ok(
        "POST",
        "/v1/da-agreements",
        admin,
        Some(json!({
            "programId": "0192f0c0-0000-7000-8000-000000000001",
            "carrierId": "0192f0c0-0000-7000-8000-0000000000ca",
            "name": "Main Street GL",
            "status": "active",
            "effectiveDate": "2026-07-01",
            "expirationDate": "2027-07-01",
            "maxOccurrenceLimitCents": 200_000_000,
            "maxAggregateLimitCents": 400_000_000,
            "maxPremiumCents": 25_000_000,
            "authorizedStates": "all",
            "excludedStates": [],
            "authorizedNaics": [],
            "excludedNaics": [],
            "annualPremiumLimitCents": 500_000_000,
            "maxPoliciesPerInsured": 1,
            "allowedTermsMonths": [12],
            "referralTriggers": {}
        })),
    )
    .await;
    let profile = s
        .ok(
            "POST",
            "/v1/authority/profiles",
            admin,
            Some(json!({
                "name": "GL level 1", "level": 1, "lineOfBusiness": "general_liability",
                "maxOccurrenceLimitCents": 100_000_000, "maxAggregateLimitCents": 200_000_000,
                "maxPremiumCents": 2_500_000, "canApproveReferrals": false
            })),
        )
        .await;
    s.ok(
        "POST",
        "/v1/authority/assignments",
        admin,
        Some(json!({ "userId": underwriter.user_id, "profileId": profile["id"] })),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_over_tcp_as_each_role() {
    let s = start(ApiConfig::default()).await;
    let (admin, producer, underwriter) =
        (who(1, 1, Role::Admin), who(1, 2, Role::Producer), who(1, 3, Role::Underwriter));
    let adjuster = who(1, 4, Role::Adjuster);
    let supervisor = who(1, 5, Role::ClaimsSupervisor);
    let finance = who(1, 6, Role::FinanceAnalyst);
    set_up_org(&s, &admin, &underwriter).await;

    let sub = s.ok("POST", "/v1/submissions", &producer, Some(acme())).await;
    let sid = sub["id"].as_str().unwrap().to_owned();
    let quote = s.ok("POST", &format!("/v1/submissions/{sid}/quote"), &producer, None).await;
    let policy = s
        .ok(
            "POST",
            &format!("/v1/submissions/{sid}/bind"),
            &underwriter,
            Some(json!({ "quoteId": quote["id"], "billingPlan": "quarterly", "downPaymentId": "0192f0c0-0000-7000-8000-00000000d0d0" })),
        )
        .await;
    let pid = policy["id"].as_str().unwrap().to_owned();
    assert_eq!(policy["billing"]["installments"].as_array().unwrap().len(), 4);
    s.ok("POST", &format!("/v1/policies/{pid}/issue"), &admin, None).await;
    s.ok(
        "POST",
        &format!("/v1/policies/{pid}/payments"),
        &finance,
        Some(json!({ "installment": 2, "paymentId": "0192f0c0-0000-7000-8000-00000000d0d1" })),
    )
    .await;
    s.deliver().await;
    let tb = s.ok("GET", "/v1/ledger/trial-balance", &finance, None).await;
    assert_eq!(tb["totalDebitsCents"], tb["totalCreditsCents"]);

    s.clock.set(chrono::Utc.with_ymd_and_hms(2027, 3, 1, 10, 0, 0).unwrap());
    let claim = s
        .ok(
            "POST",
            "/v1/claims",
            &producer,
            Some(json!({
                "policyId": pid, "dateOfLoss": "2027-02-14", "lossDescription": "fall from a dock",
                "claimantName": "Jane Roe", "claimantSsn": "123-45-6789"
            })),
        )
        .await;
    let cid = claim["id"].as_str().unwrap().to_owned();
    s.ok("POST", &format!("/v1/claims/{cid}/assign"), &supervisor, Some(json!({ "adjusterId": adjuster.user_id })))
        .await;
    s.ok("POST", &format!("/v1/claims/{cid}/status"), &adjuster, Some(json!({ "status": "open" }))).await;
    s.ok(
        "POST",
        &format!("/v1/claims/{cid}/reserve"),
        &adjuster,
        Some(json!({ "reserveCents": 800_000, "reason": "estimate" })),
    )
    .await;
    let seen = s.ok("GET", &format!("/v1/claims/{cid}"), &adjuster, None).await;
    assert_eq!(seen["claimantName"], "Jane Roe");
    let hidden = s.ok("GET", &format!("/v1/claims/{cid}"), &producer, None).await;
    assert_eq!(hidden["claimantName"], openinsure_hipaa::REDACTED);

    // the audit log has the client's address as the socket saw it
    let (_, entries) = s.audit.chain(admin.org_id).await.unwrap();
    let read = entries.iter().find(|e| e.action == AuditAction::Read).unwrap();
    assert_eq!(read.ip_address, Some("127.0.0.1".parse().unwrap()));

    // another org reaches none of it
    let intruder = who(2, 1, Role::Admin).with_mfa(true);
    for path in [format!("/v1/submissions/{sid}"), format!("/v1/policies/{pid}"), format!("/v1/claims/{cid}")] {
        let (status, body) = s.send(reqwest::Method::GET, &path, &intruder, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_refuses_bad_bodies_with_the_envelope() {
    let s = start(ApiConfig { max_body_bytes: 2048, ..ApiConfig::default() }).await;
    let producer = who(1, 2, Role::Producer);
    let token = s.keys.issue(&producer, s.clock.now()).unwrap();
    let url = format!("{}/v1/submissions", s.base);

    let health = s.http.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    // too large, declared in Content-Length
    let resp = s.http.post(&url).bearer_auth(&token).body(vec![b' '; 4096]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(resp.headers().contains_key("x-request-id"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");

    // too large, streamed without a length
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..8).map(|_| Ok(vec![b' '; 512])).collect();
    let stream = reqwest::Body::wrap_stream(futures_stream(chunks));
    let resp = s.http.post(&url).bearer_auth(&token).body(stream).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // malformed, deeply nested, and shapes that are not a submission
    for (body, code) in [
        ("{\"insuredName\": ".to_owned(), "malformed_json"),
        (format!("{}{}", "[".repeat(100), "]".repeat(100)), "too_deeply_nested"),
        ("[1, 2, 3]".to_owned(), "invalid_fields"),
    ] {
        let resp = s
            .http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], code);
    }
    // nothing was written
    let list = s.ok("GET", "/v1/submissions", &producer, None).await;
    assert_eq!(list.as_array().unwrap().len(), 0);
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    struct Chunks(std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Chunks(chunks.into_iter())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_graceful() {
    let mut s = start(ApiConfig::default()).await;
    let producer = who(1, 2, Role::Producer);
    s.ok("GET", "/v1/submissions", &producer, None).await;
    s.stop.take().unwrap().send(()).unwrap();
    let served = tokio::time::timeout(std::time::Duration::from_secs(10), &mut s.task).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "serve returns once shut down");
    let refused = reqwest::Client::new().get(format!("{}/healthz", s.base)).send().await;
    assert!(refused.is_err(), "no new connections after shutdown");
}

/// Reads Server-Sent Events until `n` have come (or 10 s pass): (event, data) pairs.
async fn sse(response: reqwest::Response, n: usize) -> Vec<(String, Value)> {
    use futures_util::StreamExt as _;
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while out.len() < n {
        let chunk = match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(c))) => c,
            _ => break,
        };
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if !event.is_empty() {
                out.push((event, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_and_claims_are_followed_live_with_claims_redacted_by_role() {
    let mut s = start(ApiConfig::default()).await;
    let (admin, producer, underwriter) =
        (who(1, 1, Role::Admin), who(1, 2, Role::Producer), who(1, 3, Role::Underwriter));
    let adjuster = who(1, 4, Role::Adjuster);
    let finance = who(1, 6, Role::FinanceAnalyst);
    set_up_org(&s, &admin, &underwriter).await;
    let sub = s.ok("POST", "/v1/submissions", &producer, Some(acme())).await;
    let sid = sub["id"].as_str().unwrap().to_owned();
    s.ok("POST", &format!("/v1/submissions/{sid}/quote"), &producer, None).await;
    let policy = s.ok("POST", &format!("/v1/submissions/{sid}/bind"), &underwriter, None).await;
    let pid = policy["id"].as_str().unwrap().to_owned();
    s.deliver().await;
    s.clock.set(chrono::Utc.with_ymd_and_hms(2027, 3, 1, 10, 0, 0).unwrap());
    let claim = s
        .ok(
            "POST",
            "/v1/claims",
            &producer,
            Some(json!({
                "policyId": pid, "dateOfLoss": "2027-02-14", "lossDescription": "fall from a dock",
                "claimantName": "Jane Roe", "claimantSsn": "123-45-6789"
            })),
        )
        .await;
    let cid = claim["id"].as_str().unwrap().to_owned();
    let supervisor = who(1, 5, Role::ClaimsSupervisor);
    s.ok("POST", &format!("/v1/claims/{cid}/assign"), &supervisor, Some(json!({ "adjusterId": adjuster.user_id })))
        .await;
    s.deliver().await;

    let follow = |path: String, c: &Caller| {
        let token = s.keys.issue(c, s.clock.now()).unwrap();
        s.http.get(format!("{}{path}", s.base)).bearer_auth(token).header("accept", "text/event-stream").send()
    };
    // refusals come before any stream: no token, another org's record
    let anonymous = s.http.get(format!("{}/v1/claims/{cid}/live", s.base)).header("accept", "text/event-stream");
    assert_eq!(anonymous.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let intruder = who(2, 1, Role::Admin).with_mfa(true);
    assert_eq!(follow(format!("/v1/claims/{cid}/live"), &intruder).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(follow(format!("/v1/policies/{pid}/live"), &intruder).await.unwrap().status(), StatusCode::NOT_FOUND);
    // without the event-stream type, the snapshot as JSON
    let (status, snap) = s.send(reqwest::Method::GET, &format!("/v1/policies/{pid}/live"), &producer, None).await;
    assert_eq!((status, snap["data"]["type"].as_str()), (StatusCode::OK, Some("snapshot")));

    let by_adjuster = follow(format!("/v1/claims/{cid}/live"), &adjuster).await.unwrap();
    let by_producer = follow(format!("/v1/claims/{cid}/live"), &producer).await.unwrap();
    let on_policy = follow(format!("/v1/policies/{pid}/live"), &producer).await.unwrap();
    for r in [&by_adjuster, &by_producer, &on_policy] {
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    }
    // the subscriptions are open before anything changes
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while s.live.subscribers() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    s.ok("POST", &format!("/v1/claims/{cid}/status"), &adjuster, Some(json!({ "status": "open" }))).await;
    s.ok(
        "POST",
        &format!("/v1/claims/{cid}/reserve"),
        &adjuster,
        Some(json!({ "reserveCents": 800_000, "reason": "estimate" })),
    )
    .await;
    s.ok("POST", &format!("/v1/policies/{pid}/issue"), &admin, None).await;
    s.ok(
        "POST",
        &format!("/v1/policies/{pid}/payments"),
        &finance,
        Some(json!({ "installment": 1, "paymentId": "0192f0c0-0000-7000-8000-00000000d0d9" })),
    )
    .await;
    s.deliver().await;

    let adjuster_saw = sse(by_adjuster, 3).await;
    let producer_saw = sse(by_producer, 3).await;
    let policy_saw = sse(on_policy, 3).await;
    let kinds = |v: &[(String, Value)]| v.iter().map(|(e, _)| e.clone()).collect::<Vec<_>>();
    assert_eq!(kinds(&adjuster_saw), ["snapshot", "claim.status_changed", "claim.transaction"]);
    assert_eq!(kinds(&producer_saw), kinds(&adjuster_saw));
    assert_eq!(kinds(&policy_saw), ["snapshot", "policy.issued", "payment.received"]);
    // each message carries the record as that role reads it over REST
    assert_eq!(adjuster_saw[2].1["claim"]["claimantName"], "Jane Roe");
    assert_eq!(producer_saw[2].1["claim"]["claimantName"], openinsure_hipaa::REDACTED);
    assert_eq!(adjuster_saw[2].1["claim"]["status"], "open");
    assert_eq!(adjuster_saw[2].1["event"]["type"], "claim.transaction");
    let rest = s.ok("GET", &format!("/v1/claims/{cid}"), &producer, None).await;
    assert_eq!(producer_saw[2].1["claim"], rest, "the same view as the REST read");
    assert_eq!(policy_saw[1].1["policy"]["status"], "issued");
    // no PHI reaches the producer by this road
    let text = serde_json::to_string(&producer_saw.iter().map(|(_, d)| d).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains("Jane Roe") && !text.contains("123-45-6789"), "{text}");

    // shutdown ends the streams: the server stops
    s.stop.take().unwrap().send(()).unwrap();
    let served = tokio::time::timeout(std::time::Duration::from_secs(10), &mut s.task).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "serve returns with subscriptions open");
}
