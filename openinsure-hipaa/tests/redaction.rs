//! Property tests: for every role, no registered PHI value survives redaction when the access
//! matrix says the caller may not see it, in arbitrary nested JSON and in typed records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::{TimeZone, Utc};
use openinsure_core::claims::Claim;
use openinsure_core::ids::ClaimId;
use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::tenancy::{Caller, Role};
use openinsure_core::testkit::sample_claim;
use openinsure_hipaa::{
    AccessContext, AuditAction, Decision, REDACTED, Registry, decide, disclose, redact, redact_json,
};
use proptest::prelude::*;
use serde_json::{Map, Value};
use uuid::Uuid;

const ORG: u128 = 1;
const OTHER_ORG: u128 = 2;
const ME: u128 = 10;

fn registry() -> Registry {
    Registry::platform()
}

/// Keys: the claims table's PHI keys, near misses that are not PHI of `claims`, and random ones.
fn key() -> impl Strategy<Value = String> {
    let phi: Vec<String> = registry().keys("claims").into_iter().map(str::to_owned).collect();
    let near = ["claimNumber", "claimantNames", "ClaimantName", "claimant", "ssn", "healthConditions", "status", ""];
    prop_oneof![
        3 => proptest::sample::select(phi),
        2 => proptest::sample::select(near.map(str::to_owned).to_vec()),
        2 => "[a-zA-Z_]{1,12}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 128, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<
                String,
                Value,
            >>(
            ))),
        ]
    })
}

/// A caller and a claim context drawn from every role, MFA or not, assigned or not, own org or not.
fn decision() -> impl Strategy<Value = (Caller, AccessContext, Decision)> {
    (0..Role::ALL.len(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(r, mfa, assigned, same_org)| {
        let me = UserId::from_uuid(Uuid::from_u128(ME));
        let caller = Caller::new(me, OrgId::from_uuid(Uuid::from_u128(ORG)), Role::ALL[r]).with_mfa(mfa);
        let org = OrgId::from_uuid(Uuid::from_u128(if same_org { ORG } else { OTHER_ORG }));
        let adjuster = if assigned { me } else { UserId::from_uuid(Uuid::from_u128(ME + 1)) };
        let ctx = AccessContext::claim(org, Some(adjuster));
        let d = decide(&caller, &ctx);
        (caller, ctx, d)
    })
}

/// Every object key that is a PHI key of `claims` has the masked value, at any depth.
fn assert_no_phi(v: &Value, r: &Registry) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if r.column_for_key("claims", k).is_some() {
                    assert_eq!(child, &Value::String(REDACTED.to_owned()), "PHI under `{k}` survived");
                } else {
                    assert_no_phi(child, r);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| assert_no_phi(i, r)),
        _ => {}
    }
}

/// The original with only the PHI keys' values replaced: redaction touches nothing else.
fn expected(v: &Value, r: &Registry) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, c)| {
                    let c =
                        if r.column_for_key("claims", k).is_some() { Value::from(REDACTED) } else { expected(c, r) };
                    (k.clone(), c)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| expected(i, r)).collect()),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_phi_survives_in_json(original in json(), (_, _, d) in decision()) {
        let r = registry();
        let mut v = original.clone();
        let masked = redact_json(&r, "claims", &d, &mut v);
        if d.phi_visible() {
            prop_assert_eq!(&v, &original);
            prop_assert!(masked.is_empty());
        } else {
            assert_no_phi(&v, &r);
            prop_assert_eq!(&v, &expected(&original, &r));
            prop_assert!(masked.iter().all(|c| r.is_phi("claims", c)));
        }
    }

    #[test]
    fn no_phi_survives_in_typed_records(
        secret in "[A-Za-z0-9]{4,12}",
        codes in proptest::collection::vec("[A-Z][0-9]{2}\\.[0-9]", 0..4),
        (caller, ctx, d) in decision(),
    ) {
        let marker = |what: &str| format!("PHI-{what}-{secret}");
        let mut claim = Claim {
            assigned_adjuster_id: ctx.assigned_adjuster,
            claimant_name: marker("name"),
            claimant_dob: chrono::NaiveDate::from_ymd_opt(1980, 2, 29),
            claimant_ssn: Some(marker("ssn")),
            claimant_phone: Some(marker("phone")),
            claimant_email: Some(marker("email")),
            claimant_address: Some(marker("address")),
            medical_record_number: Some(marker("mrn")),
            diagnosis_codes: codes.iter().map(|c| marker(c)).collect(),
            procedure_codes: vec![marker("cpt")],
            treatment_notes: marker("notes"),
            ..sample_claim(ClaimId::from_uuid(Uuid::from_u128(99)), ctx.org_id)
        };
        let original = claim.clone();
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        let disclosure = disclose(&caller, &ctx, claim.id.as_uuid(), &mut claim, at);
        prop_assert_eq!(&disclosure.decision, &d);
        let rendered = serde_json::to_string(&claim).unwrap();
        if d.phi_visible() {
            prop_assert_eq!(&claim, &original);
            let audit = disclosure.audit.unwrap();
            prop_assert_eq!(audit.action, AuditAction::Read);
            prop_assert_eq!(audit.fields.len(), 10);
        } else {
            prop_assert!(!rendered.contains("PHI-"), "{}", rendered);
            prop_assert!(!rendered.contains("1980"), "{}", rendered);
            prop_assert_eq!((claim.id, claim.org_id), (original.id, original.org_id));
            match disclosure.audit {
                None => prop_assert!(d.is_denied()),
                Some(a) => {
                    prop_assert_eq!(a.action, AuditAction::Redact);
                    prop_assert_eq!(a.fields.len(), 10);
                }
            }
            // and redacting again is a no-op
            let once = claim.clone();
            redact(&mut claim, &d);
            prop_assert_eq!(claim, once);
        }
    }
}
