//! What `#[derive(PhiRecord)]` generates: names, columns, kinds and the masking rule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs, dead_code)]

use std::collections::BTreeMap;

use openinsure_hipaa::{FieldKind, FieldSpec, PhiRecord, REDACTED, Registry};
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize, PhiRecord)]
#[serde(rename_all = "camelCase")]
#[phi(table = "claims")]
struct Claim {
    claim_number: String,
    #[phi]
    claimant_name: String,
    #[phi(column = "claimant_dob")]
    #[serde(rename = "dob")]
    born_on: Option<String>,
    #[phi]
    diagnosis_codes: Vec<String>,
    #[phi]
    #[serde(rename(serialize = "visits", deserialize = "visitCount"))]
    visit_count: u32,
    #[phi]
    attachments: BTreeMap<String, String>,
    #[phi]
    r#type: std::string::String,
    #[phi(cleared = "a review timestamp")]
    diagnosis_reviewed_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    adjuster_note_id: Option<u64>,
}

fn sample() -> Claim {
    Claim {
        claim_number: "WC-1".into(),
        claimant_name: "Jane Roe".into(),
        born_on: Some("1980-02-29".into()),
        diagnosis_codes: vec!["S52.5".into()],
        visit_count: 3,
        attachments: [("xray".to_owned(), "s3://phi/1".to_owned())].into(),
        r#type: "occupational".into(),
        diagnosis_reviewed_at: Some(7),
        adjuster_note_id: Some(9),
    }
}

#[test]
fn table_and_fields() {
    assert_eq!(Claim::TABLE, "claims");
    const { assert!(Claim::HAS_PHI) };
    let f = |rust, json, column, kind| FieldSpec::new(rust, json, column, kind);
    assert_eq!(
        Claim::FIELDS,
        [
            f("claim_number", "claimNumber", "claim_number", FieldKind::Plain),
            f("claimant_name", "claimantName", "claimant_name", FieldKind::Phi),
            f("born_on", "dob", "claimant_dob", FieldKind::Phi),
            f("diagnosis_codes", "diagnosisCodes", "diagnosis_codes", FieldKind::Phi),
            f("visit_count", "visits", "visit_count", FieldKind::Phi),
            f("attachments", "attachments", "attachments", FieldKind::Phi),
            f("type", "type", "type", FieldKind::Phi),
            f(
                "diagnosis_reviewed_at",
                "diagnosisReviewedAt",
                "diagnosis_reviewed_at",
                FieldKind::Cleared("a review timestamp")
            ),
            f("adjuster_note_id", "adjusterNoteId", "adjuster_note_id", FieldKind::Plain),
        ]
    );
    assert_eq!(Claim::phi_fields().count(), 6);
}

#[test]
fn json_names_match_what_serde_writes() {
    let json = serde_json::to_value(sample()).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    for field in Claim::FIELDS {
        assert!(keys.contains(&field.json_name), "{} not in {keys:?}", field.json_name);
    }
}

#[test]
fn redaction_rule() {
    let mut c = sample();
    c.redact_phi();
    assert_eq!(c.claimant_name, REDACTED, "a String becomes [REDACTED]");
    assert_eq!(c.r#type, REDACTED, "however the String type is spelled");
    assert_eq!(c.born_on, None, "an Option becomes None");
    assert!(c.diagnosis_codes.is_empty(), "anything else becomes its Default");
    assert_eq!(c.visit_count, 0);
    assert!(c.attachments.is_empty());
    let untouched = sample();
    assert_eq!(
        (c.claim_number, c.diagnosis_reviewed_at, c.adjuster_note_id),
        (untouched.claim_number, untouched.diagnosis_reviewed_at, untouched.adjuster_note_id),
        "non-PHI fields are untouched"
    );
}

#[derive(Serialize, PhiRecord)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
#[phi(table = "members")]
struct Generic<T: Default, const N: usize>
where
    T: Clone + Serialize,
{
    #[phi]
    ssn: T,
    #[serde(skip)]
    plan_codes: [u8; N],
}

#[derive(Serialize, PhiRecord)]
#[serde(rename_all(serialize = "PascalCase", deserialize = "snake_case"))]
#[phi(table = "notes")]
struct NoPhi {
    note_id: u64,
}

#[test]
fn generics_and_rename_rules() {
    assert_eq!(<Generic<String, 2>>::FIELDS[0].json_name, "SSN");
    assert_eq!(<Generic<String, 2>>::FIELDS[1].json_name, "PLAN-CODES");
    let mut g = Generic { ssn: 123_456_789u64, plan_codes: [1, 2] };
    g.redact_phi();
    assert_eq!((g.ssn, g.plan_codes), (0, [1, 2]));
    assert_eq!(NoPhi::FIELDS[0].json_name, "NoteId");
    const { assert!(!NoPhi::HAS_PHI) };
    assert_eq!(NoPhi::phi_fields().count(), 0);
}

#[test]
fn registry_from_types() {
    let mut r = Registry::of::<Claim>();
    r.register::<Generic<String, 1>>().register::<NoPhi>();
    assert!(r.contains("claims.claimant_dob"));
    assert_eq!(r.column_for_key("claims", "dob"), Some("claimant_dob"));
    assert_eq!(r.column_for_key("claims", "visits"), Some("visit_count"));
    assert!(r.contains("members.ssn"));
    assert!(!r.contains("claims.diagnosis_reviewed_at"), "cleared fields are not registered");
    assert!(!r.contains("claims.claim_number"));
    assert_eq!(r.tables().collect::<Vec<_>>(), ["claims", "members"]);
}
