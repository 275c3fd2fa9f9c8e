//! Each input a client writes (`New*`) is its record minus the fields the server sets: the same
//! properties with the same schemas, the same required ones. The two are written apart, so this
//! keeps them from drifting.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use openinsure_core::underwriting::authority::{AuthorityProfile, NewAuthorityProfile, NewReferralRule, ReferralRule};
use openinsure_core::underwriting::da::{DaAgreement, NewDaAgreement};
use serde_json::Value;

fn schema<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap()
}

fn same_but<Input: schemars::JsonSchema, Record: schemars::JsonSchema>(server_set: &[&str]) {
    let (input, record) = (schema::<Input>(), schema::<Record>());
    let mut expected = record["properties"].as_object().unwrap().clone();
    for f in server_set {
        assert!(expected.remove(*f).is_some(), "the record has `{f}`");
    }
    assert_eq!(input["properties"].as_object().unwrap(), &expected, "properties");
    let required = |s: &Value| -> Vec<String> {
        let mut r: Vec<String> = s["required"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        r.retain(|f| !server_set.contains(&f.as_str()));
        r.sort();
        r
    };
    assert_eq!(required(&input), required(&record), "required");
    assert_eq!(input["additionalProperties"], Value::Bool(false), "unknown fields are refused");
}

#[test]
fn inputs_are_their_records_without_the_server_set_fields() {
    same_but::<NewDaAgreement, DaAgreement>(&["id", "orgId", "revision", "createdAt"]);
    same_but::<NewAuthorityProfile, AuthorityProfile>(&["id", "orgId"]);
    same_but::<NewReferralRule, ReferralRule>(&["id", "orgId"]);
}
