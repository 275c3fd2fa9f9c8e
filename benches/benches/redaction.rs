//! Claim records per second through runtime PHI redaction (`decide`, then `redact` or
//! `redact_json`), for each role of the access matrix: a typed `Claim`, and a realistic claim
//! rendered as JSON with nested transactions and notes.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "benchmark setup")]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use openinsure_core::claims::Claim;
use openinsure_core::ids::ClaimId;
use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::tenancy::{Caller, Role};
use openinsure_core::testkit::sample_claim;
use openinsure_hipaa::{AccessContext, Registry, decide, redact, redact_json};
use serde_json::{Value, json};
use uuid::Uuid;

fn org() -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(1))
}

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

const ASSIGNED: u128 = 20;

/// (bench name, caller): every row of the matrix on a claim of the caller's org.
fn callers() -> Vec<(&'static str, Caller)> {
    vec![
        ("producer", Caller::new(user(10), org(), Role::Producer)),
        ("adjuster_assigned", Caller::new(user(ASSIGNED), org(), Role::Adjuster)),
        ("adjuster_not_assigned", Caller::new(user(11), org(), Role::Adjuster)),
        ("underwriter", Caller::new(user(12), org(), Role::Underwriter)),
        ("claims_supervisor", Caller::new(user(13), org(), Role::ClaimsSupervisor)),
        ("compliance_officer", Caller::new(user(14), org(), Role::ComplianceOfficer)),
        ("admin_mfa", Caller::new(user(15), org(), Role::Admin).with_mfa(true)),
        ("admin_no_mfa", Caller::new(user(16), org(), Role::Admin)),
    ]
}

fn claim() -> Claim {
    Claim {
        assigned_adjuster_id: Some(user(ASSIGNED)),
        claimant_name: "Jane Q. Roe".into(),
        claimant_phone: Some("+1 555 0100 4477".into()),
        claimant_email: Some("jane.roe@example.com".into()),
        claimant_address: Some("1 Main Street, Apt 4B, Springfield, IL 62701".into()),
        medical_record_number: Some("MRN-00482913".into()),
        diagnosis_codes: vec!["S52.501A".into(), "S62.101A".into(), "W01.0XXA".into()],
        procedure_codes: vec!["25600".into(), "29125".into(), "99283".into(), "73110".into()],
        treatment_notes: "Closed reduction of distal radius fracture; short arm splint applied; \
                          follow up with orthopedics in 7 days; no work with the right hand for 4 weeks."
            .into(),
        ..sample_claim(ClaimId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0042)), org())
    }
}

/// A workers' compensation claim as an API would render it: the claim's own fields (PHI among
/// them, some under their column names), a policy and an employer, 8 transactions (bills carry
/// procedure and diagnosis codes) and 6 notes (with treatment notes).
fn claim_json() -> Value {
    let transactions: Vec<Value> = (0..8)
        .map(|i| {
            json!({
                "transactionId": format!("0192a000-0000-7000-8000-{i:012}"),
                "kind": if i % 2 == 0 { "medical_bill" } else { "indemnity_payment" },
                "postedAt": format!("2026-11-{:02}T10:00:00Z", i + 1),
                "amountCents": 12_500 + i * 1_375,
                "currency": "USD",
                "payee": {"name": "Springfield Orthopedics", "npi": "1234567893", "taxId": "36-1234567"},
                "procedureCodes": ["25600", "29125"],
                "diagnosisCodes": ["S52.501A"],
                "lines": [
                    {"code": "25600", "units": 1, "billedCents": 9_800, "allowedCents": 7_350},
                    {"code": "29125", "units": 1, "billedCents": 2_700, "allowedCents": 2_025}
                ],
                "status": "paid"
            })
        })
        .collect();
    let notes: Vec<Value> = (0..6)
        .map(|i| {
            json!({
                "noteId": format!("0192b000-0000-7000-8000-{i:012}"),
                "authorId": "00000000-0000-0000-0000-000000000014",
                "createdAt": format!("2026-11-{:02}T16:30:00Z", i + 2),
                "category": if i % 3 == 0 { "medical" } else { "contact" },
                "subject": "Follow-up with treating physician",
                "treatmentNotes": "Patient reports pain 4/10; splint intact; cleared for light duty left hand only.",
                "tags": ["follow_up", "light_duty"],
                "attachments": [{"name": "visit-summary.pdf", "bytes": 48_213, "contentType": "application/pdf"}]
            })
        })
        .collect();
    json!({
        "claimId": "0192d000-0000-7000-8000-000000000042",
        "claimNumber": "WC-2026-000042",
        "orgId": "00000000-0000-0000-0000-000000000001",
        "policyNumber": "WC-POL-2026-1187",
        "lineOfBusiness": "workers_compensation",
        "status": "open",
        "lossDate": "2026-10-28",
        "reportedAt": "2026-10-29T08:12:00Z",
        "assignedAdjusterId": "00000000-0000-0000-0000-000000000020",
        "claimantName": "Jane Q. Roe",
        "claimant_dob": "1980-02-29",
        "claimantSsn": "078-05-1120",
        "claimantPhone": "+1 555 0100 4477",
        "claimantEmail": "jane.roe@example.com",
        "claimantAddress": {
            "line1": "1 Main Street", "line2": "Apt 4B", "city": "Springfield", "state": "IL", "postalCode": "62701"
        },
        "medicalRecordNumber": "MRN-00482913",
        "diagnosisCodes": ["S52.501A", "S62.101A", "W01.0XXA"],
        "procedureCodes": ["25600", "29125", "99283", "73110"],
        "treatmentNotes": "Closed reduction of distal radius fracture; short arm splint applied.",
        "diagnosisReviewedAt": "2026-11-20T15:04:00Z",
        "employer": {
            "name": "Acme Widgets LLC",
            "fein": "12-3456789",
            "location": {"line1": "400 Industrial Pkwy", "city": "Springfield", "state": "IL", "postalCode": "62703"}
        },
        "reserves": {"medicalCents": 1_850_000, "indemnityCents": 2_400_000, "expenseCents": 150_000},
        "transactions": transactions,
        "notes": notes
    })
}

fn bench(c: &mut Criterion) {
    let registry = Registry::platform();
    let context = AccessContext::claim(org(), Some(user(ASSIGNED)));
    let record = claim();
    let value = claim_json();

    // Sanity: the producer masks what it should, the assigned adjuster masks nothing.
    let producer = decide(&callers()[0].1, &context);
    let mut masked = value.clone();
    assert_eq!(redact_json(&registry, "claims", &producer, &mut masked).len(), 10);
    let adjuster = decide(&callers()[1].1, &context);
    assert!(redact_json(&registry, "claims", &adjuster, &mut value.clone()).is_empty());

    let mut g = c.benchmark_group("redaction");
    g.throughput(Throughput::Elements(1));
    for (name, caller) in callers() {
        g.bench_function(format!("typed/{name}"), |b| {
            b.iter_batched(
                || record.clone(),
                |mut r| {
                    let decision = decide(black_box(&caller), black_box(&context));
                    let columns = redact(&mut r, &decision);
                    (r, columns)
                },
                BatchSize::SmallInput,
            )
        });
        g.bench_function(format!("json/{name}"), |b| {
            b.iter_batched(
                || value.clone(),
                |mut v| {
                    let decision = decide(black_box(&caller), black_box(&context));
                    let columns = redact_json(black_box(&registry), "claims", &decision, &mut v);
                    (v, columns)
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
