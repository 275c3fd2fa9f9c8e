//! Tracing output of the HTTP API: every request's span carries its request id; no token and no
//! PHI ever reaches a log line. Its own test binary: tracing caches whether a call site is enabled
//! per process, and tests running beside it without a subscriber would race with the capture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use bytes::Bytes;
use common::{Captured, acme, caller, org, world};
use openinsure::api::Api;
use openinsure_auth::TokenKeys;
use openinsure_core::clock::Clock;
use openinsure_core::tenancy::Role;
use serde_json::{Value, json};

#[test]
fn logs_carry_request_ids_and_no_token_or_phi() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let mut tokens = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let w = world();
            let app = w.app.clone();
            let keys = TokenKeys::new("test", b"api log tests: 32 byte secret!!!").unwrap();
            let api = Api::new(app, keys.clone(), std::sync::Arc::new(openinsure_memory::MemoryIdempotency::default()));
            let o = org(&w, 1).await;
            let supervisor = caller(1, 20, Role::ClaimsSupervisor);
            let call = |method: &str, path: String, who: openinsure_core::tenancy::Caller, body: Value, id: &str| {
                let token = keys.issue(&who, w.clock.now()).unwrap();
                let req = http::Request::builder()
                    .method(method)
                    .uri(path)
                    .header("authorization", format!("Bearer {token}"))
                    .header("x-request-id", id)
                    .body(Bytes::from(serde_json::to_vec(&body).unwrap()))
                    .unwrap();
                (token, api.handle(req, None))
            };
            let (t, f) = call("POST", "/v1/submissions".into(), o.producer, acme(), "req-submit");
            tokens.push(t);
            let sub: Value = serde_json::from_slice(f.await.body()).unwrap();
            let sid = sub["data"]["id"].as_str().unwrap().to_owned();
            let (t, f) = call("POST", format!("/v1/submissions/{sid}/quote"), o.producer, json!({}), "req-quote");
            tokens.push(t);
            f.await;
            let (t, f) = call("POST", format!("/v1/submissions/{sid}/bind"), o.underwriter, json!({}), "req-bind");
            tokens.push(t);
            let policy: Value = serde_json::from_slice(f.await.body()).unwrap();
            w.clock.set(chrono::DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z").unwrap().to_utc());
            let notice = json!({
                "policyId": policy["data"]["id"], "dateOfLoss": "2027-02-14", "lossDescription": "fall",
                "claimantName": "Zebulon Quixote", "claimantSsn": "987-65-4321",
                "diagnosisCodes": ["M54.5"], "treatmentNotes": "unmistakable-treatment-note"
            });
            let (t, f) = call("POST", "/v1/claims".into(), o.producer, notice, "req-claim");
            tokens.push(t);
            let claim: Value = serde_json::from_slice(f.await.body()).unwrap();
            let cid = claim["data"]["id"].as_str().unwrap().to_owned();
            let (t, f) = call("GET", format!("/v1/claims/{cid}"), supervisor, Value::Null, "req-read");
            tokens.push(t);
            let read: Value = serde_json::from_slice(f.await.body()).unwrap();
            assert_eq!(read["data"]["claimantName"], "Zebulon Quixote");
            // a refused request: its body (with PHI) is not logged either
            let bad = json!({ "policyId": "nope", "claimantName": "Zebulon Quixote" });
            let (t, f) = call("POST", "/v1/claims".into(), o.producer, bad, "req-bad");
            tokens.push(t);
            assert_eq!(f.await.status(), 400);
        });
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for id in ["req-submit", "req-quote", "req-bind", "req-claim", "req-read", "req-bad"] {
        assert!(logs.contains(&format!("request_id={id}")), "span of {id} missing:\n{logs}");
    }
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!logs.contains(signature), "a token reached the log");
    }
    for phi in ["Zebulon", "Quixote", "987-65-4321", "M54.5", "unmistakable-treatment-note"] {
        assert!(!logs.contains(phi), "PHI `{phi}` reached the log:\n{logs}");
    }
    assert!(!logs.to_ascii_lowercase().contains("bearer"), "no authorization header in the log");
}
