//! No PHI reaches a log line: a record logged through `for_log` shows its PHI masked, captured
//! from a real `tracing` subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use openinsure_core::claims::Claim;
use openinsure_core::ids::ClaimId;
use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::testkit::sample_claim;
use openinsure_hipaa::{REDACTED, for_log};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use uuid::Uuid;

/// A subscriber that writes every field of every event and span into a string.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

impl Capture {
    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

impl Visit for Capture {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut out = self.0.lock().unwrap();
        write!(out, "{}={value:?} ", field.name()).unwrap();
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        span.record(&mut self.clone());
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut self.clone());
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        event.record(&mut self.clone());
        self.0.lock().unwrap().push('\n');
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn claim() -> Claim {
    Claim {
        assigned_adjuster_id: Some(UserId::from_uuid(Uuid::from_u128(2))),
        ..sample_claim(ClaimId::from_uuid(Uuid::from_u128(42)), OrgId::from_uuid(Uuid::from_u128(1)))
    }
}

const PHI_VALUES: [&str; 10] = [
    "Jane Roe",
    "1980-02-29",
    "078-05-1120",
    "555 0100",
    "jane@example.com",
    "Main St",
    "MRN-778899",
    "S52.501A",
    "25600",
    "closed reduction",
];

#[test]
fn logged_records_carry_no_phi() {
    let capture = Capture::default();
    let c = claim();
    tracing::subscriber::with_default(capture.clone(), || {
        tracing::info!(claim = %for_log(&c), "claim loaded");
        tracing::warn!(claim = ?for_log(&c), "claim debug-logged");
        let span = tracing::info_span!("handle", claim = %for_log(&c));
        let _entered = span.enter();
    });
    let text = capture.text();
    assert_eq!(text.matches("claim loaded").count(), 1, "{text}");
    assert!(text.contains("00000000-0000-0000-0000-00000000002a"), "non-PHI fields are logged: {text}");
    assert!(text.contains(REDACTED), "{text}");
    for phi in PHI_VALUES {
        assert!(!text.contains(phi), "`{phi}` reached the log: {text}");
    }
}

#[test]
fn the_capture_would_see_a_leak() {
    // Control: the same capture does see PHI logged the unsafe way, so the test above means
    // something.
    let capture = Capture::default();
    let c = claim();
    tracing::subscriber::with_default(capture.clone(), || {
        tracing::info!(claim = ?c, "unsafe");
    });
    assert!(capture.text().contains("Jane Roe"));
}

#[test]
fn formatting_carries_no_phi() {
    let c = claim();
    for text in [format!("{}", for_log(&c)), format!("{:?}", for_log(&c)), for_log(&c).to_string()] {
        assert!(text.starts_with('{') && text.contains("\"id\":"), "{text}");
        for phi in PHI_VALUES {
            assert!(!text.contains(phi), "`{phi}` in {text}");
        }
    }
}
