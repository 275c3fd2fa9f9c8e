//! The events' contract, as the OpenAPI document publishes it (`webhooks`, and a schema per
//! event type): every event type is there, every one carries the envelope (id, org, type, schema
//! version, time), and no field of any event's payload is PHI or looks like it. And at run time:
//! the events of a claim filed with PHI hold none of its values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use std::collections::BTreeSet;

use common::{caller, org, world};
use openinsure::api::Api;
use openinsure_core::store::{Outbox, Page};
use openinsure_core::tenancy::Role;
use openinsure_hipaa::{Registry, looks_like_phi};
use serde_json::{Value, json};

fn document() -> Value {
    let w = world();
    let keys = openinsure_auth::TokenKeys::new("k", b"event contract tests: 32+ bytes!").unwrap();
    let api = Api::new(w.app.clone(), keys, std::sync::Arc::new(openinsure_memory::MemoryIdempotency::default()));
    serde_json::from_slice(api.openapi_json()).unwrap()
}

/// Every property name under `schema`, following `$ref`s into the components.
fn property_names(doc: &Value, schema: &Value, seen: &mut BTreeSet<String>, names: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                let name = r.trim_start_matches("#/components/schemas/").to_owned();
                if seen.insert(name.clone()) {
                    property_names(doc, &doc["components"]["schemas"][&name], seen, names);
                }
            }
            if let Some(Value::Object(props)) = map.get("properties") {
                names.extend(props.keys().cloned());
            }
            for v in map.values() {
                property_names(doc, v, seen, names);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| property_names(doc, v, seen, names)),
        _ => {}
    }
}

#[test]
fn every_event_type_is_documented_with_its_envelope_and_no_phi_field() {
    let doc = document();
    let webhooks = doc["webhooks"].as_object().expect("webhooks");
    let declared = doc["components"]["schemas"]["EventEnvelope"]["oneOf"].as_array().unwrap().len();
    assert_eq!(webhooks.len(), declared, "one entry per event type");
    assert!(webhooks.len() >= 21, "{}", webhooks.len());
    for name in
        ["policy.bound", "policy.cancelled", "payment.received", "claim.filed", "claim.transaction", "referral.created"]
    {
        assert!(webhooks.contains_key(name), "{name} is documented");
    }
    let registry = Registry::platform();
    let phi_keys: BTreeSet<&str> = registry.tables().flat_map(|t| registry.keys(t)).collect();
    assert!(phi_keys.contains("claimantName") && phi_keys.contains("claimant_ssn"), "{phi_keys:?}");
    for (name, hook) in webhooks {
        let reference = hook["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str().unwrap();
        let component = reference.trim_start_matches("#/components/schemas/");
        assert_eq!(component, format!("event.{name}"));
        let schema = &doc["components"]["schemas"][component];
        let parts = schema["allOf"].as_array().unwrap();
        let mut required: BTreeSet<&str> = BTreeSet::new();
        for part in parts {
            required.extend(part["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()));
        }
        for field in ["id", "orgId", "occurredAt", "schemaVersion", "type", "data"] {
            assert!(required.contains(field), "{name}: `{field}` is required");
        }
        assert_eq!(parts[1]["properties"]["type"]["const"], json!(name));
        let mut names = BTreeSet::new();
        property_names(&doc, schema, &mut BTreeSet::new(), &mut names);
        for field in &names {
            assert!(!looks_like_phi(field), "{name}: the field `{field}` looks like PHI");
            assert!(!phi_keys.contains(field.as_str()), "{name}: the field `{field}` is a registered PHI field");
        }
    }
}

#[tokio::test]
async fn the_events_of_a_claim_filed_with_phi_hold_none_of_it() {
    let w = world();
    let o = org(&w, 1).await;
    let mut input = common::acme();
    input["effectiveDate"] = json!("2026-11-22"); // the world's today, so a loss today is covered
    let sub = w.app.submit(&o.producer, &common::typed(&input)).await.unwrap();
    w.app.quote(&o.underwriter, sub.id, &openinsure_core::quote::Schedule::none()).await.unwrap();
    let request = openinsure::bind::BindRequest {
        down_payment_id: Some(uuid::Uuid::from_u128(0xd0)),
        ..openinsure::bind::BindRequest::default()
    };
    let policy = w.app.bind_submission(&o.underwriter, sub.id, &request).await.unwrap();
    let supervisor = caller(1, 9, Role::ClaimsSupervisor);
    let phi = ["Jane Roe", "1984-06-02", "123-45-6789", "S52.501A", "closed reduction, cast", "jane@example.com"];
    let notice = json!({
        "policyId": policy.id, "dateOfLoss": "2026-11-22", "lossDescription": "fell from a loading dock",
        "claimantName": phi[0], "claimantDob": phi[1], "claimantSsn": phi[2], "diagnosisCodes": [phi[3]],
        "treatmentNotes": phi[4], "claimantEmail": phi[5],
    });
    let meta = openinsure::claims::RequestMeta::default();
    w.app.file_claim(&supervisor, common::typed(&notice), &meta).await.unwrap();
    let events = w.store.org_events(o.admin.org_id, Page { limit: 1000, offset: 0 }).await.unwrap();
    assert!(events.iter().any(|e| e.event.name() == "claim.filed"), "the claim's event is there");
    for event in &events {
        let text = serde_json::to_string(event).unwrap();
        for value in phi {
            assert!(!text.contains(value), "{}: holds `{value}`: {text}", event.event.name());
        }
    }
}
