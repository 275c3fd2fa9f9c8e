//! Tracing output of the claim flow holds no PHI. Its own test binary: tracing caches whether a
//! call site is enabled per process, and tests running beside it without a subscriber would race
//! with the capture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use common::{Captured, acme, caller, org, world};
use openinsure::bind::BindRequest;
use openinsure::claims::RequestMeta;
use openinsure_core::quote::Schedule;
use openinsure_core::tenancy::Role;
use serde_json::json;

fn meta() -> RequestMeta {
    RequestMeta { ip: Some("203.0.113.7".parse().unwrap()), user_agent: Some("claims-portal/1.0".into()) }
}

#[test]
fn logs_carry_no_phi() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let w = world();
            let app = w.app.clone();
            let o = org(&w, 1).await;
            let sub = app.submit(&o.producer, &common::typed(&acme())).await.unwrap();
            let q = app.quote(&o.underwriter, sub.id, &Schedule::none()).await.unwrap();
            let policy = app.bind(&o.underwriter, q.id, &BindRequest::default()).await.unwrap();
            w.clock.set(chrono::DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z").unwrap().to_utc());
            let supervisor = caller(1, 20, Role::ClaimsSupervisor);
            let notice = json!({
                "policyId": policy.id, "dateOfLoss": "2027-02-14", "lossDescription": "fall",
                "claimantName": "Zebulon Quixote", "claimantSsn": "987-65-4321",
                "diagnosisCodes": ["M54.5"], "treatmentNotes": "unmistakable-treatment-note"
            });
            let c = app.file_claim(&supervisor, common::typed(&notice), &meta()).await.unwrap();
            app.claim(&supervisor, c.id, &meta()).await.unwrap();
            app.claim(&o.producer, c.id, &meta()).await.unwrap();
        });
    });
    let out = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(out.contains("claim filed"), "the flow logged: {out}");
    for phi in ["Zebulon", "Quixote", "987-65-4321", "M54.5", "unmistakable-treatment-note"] {
        assert!(!out.contains(phi), "`{phi}` reached a log line:\n{out}");
    }
}
