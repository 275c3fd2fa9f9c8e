//! The HTTP API in process: the whole flow per role, every error status, cross-org attempts on
//! every route, idempotency keys, pagination, the OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use chrono::Duration;
use common::{CountingGateway, World, acme, agreement_json, caller, org, world};
use http::{HeaderMap, Request, StatusCode};
use openinsure::api::{Api, ApiConfig, ROUTES, RateLimit};
use openinsure::dispatch::Dispatcher;
use openinsure::ledger::LedgerSubscriber;
use openinsure_auth::TokenKeys;
use openinsure_core::clock::Clock;
use openinsure_core::tenancy::{Caller, Role};
use openinsure_hipaa::{AuditAction, PhiAuditLogExt, REDACTED};
use openinsure_memory::MemoryLedger;
use openinsure_memory::audit::MemoryAuditLog;
use serde_json::{Value, json};

const SECRET: &[u8] = b"api tests: a secret of 32 bytes+";

struct Harness {
    api: Api,
    keys: TokenKeys,
    w: World,
    ledger: MemoryLedger,
    audit: MemoryAuditLog,
    gateway: Arc<CountingGateway>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn data(&self) -> &Value {
        &self.body["data"]
    }
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

fn harness_with(config: ApiConfig) -> Harness {
    let w = world();
    let ledger = w.ledger.clone();
    let audit = w.audit.clone();
    let gateway = Arc::new(CountingGateway::default());
    let app = w.app.clone().with_room_gateway(gateway.clone());
    let keys = TokenKeys::new("test", SECRET).unwrap();
    let api = Api::new(app, keys.clone(), std::sync::Arc::new(openinsure_memory::MemoryIdempotency::default()))
        .with_config(config);
    Harness { api, keys, w, ledger, audit, gateway }
}

fn harness() -> Harness {
    harness_with(ApiConfig::default())
}

impl Harness {
    fn token(&self, c: &Caller) -> String {
        self.keys.issue(c, self.w.clock.now()).unwrap()
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        who: Option<&Caller>,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path).header("user-agent", "api-tests/1.0");
        if let Some(c) = who {
            req = req.header("authorization", format!("Bearer {}", self.token(c)));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let peer: IpAddr = "198.51.100.9".parse().unwrap();
        let resp = self.api.handle(req.body(body).unwrap(), Some(peer)).await;
        let (parts, body) = resp.into_parts();
        let csv = parts.headers.get("content-type").is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/csv"));
        let body = if body.is_empty() {
            Value::Null
        } else if csv {
            Value::String(String::from_utf8(body.to_vec()).unwrap())
        } else {
            serde_json::from_slice(&body).unwrap()
        };
        assert!(parts.headers.contains_key("x-request-id"), "every response has a request id");
        if !parts.status.is_success() && !parts.headers.contains_key("idempotent-replayed") {
            assert_eq!(
                body["error"]["requestId"].as_str(),
                parts.headers["x-request-id"].to_str().ok(),
                "{method} {path}: the error names the request id"
            );
        }
        Answer { status: parts.status, headers: parts.headers, body }
    }

    async fn call(&self, method: &str, path: &str, who: &Caller, body: Option<Value>) -> Answer {
        let bytes = body.map(|b| Bytes::from(serde_json::to_vec(&b).unwrap())).unwrap_or_default();
        self.raw(method, path, Some(who), bytes, &[]).await
    }

    async fn ok(&self, method: &str, path: &str, who: &Caller, body: Option<Value>) -> Value {
        let a = self.call(method, path, who, body).await;
        assert!(a.status.is_success(), "{method} {path}: {} {}", a.status, a.body);
        assert_money_fields_in_cents(&a.body, path);
        a.body["data"].clone()
    }

    async fn dispatch_events(&self) {
        Dispatcher::new(self.api.app().backend().clone())
            .subscribe(Arc::new(LedgerSubscriber::new(Arc::new(self.ledger.clone()))))
            .run_once()
            .await
            .unwrap();
    }
}

/// Every integer that is an amount of money sits in a field whose name ends in `Cents`.
fn assert_money_fields_in_cents(v: &Value, at: &str) {
    const MONEY_WORDS: [&str; 12] = [
        "premium",
        "amount",
        "reserve",
        "paid",
        "fee",
        "tax",
        "commission",
        "total",
        "balance",
        "deductible",
        "revenue",
        "limit",
    ];
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                if k == "page" {
                    continue;
                }
                let lower = k.to_ascii_lowercase();
                if val.is_i64() && MONEY_WORDS.iter().any(|w| lower.contains(w)) {
                    assert!(k.ends_with("Cents") || lower.contains("count"), "{at}: money field `{k}` is not in cents");
                }
                assert_money_fields_in_cents(val, at);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| assert_money_fields_in_cents(i, at)),
        _ => {}
    }
}

fn notice(policy_id: &str) -> Value {
    json!({
        "policyId": policy_id,
        "dateOfLoss": "2027-02-14",
        "lossDescription": "employee fell from a loading dock",
        "claimantName": "Jane Roe",
        "claimantDob": "1984-06-02",
        "claimantSsn": "123-45-6789",
        "diagnosisCodes": ["S52.501A"],
        "treatmentNotes": "closed reduction, cast"
    })
}

#[tokio::test]
async fn from_submission_to_claim_as_each_role() {
    let h = harness();
    let o = org(&h.w, 1).await;
    let admin = caller(1, 1, Role::Admin);
    let adjuster = caller(1, 21, Role::Adjuster);
    let supervisor = caller(1, 20, Role::ClaimsSupervisor);
    let finance = caller(1, 24, Role::FinanceAnalyst);

    // the producer submits and quotes
    let sub = h.ok("POST", "/v1/submissions", &o.producer, Some(acme())).await;
    let sid = sub["id"].as_str().unwrap().to_owned();
    assert_eq!(sub["status"], "draft");
    let quote = h.ok("POST", &format!("/v1/submissions/{sid}/quote"), &o.producer, None).await;
    assert!(quote["grossPremiumCents"].as_i64().unwrap() > 0);
    assert!(quote["quotedAt"].as_str().unwrap().ends_with('Z'), "times are RFC 3339 UTC");
    let read = h.ok("GET", &format!("/v1/quotes/{}", quote["id"].as_str().unwrap()), &o.producer, None).await;
    assert_eq!(read, quote);

    // the underwriter binds on ten-pay with a down payment
    let bind = json!({ "billingPlan": "ten_pay", "downPaymentId": "0192f0c0-0000-7000-8000-00000000d0d0" });
    let policy = h.ok("POST", &format!("/v1/submissions/{sid}/bind"), &o.underwriter, Some(bind)).await;
    let pid = policy["id"].as_str().unwrap().to_owned();
    assert_eq!(policy["status"], "bound");
    assert_eq!(policy["quoteId"], quote["id"], "the latest quote is bound");
    let installments = policy["billing"]["installments"].as_array().unwrap();
    assert_eq!(installments.len(), 9, "20% down, then eight monthly payments");
    let sum: i64 = installments
        .iter()
        .map(|i| i["totalCents"].as_i64().unwrap() - i["installmentFeeCents"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, quote["totalDueCents"].as_i64().unwrap(), "installments sum to the cent");

    // finance records the second installment; the ledger books both payments from the outbox
    let pay = json!({ "installment": 2, "paymentId": "0192f0c0-0000-7000-8000-00000000d0d1" });
    h.ok("POST", &format!("/v1/policies/{pid}/payments"), &finance, Some(pay)).await;
    h.ok("POST", &format!("/v1/policies/{pid}/issue"), &admin, None).await;
    h.dispatch_events().await;
    let tb = h.ok("GET", "/v1/ledger/trial-balance", &finance, None).await;
    assert_eq!(tb["totalDebitsCents"], tb["totalCreditsCents"]);
    assert!(tb["totalDebitsCents"].as_u64().unwrap() > 0);
    let transfers = h.ok("GET", &format!("/v1/policies/{pid}/transfers"), &finance, None).await;
    assert!(!transfers.as_array().unwrap().is_empty());
    let balances = h.ok("GET", "/v1/ledger/balances", &finance, None).await;
    assert_eq!(balances.as_array().unwrap().len(), 14);
    let fiduciary = h.ok("GET", "/v1/ledger/balances/MGA_FIDUCIARY", &finance, None).await;
    assert!(fiduciary["debitsPostedCents"].as_u64().unwrap() > 0);
    let journal = h.ok("GET", "/v1/ledger/journal?limit=5", &finance, None).await;
    assert_eq!(journal.as_array().unwrap().len(), 5);

    // a claim: filed by the producer, assigned, reserved and paid by the adjuster
    h.w.clock.set(chrono::DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z").unwrap().to_utc());
    let claim = h.ok("POST", "/v1/claims", &o.producer, Some(notice(&pid))).await;
    let cid = claim["id"].as_str().unwrap().to_owned();
    assert_eq!(claim["claimantName"], REDACTED, "the producer sees no PHI");
    h.ok("POST", &format!("/v1/claims/{cid}/assign"), &supervisor, Some(json!({ "adjusterId": adjuster.user_id })))
        .await;
    h.ok("POST", &format!("/v1/claims/{cid}/status"), &adjuster, Some(json!({ "status": "open" }))).await;
    let reserved = h
        .ok(
            "POST",
            &format!("/v1/claims/{cid}/reserve"),
            &adjuster,
            Some(json!({ "reserveCents": 1_500_000, "reason": "initial estimate" })),
        )
        .await;
    assert_eq!(reserved["claimantName"], "Jane Roe", "the assigned adjuster sees PHI");
    h.ok("POST", &format!("/v1/claims/{cid}/status"), &adjuster, Some(json!({ "status": "reserved" }))).await;
    h.ok(
        "POST",
        "/v1/ledger/loss-fund",
        &finance,
        Some(json!({ "amountCents": 150_000, "fundingId": "0192f0c0-0000-7000-8000-0000000000f1" })),
    )
    .await;
    let paid = h
        .ok(
            "POST",
            &format!("/v1/claims/{cid}/payments"),
            &adjuster,
            Some(json!({ "amountCents": 100_000, "paymentId": "0192f0c0-0000-7000-8000-0000000000a1" })),
        )
        .await;
    assert_eq!(paid["paidCents"], 100_000);
    assert_eq!(paid["reserveCents"], 1_400_000);
    h.dispatch_events().await;
    let claims_paid = h.ok("GET", "/v1/ledger/balances/CLAIMS_PAID", &finance, None).await;
    assert_eq!(claims_paid["creditsPostedCents"], 100_000);

    // each role's view of the claim; every PHI read audited with the request's ip and user agent
    let as_admin = h.ok("GET", &format!("/v1/claims/{cid}"), &admin, None).await;
    assert_eq!(as_admin["claimantName"], REDACTED, "admin without MFA");
    let as_mfa_admin = h.ok("GET", &format!("/v1/claims/{cid}"), &admin.with_mfa(true), None).await;
    assert_eq!(as_mfa_admin["claimantName"], "Jane Roe");
    let listed = h.ok("GET", "/v1/claims", &o.producer, None).await;
    assert_eq!(listed[0]["claimantName"], REDACTED);
    let (_, entries) = h.audit.chain(o.admin.org_id).await.unwrap();
    let reads: Vec<_> = entries.iter().filter(|e| e.action == AuditAction::Read).collect();
    assert!(reads.iter().any(|e| e.user_id == adjuster.user_id));
    assert!(entries.iter().all(|e| e.ip_address == Some("198.51.100.9".parse().unwrap())));
    assert!(entries.iter().all(|e| e.user_agent.as_deref() == Some("api-tests/1.0")));
}

#[tokio::test]
async fn every_error_status_is_reached() {
    let h = harness_with(ApiConfig { max_body_bytes: 4096, ..ApiConfig::default() });
    let o = org(&h.w, 1).await;
    let sub = h.ok("POST", "/v1/submissions", &o.producer, Some(acme())).await;
    let sid = sub["id"].as_str().unwrap().to_owned();

    // 400: malformed JSON, every invalid field at once, nesting too deep, a bad id, a bad query
    let a = h.raw("POST", "/v1/submissions", Some(&o.producer), Bytes::from_static(b"{\"insuredName\": "), &[]).await;
    assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "malformed_json"));
    let mut bad = acme();
    bad["riskState"] = json!("ZZ");
    bad["annualRevenueCents"] = json!(-5);
    bad["effectiveDate"] = json!("soon");
    let a = h.call("POST", "/v1/submissions", &o.producer, Some(bad)).await;
    assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "invalid_fields"));
    let paths: Vec<&str> =
        a.body["error"]["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(
        paths.contains(&"riskState") && paths.contains(&"annualRevenueCents") && paths.contains(&"effectiveDate"),
        "{paths:?}"
    );
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    let a = h.raw("POST", "/v1/submissions", Some(&o.producer), Bytes::from(deep), &[]).await;
    assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "too_deeply_nested"));
    let a = h.call("GET", "/v1/submissions/not-a-uuid", &o.producer, None).await;
    assert_eq!((a.status, a.body["error"]["fields"][0]["path"].as_str()), (StatusCode::BAD_REQUEST, Some("path.id")));
    let a = h.call("GET", "/v1/submissions?limit=500", &o.producer, None).await;
    assert_eq!((a.status, a.body["error"]["fields"][0]["path"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")));
    let a = h
        .call("POST", &format!("/v1/submissions/{sid}/bind"), &o.underwriter, Some(json!({ "billingPlan": "weekly" })))
        .await;
    assert_eq!(
        (a.status, a.body["error"]["fields"][0]["path"].as_str()),
        (StatusCode::BAD_REQUEST, Some("billingPlan"))
    );

    // 401: no token, a garbage token, an expired token, a token signed with another key
    let a = h.raw("GET", "/v1/submissions", None, Bytes::new(), &[]).await;
    assert_eq!((a.status, a.code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    assert_eq!(a.headers["www-authenticate"], "Bearer");
    let a = h.raw("GET", "/v1/submissions", None, Bytes::new(), &[("authorization", "Bearer abc.def.ghi")]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let expired = h.keys.issue(&o.producer, h.w.clock.now() - Duration::days(1)).unwrap();
    let a =
        h.raw("GET", "/v1/submissions", None, Bytes::new(), &[("authorization", &format!("Bearer {expired}"))]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("expired"), "{}", a.body);
    // a token that worked is refused once it expires (verified tokens are cached; their times are not)
    let short = h.keys.clone().with_lifetime(Duration::minutes(5)).issue(&o.producer, h.w.clock.now()).unwrap();
    let bearer = format!("Bearer {short}");
    let a = h.raw("GET", "/v1/submissions", None, Bytes::new(), &[("authorization", &bearer)]).await;
    assert_eq!(a.status, StatusCode::OK);
    h.w.clock.advance(Duration::minutes(6));
    let a = h.raw("GET", "/v1/submissions", None, Bytes::new(), &[("authorization", &bearer)]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("expired"), "{}", a.body);
    h.w.clock.set(h.w.clock.now() - Duration::minutes(6));
    let foreign = TokenKeys::new("test", b"another secret that is 32 bytes!").unwrap();
    let forged = foreign.issue(&o.producer, h.w.clock.now()).unwrap();
    let a =
        h.raw("GET", "/v1/submissions", None, Bytes::new(), &[("authorization", &format!("Bearer {forged}"))]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);

    // 403: a producer applying schedule rating, creating an agreement; an auditor submitting
    let schedule = json!({ "schedule": { "adjustments": [{ "reasonCode": "MGMT", "adjustment": "-0.05" }] } });
    let a = h.call("POST", &format!("/v1/submissions/{sid}/quote"), &o.producer, Some(schedule)).await;
    assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let a = h.call("POST", "/v1/da-agreements", &o.producer, Some(agreement_json())).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = h.call("POST", "/v1/submissions", &caller(1, 30, Role::Auditor), Some(acme())).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    // 404: an unknown record, an unknown route; 405: a known path with another method
    let a = h.call("GET", "/v1/submissions/0192f0c0-0000-7000-8000-0000000fffff", &o.producer, None).await;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"));
    let a = h.call("GET", "/v1/nothing-here", &o.producer, None).await;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "route_not_found"));
    let a = h.call("DELETE", "/v1/submissions", &o.producer, None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.headers["allow"], "POST, GET");

    // 413 and 415
    let big = Bytes::from(vec![b' '; 4097]);
    let a = h.raw("POST", "/v1/submissions", Some(&o.producer), big, &[]).await;
    assert_eq!((a.status, a.code()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
    let a = h
        .raw(
            "POST",
            "/v1/submissions",
            Some(&o.producer),
            Bytes::from_static(b"a=b"),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // 422: failing pre-bind checks with their flags; an invalid lifecycle transition; no quote yet
    let mut florida = acme();
    florida["riskState"] = json!("FL");
    florida["mailingAddress"]["state"] = json!("FL");
    let fl = h.ok("POST", "/v1/submissions", &o.producer, Some(florida)).await;
    let fl_id = fl["id"].as_str().unwrap();
    let a = h.call("POST", &format!("/v1/submissions/{fl_id}/bind"), &o.underwriter, None).await;
    assert_eq!((a.status, a.code()), (StatusCode::UNPROCESSABLE_ENTITY, "no_quote"));
    h.ok("POST", &format!("/v1/submissions/{fl_id}/quote"), &o.producer, None).await;
    let a = h.call("POST", &format!("/v1/submissions/{fl_id}/bind"), &o.underwriter, None).await;
    assert_eq!((a.status, a.code()), (StatusCode::UNPROCESSABLE_ENTITY, "prebind_checks_failed"));
    let flags: Vec<&str> =
        a.body["error"]["flags"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert!(flags.contains(&"da_state_excluded"), "{flags:?}");
    h.ok("POST", &format!("/v1/submissions/{sid}/quote"), &o.producer, None).await;
    let policy = h.ok("POST", &format!("/v1/submissions/{sid}/bind"), &o.underwriter, None).await;
    let pid = policy["id"].as_str().unwrap();
    let a = h.call("POST", &format!("/v1/policies/{pid}/reinstate"), &o.underwriter, None).await;
    assert_eq!((a.status, a.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_transition"));
}

#[tokio::test]
async fn conflicts_answer_409() {
    let h = harness();
    let o = org(&h.w, 1).await;
    let sub = h.ok("POST", "/v1/submissions", &o.producer, Some(acme())).await;
    let sid = sub["id"].as_str().unwrap();
    let q1 = h.ok("POST", &format!("/v1/submissions/{sid}/quote"), &o.producer, None).await;
    let q2 = h.ok("POST", &format!("/v1/submissions/{sid}/quote"), &o.producer, None).await;
    h.ok("POST", &format!("/v1/submissions/{sid}/bind"), &o.underwriter, Some(json!({ "quoteId": q1["id"] }))).await;
    let a = h
        .call("POST", &format!("/v1/submissions/{sid}/bind"), &o.underwriter, Some(json!({ "quoteId": q2["id"] })))
        .await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "conflict"), "{}", a.body);
}

#[tokio::test]
async fn rate_limited_callers_are_told_when_to_retry() {
    let h = harness_with(ApiConfig { rate_limit: Some(RateLimit { per_second: 1, burst: 2 }), ..ApiConfig::default() });
    let p = caller(1, 2, Role::Producer);
    let other = caller(1, 3, Role::Producer);
    for _ in 0..2 {
        assert_eq!(h.call("GET", "/v1/submissions", &p, None).await.status, StatusCode::OK);
    }
    let a = h.call("GET", "/v1/submissions", &p, None).await;
    assert_eq!((a.status, a.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert_eq!(a.headers["retry-after"], "1");
    assert_eq!(h.call("GET", "/v1/submissions", &other, None).await.status, StatusCode::OK, "per caller");
    h.w.clock.advance(Duration::seconds(1));
    assert_eq!(h.call("GET", "/v1/submissions", &p, None).await.status, StatusCode::OK);
}

/// A limiter shared beyond the process (Workers' rate limiting binding): the API asks it with the
/// caller's user id, and its refusal is the same 429 with the wait it names.
#[tokio::test]
async fn a_shared_limiter_replaces_the_in_process_one() {
    struct Shared(std::sync::Mutex<Vec<openinsure_core::ids::UserId>>);
    #[async_trait::async_trait]
    impl openinsure::api::Limiter for Shared {
        async fn take(
            &self,
            user: openinsure_core::ids::UserId,
            _now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), u64> {
            let mut seen = self.0.lock().unwrap();
            seen.push(user);
            if seen.iter().filter(|u| **u == user).count() > 1 { Err(60) } else { Ok(()) }
        }
    }
    let shared = Arc::new(Shared(std::sync::Mutex::default()));
    let mut h = harness();
    h.api = h.api.with_limiter(shared.clone()).with_config(ApiConfig::default());
    let p = caller(1, 2, Role::Producer);
    assert_eq!(h.call("GET", "/v1/submissions", &p, None).await.status, StatusCode::OK);
    let a = h.call("GET", "/v1/submissions", &p, None).await;
    assert_eq!(
        (a.status, a.code(), a.headers["retry-after"].to_str().unwrap()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited", "60")
    );
    assert_eq!(h.call("GET", "/v1/submissions", &caller(1, 3, Role::Producer), None).await.status, StatusCode::OK);
    assert_eq!(shared.0.lock().unwrap().len(), 3, "asked once per request, by user");
    // an unauthenticated request never reaches it
    assert_eq!(h.raw("GET", "/v1/submissions", None, Bytes::new(), &[]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(shared.0.lock().unwrap().len(), 3);
}

/// Every id a route can take, from org 1.
struct Ids {
    submission: String,
    quote: String,
    policy: String,
    agreement: String,
    profile: String,
    referral: String,
    claim: String,
    user: String,
    room: String,
    webhook: String,
    delivery: String,
}

async fn org_one_records(h: &Harness) -> Ids {
    let o = org(&h.w, 1).await;
    let sub = h.ok("POST", "/v1/submissions", &o.producer, Some(acme())).await;
    let sid = sub["id"].as_str().unwrap().to_owned();
    let quote = h.ok("POST", &format!("/v1/submissions/{sid}/quote"), &o.producer, None).await;
    let policy = h.ok("POST", &format!("/v1/submissions/{sid}/bind"), &o.underwriter, None).await;
    // a bigger risk, beyond the first underwriter's authority, raises a referral
    let mut big = acme();
    big["requestedOccurrenceLimitCents"] = json!(200_000_000);
    big["requestedAggregateLimitCents"] = json!(400_000_000);
    let big = h.ok("POST", "/v1/submissions", &o.producer, Some(big)).await;
    let bid = big["id"].as_str().unwrap().to_owned();
    h.ok("POST", &format!("/v1/submissions/{bid}/quote"), &o.underwriter, None).await;
    let refused = h.call("POST", &format!("/v1/submissions/{bid}/bind"), &o.underwriter, None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    let referrals = h.ok("GET", "/v1/referrals?status=pending", &o.underwriter, None).await;
    let agreements = h.ok("GET", "/v1/da-agreements", &o.admin, None).await;
    let profiles = h.ok("GET", "/v1/authority/profiles", &o.admin, None).await;
    h.w.clock.set(chrono::DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z").unwrap().to_utc());
    let pid = policy["id"].as_str().unwrap();
    let claim = h.ok("POST", "/v1/claims", &o.producer, Some(notice(pid))).await;
    let room =
        h.ok("POST", "/v1/deal-rooms", &o.underwriter, Some(json!({ "submissionId": sid, "title": "Acme GL" }))).await;
    let hook = json!({ "url": "https://hooks.example.com/in", "eventTypes": ["policy.bound"] });
    let webhook = h.ok("POST", "/v1/webhooks", &o.admin, Some(hook)).await;
    let wid = webhook["id"].as_str().unwrap().to_owned();
    let delivery = h.ok("POST", &format!("/v1/webhooks/{wid}/test"), &o.admin, None).await;
    Ids {
        webhook: wid,
        delivery: delivery["id"].as_str().unwrap().to_owned(),
        room: room["id"].as_str().unwrap().to_owned(),
        submission: sid,
        quote: quote["id"].as_str().unwrap().to_owned(),
        policy: pid.to_owned(),
        agreement: agreements[0]["id"].as_str().unwrap().to_owned(),
        profile: profiles[0]["id"].as_str().unwrap().to_owned(),
        referral: referrals[0]["id"].as_str().unwrap().to_owned(),
        claim: claim["id"].as_str().unwrap().to_owned(),
        user: o.underwriter.user_id.to_string(),
    }
}

fn concrete(path: &str, ids: &Ids) -> String {
    let id = if path.starts_with("/v1/submissions/") {
        &ids.submission
    } else if path.starts_with("/v1/quotes/") {
        &ids.quote
    } else if path.starts_with("/v1/policies/") {
        &ids.policy
    } else if path.starts_with("/v1/da-agreements/") {
        &ids.agreement
    } else if path.starts_with("/v1/referrals/") {
        &ids.referral
    } else if path.starts_with("/v1/deal-rooms/") {
        &ids.room
    } else if path.starts_with("/v1/webhooks/") {
        &ids.webhook
    } else {
        &ids.claim
    };
    path.replace(":id", id)
        .replace(":userId", &ids.user)
        .replace(":profileId", &ids.profile)
        .replace(":annotationId", "0192f0c0-0000-7000-8000-0000000000a7")
        .replace(":month", "2026-11")
        .replace(":deliveryId", &ids.delivery)
}

/// A body that passes parsing for each route, so that what is tested is the org scoping.
fn body_for(path: &str, ids: &Ids) -> Option<Value> {
    Some(match path {
        p if p.ends_with("/bind") => json!({ "quoteId": ids.quote }),
        p if p.ends_with("/endorse") => {
            json!({ "effectiveDate": "2027-03-01", "description": "x", "changes": { "employeeCount": 40 } })
        }
        p if p.ends_with("/cancel") => json!({ "effectiveDate": "2027-03-01", "method": "pro_rata", "reason": "x" }),
        p if p.ends_with("/non-renew") => json!({ "reason": "x" }),
        p if p.ends_with("/policies/:id/payments") => {
            json!({ "installment": 1, "paymentId": "0192f0c0-0000-7000-8000-0000000000aa" })
        }
        "/v1/da-agreements/:id" => json!({ "status": "suspended" }),
        p if p.ends_with("/approve") || p.ends_with("/decline") => json!({ "reasonCode": "ok", "rationale": "x" }),
        p if p.ends_with("/assign") => json!({ "adjusterId": ids.user }),
        p if p.ends_with("/status") => json!({ "status": "open" }),
        p if p.ends_with("/reserve") => json!({ "reserveCents": 100, "reason": "x" }),
        p if p.ends_with("/claims/:id/payments") => json!({ "amountCents": 100 }),
        p if p.ends_with("/recoveries") => json!({ "kind": "subrogation", "amountCents": 100 }),
        "/v1/deal-rooms/:id" => json!({ "status": "closed" }),
        p if p.ends_with("/participants") => json!({ "userId": ids.user, "role": "actuary" }),
        p if p.ends_with("/live/messages") => json!({ "content": "x" }),
        p if p.ends_with("/live/annotations") => json!({ "targetType": "field", "targetId": "x", "content": "y" }),
        p if p.ends_with("/live/annotations/:annotationId") => json!({ "status": "resolved" }),
        "/v1/webhooks/:id" => json!({ "description": "x" }),
        "/v1/webhooks/:id/replay" => json!({ "from": "2026-01-01T00:00:00Z", "to": "2028-01-01T00:00:00Z" }),
        _ => return None,
    })
}

#[tokio::test]
async fn another_orgs_records_are_unreachable_on_every_route() {
    let h = harness();
    let ids = org_one_records(&h).await;
    let intruders = [
        caller(2, 1, Role::Admin).with_mfa(true),
        caller(2, 2, Role::Underwriter),
        caller(2, 3, Role::ClaimsSupervisor),
    ];
    let mut checked = 0;
    for route in ROUTES.iter().filter(|r| r.path.contains(':')) {
        let path = concrete(route.path, &ids);
        for intruder in &intruders {
            let a = h.call(route.method, &path, intruder, body_for(route.path, &ids)).await;
            let expected = if route.public {
                [StatusCode::UPGRADE_REQUIRED; 2]
            } else {
                [StatusCode::NOT_FOUND, StatusCode::FORBIDDEN]
            };
            assert!(
                expected.contains(&a.status),
                "{} {path} as {}: {} {}",
                route.method,
                intruder.role,
                a.status,
                a.body
            );
        }
        checked += 1;
    }
    assert!(checked >= 44, "{checked} routes with ids");
    assert_eq!(h.gateway.calls.load(std::sync::atomic::Ordering::SeqCst), 0, "no intruder reached a live room");
    // lists show none of org 1's records
    for route in ROUTES.iter().filter(|r| r.method == "GET" && !r.path.contains(':') && !r.public) {
        for intruder in &intruders {
            let a = h.call("GET", route.path, intruder, None).await;
            if a.status.is_success() {
                let text = a.body.to_string();
                for id in [
                    &ids.submission,
                    &ids.policy,
                    &ids.claim,
                    &ids.agreement,
                    &ids.referral,
                    &ids.profile,
                    &ids.room,
                    &ids.webhook,
                    &ids.delivery,
                ] {
                    assert!(!text.contains(id.as_str()), "{} leaks {id}", route.path);
                }
            }
        }
    }
    // nothing changed for org 1
    let o = caller(1, 1, Role::Admin);
    let policy = h.ok("GET", &format!("/v1/policies/{}", ids.policy), &o, None).await;
    assert_eq!(policy["status"], "bound");
    let agreement = h.ok("GET", &format!("/v1/da-agreements/{}", ids.agreement), &o, None).await;
    assert_eq!(agreement["status"], "active");
    let room = h.ok("GET", &format!("/v1/deal-rooms/{}", ids.room), &o, None).await;
    let hook = h.ok("GET", &format!("/v1/webhooks/{}", ids.webhook), &o, None).await;
    assert_eq!((hook["enabled"].as_bool(), hook["description"].as_str()), (Some(true), Some("")));
    let log = h.ok("GET", &format!("/v1/webhooks/{}/deliveries", ids.webhook), &o, None).await;
    assert_eq!(log.as_array().unwrap().len(), 1, "no delivery replayed, none added");
    assert_eq!((room["status"].as_str(), room["participants"].as_array().unwrap().len()), (Some("active"), 1));
}

#[tokio::test]
async fn cross_org_roles_act_for_another_org_and_no_one_else_does() {
    let h = harness();
    let ids = org_one_records(&h).await;
    let path = format!("/v1/submissions/{}", ids.submission);
    let org_one = "00000000-0000-0000-0000-000000000001";
    let superadmin = caller(9, 1, Role::Superadmin);
    let operator = caller(9, 2, Role::PlatformOperator);
    for c in [&superadmin, &operator] {
        let token = h.token(c);
        let bearer = format!("Bearer {token}");
        let a = h.raw("GET", &path, None, Bytes::new(), &[("authorization", &bearer), ("x-org-id", org_one)]).await;
        assert_eq!(a.status, StatusCode::OK, "{} {}", c.role, a.body);
        assert_eq!(a.data()["id"].as_str(), Some(ids.submission.as_str()));
        let a = h.raw("GET", &path, None, Bytes::new(), &[("authorization", &bearer)]).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "without the header, its own org");
    }
    for role in Role::ALL.into_iter().filter(|r| !r.is_cross_org()) {
        let c = caller(2, 1, role);
        let bearer = format!("Bearer {}", h.token(&c));
        let a = h.raw("GET", &path, None, Bytes::new(), &[("authorization", &bearer), ("x-org-id", org_one)]).await;
        assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "cross_org_forbidden"), "{role}");
    }
    let bearer = format!("Bearer {}", h.token(&superadmin));
    let a = h.raw("GET", &path, None, Bytes::new(), &[("authorization", &bearer), ("x-org-id", "nope")]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn idempotency_keys_replay_and_refuse_other_bodies() {
    let h = harness();
    let o = org(&h.w, 1).await;
    let body = Bytes::from(serde_json::to_vec(&acme()).unwrap());
    let post = |key: &'static str, body: Bytes, who: Caller| {
        let h = &h;
        async move { h.raw("POST", "/v1/submissions", Some(&who), body, &[("idempotency-key", key)]).await }
    };
    let first = post("k-1", body.clone(), o.producer).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let retry = post("k-1", body.clone(), o.producer).await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(retry.body, first.body, "the first response, again");
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    let list = h.ok("GET", "/v1/submissions", &o.producer, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "no second effect");

    let mut other = acme();
    other["insuredName"] = json!("Someone Else LLC");
    let reused = post("k-1", Bytes::from(serde_json::to_vec(&other).unwrap()), o.producer).await;
    assert_eq!((reused.status, reused.code()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"));

    // the same key from another user is another key
    let theirs = post("k-1", body.clone(), o.underwriter).await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert_ne!(theirs.data()["id"], first.data()["id"]);

    // a refused first request is replayed as refused
    let bad = Bytes::from_static(br#"{"insuredName": 5}"#);
    let a = post("k-2", bad.clone(), o.producer).await;
    let b = post("k-2", bad, o.producer).await;
    assert_eq!((a.status, b.status), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
    assert_eq!(a.body["error"]["fields"], b.body["error"]["fields"]);

    // a bind retried with its key binds once and answers the same
    let sid = first.data()["id"].as_str().unwrap().to_owned();
    h.ok("POST", &format!("/v1/submissions/{sid}/quote"), &o.producer, None).await;
    let bind_path = format!("/v1/submissions/{sid}/bind");
    let b1 = h.raw("POST", &bind_path, Some(&o.underwriter), Bytes::new(), &[("idempotency-key", "bind-1")]).await;
    let b2 = h.raw("POST", &bind_path, Some(&o.underwriter), Bytes::new(), &[("idempotency-key", "bind-1")]).await;
    assert_eq!((b1.status, b2.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(b1.body, b2.body);
    let policies = h.ok("GET", "/v1/policies", &o.admin, None).await;
    assert_eq!(policies.as_array().unwrap().len(), 1);

    // a malformed key is refused, naming the header
    let long = "k".repeat(300);
    let a = h.raw("POST", "/v1/submissions", Some(&o.producer), body, &[("idempotency-key", &long)]).await;
    assert_eq!(a.body["error"]["fields"][0]["path"], "Idempotency-Key");
}

#[tokio::test]
async fn lists_paginate_with_limit_and_offset() {
    let h = harness();
    let p = caller(1, 2, Role::Producer);
    for i in 0..5 {
        let mut s = acme();
        s["insuredName"] = json!(format!("Insured {i}"));
        h.ok("POST", "/v1/submissions", &p, Some(s)).await;
    }
    let a = h.call("GET", "/v1/submissions?limit=2&offset=2", &p, None).await;
    assert_eq!(a.data().as_array().unwrap().len(), 2);
    assert_eq!(a.body["page"], json!({ "limit": 2, "offset": 2, "count": 2 }));
    let all = h.call("GET", "/v1/submissions", &p, None).await;
    assert_eq!(all.body["page"]["limit"], 50);
    let names: Vec<&str> = all.data().as_array().unwrap().iter().map(|s| s["insuredName"].as_str().unwrap()).collect();
    let page: Vec<&str> = a.data().as_array().unwrap().iter().map(|s| s["insuredName"].as_str().unwrap()).collect();
    assert_eq!(page, names[2..4]);
    let a = h.call("GET", "/v1/submissions?limit=0", &p, None).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = h.call("GET", "/v1/submissions?limit=200&offset=100", &p, None).await;
    assert_eq!(a.body["page"]["count"], 0);
}

/// Live rooms are a host capability: an API whose app has no room gateway neither serves nor
/// documents the `/live/` routes (404 `route_not_found`, never a 500 for a missing port), and
/// serves every other route.
#[tokio::test]
async fn without_a_live_room_host_the_live_routes_are_not_served() {
    let w = world();
    let keys = TokenKeys::new("test", SECRET).unwrap();
    let api = Api::new(w.app.clone(), keys.clone(), Arc::new(openinsure_memory::MemoryIdempotency::default()));
    let doc: Value = {
        let r = api.handle(http::Request::get("/openapi.json").body(Bytes::new()).unwrap(), None).await;
        serde_json::from_slice(r.body()).unwrap()
    };
    let service = caller(1, 9, Role::Superadmin);
    let token = format!("Bearer {}", keys.issue(&service, w.clock.now()).unwrap());
    let room = "0192f0c0-0000-7000-8000-00000000beef";
    let mut live = 0;
    for route in ROUTES {
        let documented =
            route.path.split('/').map(|s| s.strip_prefix(':').map_or(s.to_owned(), |n| format!("{{{n}}}")));
        let documented = &doc["paths"][documented.collect::<Vec<_>>().join("/")][route.method.to_ascii_lowercase()];
        assert_eq!(documented.is_object(), !route.op.needs_live_rooms(), "{} {}", route.method, route.path);
        if route.op.needs_live_rooms() {
            live += 1;
            let path = route.path.replace(":id", room).replace(":annotationId", room);
            let request = http::Request::builder()
                .method(route.method)
                .uri(path)
                .header("authorization", &token)
                .header("content-type", "application/json")
                .body(Bytes::from_static(b"{}"))
                .unwrap();
            let r = api.handle(request, None).await;
            let body: Value = serde_json::from_slice(r.body()).unwrap();
            assert_eq!((r.status(), body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("route_not_found")));
        }
    }
    assert_eq!(live, 6);
}

#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let h = harness();
    let a = h.raw("GET", "/openapi.json", None, Bytes::new(), &[]).await;
    assert_eq!(a.status, StatusCode::OK, "public");
    let doc = &a.body;
    assert_eq!(doc["openapi"], "3.1.0");
    for route in ROUTES {
        let path = route
            .path
            .split('/')
            .map(|s| s.strip_prefix(':').map_or(s.to_owned(), |n| format!("{{{n}}}")))
            .collect::<Vec<_>>()
            .join("/");
        let op = &doc["paths"][&path][route.method.to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} missing from the document", route.method, route.path);
        assert_eq!(op["operationId"], route.operation_id);
    }
    // the routes the issue names are all served (and so documented)
    let named = [
        ("POST", "/v1/submissions"),
        ("GET", "/v1/submissions/{id}"),
        ("POST", "/v1/submissions/{id}/quote"),
        ("POST", "/v1/submissions/{id}/bind"),
        ("GET", "/v1/policies/{id}"),
        ("POST", "/v1/policies/{id}/issue"),
        ("POST", "/v1/policies/{id}/endorse"),
        ("POST", "/v1/policies/{id}/cancel"),
        ("POST", "/v1/policies/{id}/reinstate"),
        ("GET", "/v1/da-agreements"),
        ("POST", "/v1/da-agreements"),
        ("GET", "/v1/authority/profiles"),
        ("POST", "/v1/authority/assignments"),
        ("GET", "/v1/referrals"),
        ("POST", "/v1/referrals/{id}/approve"),
        ("POST", "/v1/referrals/{id}/decline"),
        ("POST", "/v1/claims"),
        ("GET", "/v1/claims/{id}"),
        ("POST", "/v1/claims/{id}/reserve"),
        ("POST", "/v1/claims/{id}/payments"),
        ("GET", "/v1/ledger/balances"),
        ("GET", "/v1/ledger/trial-balance"),
        ("GET", "/v1/ledger/journal"),
    ];
    for (method, path) in named {
        assert!(doc["paths"][path][method.to_ascii_lowercase()].is_object(), "{method} {path}");
    }
    // every schema reference resolves
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref {name}");
    }
    assert!(doc["components"]["schemas"]["Policy"]["properties"]["annualPremiumCents"].is_object());
}

#[tokio::test]
async fn request_ids_are_kept_or_made() {
    let h = harness();
    let p = caller(1, 2, Role::Producer);
    let bearer = format!("Bearer {}", h.token(&p));
    let a = h
        .raw("GET", "/v1/submissions", None, Bytes::new(), &[("authorization", &bearer), ("x-request-id", "trace-42")])
        .await;
    assert_eq!(a.headers["x-request-id"], "trace-42");
    let a = h.raw("GET", "/v1/submissions", None, Bytes::new(), &[("x-request-id", "bad id with spaces")]).await;
    let made = a.headers["x-request-id"].to_str().unwrap();
    assert_ne!(made, "bad id with spaces");
    assert_eq!(a.body["error"]["requestId"], made);
}

/// The hostile and careless inputs of the hardening review: each refused with the field named,
/// nothing written.
#[tokio::test]
async fn input_hygiene_on_every_kind_of_body() {
    let h = harness();
    let o = org(&h.w, 1).await;
    let admin = caller(1, 1, Role::Admin);
    let finance = caller(1, 24, Role::FinanceAnalyst);
    let raw = |method: &'static str, path: String, who: Caller, body: &'static str| {
        let h = &h;
        async move { h.raw(method, &path, Some(&who), Bytes::from_static(body.as_bytes()), &[]).await }
    };

    // unknown fields: a limit one letter short, an exclusion misnamed
    let agreements_before = h.ok("GET", "/v1/da-agreements", &admin, None).await.as_array().unwrap().len();
    for (name, value) in [("quarterlyPremiumLimitCent", json!(1000)), ("excludedState", json!(["CA"]))] {
        let mut a = agreement_json();
        a[name] = value;
        let r = h.call("POST", "/v1/da-agreements", &admin, Some(a)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert!(r.body["error"]["fields"][0]["reason"].as_str().unwrap().contains("unknown field"), "{}", r.body);
    }
    // a field the server sets is named as such
    for (name, value) in [("orgId", json!("0192f0c0-0000-7000-8000-000000000009")), ("revision", json!(7))] {
        let mut a = agreement_json();
        a[name] = value;
        let r = h.call("POST", "/v1/da-agreements", &admin, Some(a)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.body["error"]["fields"][0], json!({ "path": name, "reason": "is set by the server" }));
    }
    assert_eq!(h.ok("GET", "/v1/da-agreements", &admin, None).await.as_array().unwrap().len(), agreements_before);

    // duplicate keys, everywhere
    let sub = h.ok("POST", "/v1/submissions", &o.producer, Some(acme())).await;
    let sid = sub["id"].as_str().unwrap().to_owned();
    let mut text = serde_json::to_string(&acme()).unwrap();
    text.insert_str(1, r#""insuredName": "Someone Else", "#);
    let r = h.raw("POST", "/v1/submissions", Some(&o.producer), Bytes::from(text), &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "duplicate_key"), "{}", r.body);
    assert_eq!(r.body["error"]["fields"][0]["path"], "insuredName");
    h.ok("POST", &format!("/v1/submissions/{sid}/quote"), &o.underwriter, None).await;
    let r = raw(
        "POST",
        format!("/v1/submissions/{sid}/bind"),
        o.underwriter,
        r#"{"billingPlan": "quarterly", "billingPlan": "paid_in_full"}"#,
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "duplicate_key"), "{}", r.body);

    // the wrong JSON type is never a default: an array body, an array for an object
    let r = raw("POST", format!("/v1/submissions/{sid}/bind"), o.underwriter, "[]").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["fields"][0]["path"], "$");
    let r = raw("POST", format!("/v1/submissions/{sid}/bind"), o.underwriter, r#"{"installmentFees": []}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["fields"][0]["path"], "installmentFees");

    let policy = h
        .ok("POST", &format!("/v1/submissions/{sid}/bind"), &o.underwriter, Some(json!({ "billingPlan": "quarterly" })))
        .await;
    let pid = policy["id"].as_str().unwrap().to_owned();

    // text: control characters, ESC sequences, a million characters, blank
    let long = "x".repeat(1_000_000);
    for reason in ["bad\u{0}byte", "\u{1b}[2J\u{1b}[31mred", long.as_str(), "   "] {
        let body = json!({ "effectiveDate": "2027-03-01", "method": "pro_rata", "reason": reason });
        let r = h.call("POST", &format!("/v1/policies/{pid}/cancel"), &admin, Some(body)).await;
        assert!(r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    }
    let body = json!({ "effectiveDate": "2027-03-01", "method": "pro_rata", "reason": "bad\u{0}byte" });
    let r = h.call("POST", &format!("/v1/policies/{pid}/cancel"), &admin, Some(body)).await;
    assert_eq!(r.body["error"]["fields"][0]["path"], "reason", "{}", r.body);
    let mut s = acme();
    s["insuredName"] = json!("Acme\u{1b}[31m");
    s["businessDescription"] = json!("line one\nline two\tand a tab");
    let r = h.call("POST", "/v1/submissions", &o.producer, Some(s)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> =
        r.body["error"]["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(fields, ["insuredName"], "multi-line text keeps its newlines and tabs");

    // dates inside a sane window
    for (field, date) in
        [("effectiveDate", "9999-01-01"), ("effectiveDate", "+12026-08-01"), ("effectiveDate", "0001-01-01")]
    {
        let mut s = acme();
        s[field] = json!(date);
        let r = h.call("POST", "/v1/submissions", &o.producer, Some(s)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{date}");
        assert_eq!(r.body["error"]["fields"][0]["path"], field, "{date}: {}", r.body);
    }
    h.w.clock.set(chrono::DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z").unwrap().to_utc());
    for dob in ["0001-01-01", "9999-12-31", "+12026-08-01"] {
        let mut n = notice(&pid);
        n["claimantDob"] = json!(dob);
        let r = h.call("POST", "/v1/claims", &o.producer, Some(n)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{dob}: {}", r.body);
        assert_eq!(r.body["error"]["fields"][0]["path"], "claimantDob", "{dob}: {}", r.body);
    }

    // two Authorization headers are refused, not resolved by taking one
    let token = h.token(&o.producer);
    let r = h
        .raw(
            "GET",
            "/v1/submissions",
            None,
            Bytes::new(),
            &[("authorization", &format!("Bearer {token}")), ("authorization", "Bearer forged")],
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "duplicate_header"));

    // customer data is never cached
    let claim = h.ok("POST", "/v1/claims", &o.producer, Some(notice(&pid))).await;
    let r = h.call("GET", &format!("/v1/claims/{}", claim["id"].as_str().unwrap()), &admin, None).await;
    assert_eq!(r.headers["cache-control"], "no-store");

    // a money id reused for other money: 409, the id named
    let pay = "0192f0c0-0000-7000-8000-00000000e001";
    h.ok(
        "POST",
        &format!("/v1/policies/{pid}/payments"),
        &finance,
        Some(json!({ "installment": 2, "paymentId": pay })),
    )
    .await;
    let r = h
        .call(
            "POST",
            &format!("/v1/policies/{pid}/payments"),
            &finance,
            Some(json!({ "installment": 3, "paymentId": pay })),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "money_id_reused"), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains(pay));
}

#[tokio::test]
async fn an_idempotency_key_compares_the_json_meaning_of_the_body() {
    let h = harness();
    let o = org(&h.w, 1).await;
    let compact = serde_json::to_string(&acme()).unwrap();
    let pretty = serde_json::to_string_pretty(&acme()).unwrap();
    let key = [("idempotency-key", "submit-once")];
    let first = h.raw("POST", "/v1/submissions", Some(&o.producer), Bytes::from(compact), &key).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = h.raw("POST", "/v1/submissions", Some(&o.producer), Bytes::from(pretty), &key).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    let mut other = acme();
    other["insuredName"] = json!("Someone Else");
    let r = h.raw("POST", "/v1/submissions", Some(&o.producer), Bytes::from(other.to_string()), &key).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Every route names its action, and the one permission table decides: a role the table refuses
/// gets 403 on every route of that action; a role it allows is never refused for its role.
#[tokio::test]
async fn every_route_follows_the_permission_table() {
    use openinsure_core::permission::allows;
    let h = harness();
    let _ = org(&h.w, 1).await;
    let id = "0192f0c0-0000-7000-8000-00000000beef";
    for route in ROUTES.iter().filter(|r| !r.public) {
        let action = route.action.expect("every token-protected route names its action");
        let path: String = route
            .path
            .split('/')
            .map(|seg| match seg {
                ":account" => "MGA_FIDUCIARY",
                s if s.starts_with(':') => id,
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/");
        let body = if route.request.is_some() { Some(json!({})) } else { None };
        for role in Role::ALL {
            let r = h.call(route.method, &path, &caller(1, 60, role), body.clone()).await;
            let refused_for_role = r.status == StatusCode::FORBIDDEN
                && r.body["error"]["message"].as_str().unwrap_or("").contains(action.describe());
            assert_eq!(
                refused_for_role,
                !allows(role, action),
                "{} {} as {role}: {} {}",
                route.method,
                route.path,
                r.status,
                r.body
            );
        }
    }
}

#[tokio::test]
async fn bordereaux_come_as_json_and_as_csv() {
    let h = harness();
    let ids = org_one_records(&h).await;
    let finance = caller(1, 7, Role::FinanceAnalyst);
    let path = format!("/v1/da-agreements/{}/bordereaux/2026-11", ids.agreement);
    let json = h.ok("GET", &path, &finance, None).await;
    assert!(json["risk"].as_array().unwrap().iter().any(|r| r["transaction"] == "new_business"), "{json}");
    let csv = h.call("GET", &format!("{path}/risk.csv"), &finance, None).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let text = csv.body.as_str().unwrap();
    assert!(text.starts_with("Transaction Type,Certificate Reference,"), "{text}");
    assert_eq!(text.lines().count(), json["risk"].as_array().unwrap().len() + 1);
    let claims = h.call("GET", &format!("{path}/claims.csv"), &finance, None).await;
    assert!(claims.body.as_str().unwrap().starts_with("Claim Reference,"));
    let bad = h
        .call("GET", &format!("/v1/da-agreements/{}/bordereaux/2026-13/risk.csv", ids.agreement), &finance, None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // the document says what comes back
    let doc = h.raw("GET", "/openapi.json", None, Bytes::new(), &[]).await.body;
    let op = &doc["paths"]["/v1/da-agreements/{id}/bordereaux/{month}/risk.csv"]["get"];
    assert!(op["responses"]["200"]["content"]["text/csv"].is_object(), "{op}");
}

#[tokio::test]
async fn notification_routes_name_their_bad_input() {
    let h = harness();
    let me = caller(1, 2, Role::Producer);
    let a = h.call("GET", "/v1/notifications?unread=maybe", &me, None).await;
    assert_eq!((a.status, a.body["error"]["fields"][0]["path"].as_str()), (StatusCode::BAD_REQUEST, Some("unread")));
    let a = h.call("PUT", "/v1/notification-settings", &me, Some(json!({ "email": "two@@at.example" }))).await;
    assert_eq!((a.status, a.body["error"]["fields"][0]["path"].as_str()), (StatusCode::BAD_REQUEST, Some("email")));
    let a = h.call("PUT", "/v1/notification-settings", &me, Some(json!({ "address": "a@b.example" }))).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "an unknown field: {}", a.body);
    assert_eq!(h.ok("GET", "/v1/notification-settings", &me, None).await["email"], Value::Null, "nothing was set");
    let set = h.ok("PUT", "/v1/notification-settings", &me, Some(json!({ "email": "me@example.com" }))).await;
    assert_eq!(set["email"], "me@example.com");
    let a = h.call("GET", "/v1/notifications", &caller(1, 3, Role::System), None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "a machine has no queue");
}
